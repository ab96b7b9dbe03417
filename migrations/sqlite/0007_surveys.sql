-- One satisfaction survey per ticket (the key makes it so), and the
-- customer's latest answer: last answer wins.
CREATE TABLE surveys (
    ticket     INTEGER PRIMARY KEY REFERENCES tickets(number),
    message_id TEXT NOT NULL,
    sent_at    INTEGER NOT NULL,
    rating     INTEGER,
    rated_at   INTEGER
);
