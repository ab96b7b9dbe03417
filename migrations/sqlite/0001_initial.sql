-- postdesk schema, SQLite flavour. Timestamps are INTEGER milliseconds since
-- the Unix epoch (UTC) in both backends, so the same queries serve both.

-- Values the daemon generates once (the reply-token secret).
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- Ticket numbers: incremented under the row lock of the ingest transaction.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('ticket', 0);

CREATE TABLE tickets (
    number             INTEGER PRIMARY KEY,
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
    follows            INTEGER REFERENCES tickets(number),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    last_customer_at   INTEGER,
    first_response_due INTEGER,
    first_response_at  INTEGER,
    resolved_at        INTEGER
);
CREATE INDEX tickets_status ON tickets (status, updated_at);
CREATE INDEX tickets_customer ON tickets (customer_email, normalized_subject);

-- Every message, in and out, with its raw bytes: the record of what was written.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL UNIQUE,
    ticket      INTEGER REFERENCES tickets(number),
    mailbox     TEXT NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind        TEXT NOT NULL,
    from_email  TEXT,
    from_name   TEXT,
    subject     TEXT NOT NULL,
    in_reply_to TEXT,
    refs        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    flags       TEXT NOT NULL,
    size        INTEGER NOT NULL,
    raw         BLOB NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket, received_at);

CREATE TABLE participants (
    ticket INTEGER NOT NULL REFERENCES tickets(number),
    email  TEXT NOT NULL,
    name   TEXT,
    role   TEXT NOT NULL,
    PRIMARY KEY (ticket, email)
);
CREATE INDEX participants_email ON participants (email);

-- The audit log: every change to a ticket, and every message stored without one.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket     INTEGER,
    message_id TEXT,
    at         INTEGER NOT NULL,
    what       TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX events_ticket ON events (ticket, id);

-- Mail to send; the bytes are the 'out' row of messages with the same message_id.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket          INTEGER REFERENCES tickets(number),
    mailbox         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE REFERENCES messages(message_id),
    in_reply_to     TEXT,
    env_from        TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    first_recipient TEXT NOT NULL,
    subject         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    claimed_by      TEXT,
    claimed_until   INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (first_recipient, kind, created_at);

-- IMAP position per mailbox.
CREATE TABLE mailbox_state (
    mailbox     TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Messages committed but not yet flagged/moved on the server (after_ingest).
CREATE TABLE imap_pending (
    mailbox     TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
