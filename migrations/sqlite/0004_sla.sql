-- SLA clocks, the notices scheduled for them, and the notices sent.

CREATE TABLE sla_clocks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket        INTEGER NOT NULL REFERENCES tickets(number),
    target        TEXT NOT NULL,
    -- 1 for first_response and resolution; next_response counts its rounds.
    cycle         INTEGER NOT NULL,
    policy        TEXT NOT NULL,
    budget_ms     INTEGER NOT NULL,
    consumed_ms   INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    running_since INTEGER,
    due_at        INTEGER,
    state         TEXT NOT NULL,
    stopped_at    INTEGER,
    UNIQUE (ticket, target, cycle)
);
CREATE INDEX sla_clocks_ticket ON sla_clocks (ticket, target, cycle);
CREATE INDEX sla_clocks_state ON sla_clocks (state);

-- The next notices of running clocks; the scheduler reads only what is due.
CREATE TABLE sla_schedule (
    clock  INTEGER NOT NULL REFERENCES sla_clocks(id),
    notice TEXT NOT NULL,
    level  INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    PRIMARY KEY (clock, notice, level)
);
CREATE INDEX sla_schedule_due ON sla_schedule (due_at);

-- Each notice goes once to each recipient: the key makes it so, across
-- restarts and instances.
CREATE TABLE sla_notices (
    clock     INTEGER NOT NULL REFERENCES sla_clocks(id),
    notice    TEXT NOT NULL,
    level     INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    sent_at   INTEGER NOT NULL,
    PRIMARY KEY (clock, notice, level, recipient)
);
