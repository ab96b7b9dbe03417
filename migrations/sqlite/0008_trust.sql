-- The trust boundary (DESIGN §12): senders marked as spam, notifications
-- held back by a limit, and the look-ups that bounces and limits make.

-- Senders an agent marked with #spam: their later mail is kind spam.
CREATE TABLE spam_senders (
    email     TEXT PRIMARY KEY,
    marked_by TEXT NOT NULL,
    ticket    INTEGER,
    marked_at INTEGER NOT NULL
);

-- Notifications a limit held back; they go out as one digest per recipient.
CREATE TABLE held_notices (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox    TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    ticket     INTEGER NOT NULL,
    message_id TEXT,
    event      TEXT NOT NULL,
    who        TEXT NOT NULL,
    reason     TEXT NOT NULL,
    held_at    INTEGER NOT NULL
);
CREATE INDEX held_notices_recipient ON held_notices (recipient, held_at);
CREATE INDEX held_notices_held_at ON held_notices (held_at);

-- A bounce finds the mail it returns by its signed envelope sender.
CREATE INDEX outbox_env_from ON outbox (env_from);
-- The mailbox-wide cap counts the last hour's automatic mail.
CREATE INDEX outbox_mailbox_created ON outbox (mailbox, created_at);
-- The per-ticket limit counts mail about a ticket to one recipient.
CREATE INDEX outbox_ticket_recipient ON outbox (ticket, first_recipient, created_at);
