-- Agents by mail: what a customer wrote with their rating, each message's
-- text for searching, and the daily digest each agent gets once a day.
ALTER TABLE surveys ADD COLUMN comment TEXT;

-- The readable text of each message (bounded), for #find and for showing
-- what was written without parsing the raw bytes again.
ALTER TABLE messages ADD COLUMN body TEXT;

CREATE TABLE agent_digests (
    agent   TEXT NOT NULL,
    day     TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (agent, day)
);

-- An agent's earlier mail, for learning their signature.
CREATE INDEX messages_from ON messages (from_email, direction, kind, received_at);
