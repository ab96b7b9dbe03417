-- Agents by mail: merged tickets and tickets marked as spam.
ALTER TABLE tickets ADD COLUMN merged_into BIGINT REFERENCES tickets(number);
ALTER TABLE tickets ADD COLUMN spam BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tickets_assignee ON tickets (assignee, status);
