-- The limit on a mailbox's automatic mail counts its outbox rows of the
-- last hour for every incoming message: with the kind in the index, the
-- count reads the index alone instead of each row.
DROP INDEX outbox_mailbox_created;
CREATE INDEX outbox_mailbox_created ON outbox (mailbox, created_at, kind);
