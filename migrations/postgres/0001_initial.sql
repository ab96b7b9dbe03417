-- postdesk schema, PostgreSQL flavour. Timestamps are BIGINT milliseconds since
-- the Unix epoch (UTC) in both backends, so the same queries serve both.

-- Values the daemon generates once (the reply-token secret).
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- Ticket numbers: incremented under the row lock of the ingest transaction.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('ticket', 0);

CREATE TABLE tickets (
    number             BIGINT PRIMARY KEY,
    mailbox            TEXT NOT NULL,
    subject            TEXT NOT NULL,
    normalized_subject TEXT NOT NULL,
    status             TEXT NOT NULL,
    priority           TEXT NOT NULL,
    customer_email     TEXT,
    customer_name      TEXT,
    assignee           TEXT,
    language           TEXT NOT NULL,
    sla_policy         TEXT NOT NULL,
    follows            BIGINT REFERENCES tickets(number),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    last_customer_at   BIGINT,
    first_response_due BIGINT,
    first_response_at  BIGINT,
    resolved_at        BIGINT
);
CREATE INDEX tickets_status ON tickets (status, updated_at);
CREATE INDEX tickets_customer ON tickets (customer_email, normalized_subject);

-- Every message, in and out, with its raw bytes: the record of what was written.
CREATE TABLE messages (
    id          BIGSERIAL PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE,
    ticket      BIGINT REFERENCES tickets(number),
    mailbox     TEXT NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind        TEXT NOT NULL,
    from_email  TEXT,
    from_name   TEXT,
    subject     TEXT NOT NULL,
    in_reply_to TEXT,
    refs        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    flags       TEXT NOT NULL,
    size        BIGINT NOT NULL,
    raw         BYTEA NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket, received_at);

CREATE TABLE participants (
    ticket BIGINT NOT NULL REFERENCES tickets(number),
    email  TEXT NOT NULL,
    name   TEXT,
    role   TEXT NOT NULL,
    PRIMARY KEY (ticket, email)
);
CREATE INDEX participants_email ON participants (email);

-- The audit log: every change to a ticket, and every message stored without one.
CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    ticket     BIGINT,
    message_id TEXT,
    at         BIGINT NOT NULL,
    what       TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX events_ticket ON events (ticket, id);

-- Mail to send; the bytes are the 'out' row of messages with the same message_id.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    ticket          BIGINT REFERENCES tickets(number),
    mailbox         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE REFERENCES messages(message_id),
    in_reply_to     TEXT,
    env_from        TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    first_recipient TEXT NOT NULL,
    subject         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    claimed_by      TEXT,
    claimed_until   BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (first_recipient, kind, created_at);

-- IMAP position per mailbox.
CREATE TABLE mailbox_state (
    mailbox     TEXT PRIMARY KEY,
    uidvalidity BIGINT NOT NULL,
    last_uid    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Messages committed but not yet flagged/moved on the server (after_ingest).
CREATE TABLE imap_pending (
    mailbox     TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    uid         BIGINT NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
