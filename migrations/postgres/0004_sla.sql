-- SLA clocks, the notices scheduled for them, and the notices sent.

CREATE TABLE sla_clocks (
    id            BIGSERIAL PRIMARY KEY,
    ticket        BIGINT NOT NULL REFERENCES tickets(number),
    target        TEXT NOT NULL,
    -- 1 for first_response and resolution; next_response counts its rounds.
    cycle         BIGINT NOT NULL,
    policy        TEXT NOT NULL,
    budget_ms     BIGINT NOT NULL,
    consumed_ms   BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    running_since BIGINT,
    due_at        BIGINT,
    state         TEXT NOT NULL,
    stopped_at    BIGINT,
    UNIQUE (ticket, target, cycle)
);
CREATE INDEX sla_clocks_ticket ON sla_clocks (ticket, target, cycle);
CREATE INDEX sla_clocks_state ON sla_clocks (state);

-- The next notices of running clocks; the scheduler reads only what is due.
CREATE TABLE sla_schedule (
    clock  BIGINT NOT NULL REFERENCES sla_clocks(id),
    notice TEXT NOT NULL,
    level  BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (clock, notice, level)
);
CREATE INDEX sla_schedule_due ON sla_schedule (due_at);

-- Each notice goes once to each recipient: the key makes it so, across
-- restarts and instances.
CREATE TABLE sla_notices (
    clock     BIGINT NOT NULL REFERENCES sla_clocks(id),
    notice    TEXT NOT NULL,
    level     BIGINT NOT NULL,
    recipient TEXT NOT NULL,
    sent_at   BIGINT NOT NULL,
    PRIMARY KEY (clock, notice, level, recipient)
);
