-- Threading by Outlook Thread-Index and by IDs seen in References; bounce
-- suppression; indexes for the rate limits on automatic mail.

ALTER TABLE messages ADD COLUMN thread_index TEXT;
CREATE INDEX messages_thread_index ON messages (thread_index);

-- Message-IDs named in In-Reply-To/References of stored mail, with the
-- ticket of the mail that named them: a thread that began outside (or whose
-- parent arrives late) still finds its ticket.
CREATE TABLE message_refs (
    message_id TEXT PRIMARY KEY,
    ticket     INTEGER NOT NULL REFERENCES tickets(number)
);

-- Addresses that bounced permanently: no automatic mail until `until`.
CREATE TABLE suppressions (
    address TEXT PRIMARY KEY,
    until   INTEGER NOT NULL,
    reason  TEXT NOT NULL,
    at      INTEGER NOT NULL
);

CREATE INDEX outbox_recipient_time ON outbox (first_recipient, created_at);
CREATE INDEX outbox_ticket_time ON outbox (ticket, created_at);
