//! Moving a ticket's SLA clocks when something happens to it, inside the
//! ingest transaction, and rescheduling the notices ahead of them.

use super::Pipeline;
use crate::domain::calendar::Clockwork;
use crate::domain::sla::{ClockOp, Happening, SlaClock, SlaPolicy, Target, clock_ops};
use crate::store::{StoreError, StoredClock, Tx};
use jiff::Timestamp;

impl Pipeline {
    /// How a policy counts time (see [`crate::config::Config::clockwork`]).
    pub(crate) fn clockwork<'a>(&'a self, policy: &SlaPolicy) -> Clockwork<'a> {
        self.config.clockwork(policy)
    }

    /// Applies `happenings` (in order, at `at`) to the clocks of `ticket`
    /// under `policy_name`; returns whether any clock changed.
    pub(crate) async fn move_clocks(
        &self,
        tx: &mut Tx,
        ticket: i64,
        policy_name: &str,
        happenings: &[Happening],
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        if happenings.is_empty() {
            return Ok(false);
        }
        let policy = self.config.policy(policy_name);
        let work = self.clockwork(&policy);
        // A ticket opening now has no clocks yet.
        let mut clocks = if happenings == [Happening::Opened] {
            Vec::new()
        } else {
            tx.clocks(ticket).await?
        };
        let mut changed: Vec<usize> = Vec::new();
        let mut started: Vec<i64> = Vec::new();
        for &h in happenings {
            let snapshot: Vec<(Target, crate::domain::sla::ClockState)> = clocks
                .iter()
                .map(|c| (c.clock.target, c.clock.state))
                .collect();
            let latest = |t: Target| {
                snapshot
                    .iter()
                    .rev()
                    .find(|(x, _)| *x == t)
                    .map(|(_, s)| *s)
            };
            for op in clock_ops(h, &latest, &policy) {
                let target = match op {
                    ClockOp::Start(t)
                    | ClockOp::Pause(t)
                    | ClockOp::Resume(t)
                    | ClockOp::Stop(t) => t,
                };
                if let ClockOp::Start(t) = op {
                    let Some(budget) = policy.budget(t) else {
                        continue;
                    };
                    let clock = SlaClock::start(t, budget.budget(at, &work), at, &work);
                    let cycle = clocks.iter().filter(|c| c.clock.target == t).count() as i64 + 1;
                    let id = tx
                        .insert_clock(ticket, cycle, policy_name, &clock, at)
                        .await?;
                    started.push(id);
                    clocks.push(StoredClock {
                        id,
                        ticket,
                        cycle,
                        policy: policy_name.to_string(),
                        started_at: at,
                        clock,
                    });
                    changed.push(clocks.len() - 1);
                    continue;
                }
                let Some(i) = clocks.iter().rposition(|c| c.clock.target == target) else {
                    continue;
                };
                let c = &mut clocks[i].clock;
                match op {
                    ClockOp::Pause(_) => c.pause(at, &work),
                    ClockOp::Resume(_) => c.resume(at, &work),
                    ClockOp::Stop(_) => c.stop(at, &work),
                    ClockOp::Start(_) => unreachable!("handled above"),
                }
                tx.update_clock(clocks[i].id, &clocks[i].clock).await?;
                changed.push(i);
            }
        }
        changed.sort_unstable();
        changed.dedup();
        for &i in &changed {
            let c = &clocks[i];
            let fresh = started.contains(&c.id);
            tx.reschedule(c.id, fresh, &c.clock.notices(&policy, &work))
                .await?;
        }
        // The ticket's copy of the first-response due time follows that
        // clock: written when this call changed it (every change of a
        // clock goes through here), not for every message of the ticket.
        if let Some(i) = clocks
            .iter()
            .rposition(|c| c.clock.target == Target::FirstResponse)
            && changed.contains(&i)
        {
            tx.set_first_response_due(ticket, clocks[i].clock.due_at)
                .await?;
        }
        Ok(!changed.is_empty())
    }
}
