-- What /metrics reads at every scrape, by index rather than by scanning:
-- running clocks by due time, and warnings sent.
CREATE INDEX sla_clocks_state_due ON sla_clocks (state, due_at);
CREATE INDEX sla_notices_notice ON sla_notices (notice, clock);
