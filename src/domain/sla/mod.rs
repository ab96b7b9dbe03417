//! SLA clocks: targets (first response, next response, resolution) counted
//! in a policy's clockwork (around the clock, or business hours), paused and
//! resumed, stopped as met or breached; and the warnings and escalation
//! levels each running clock has ahead of it. Pure: every function takes the
//! time it is asked about.

use super::calendar::Clockwork;
use super::model::Priority;
use jiff::{SignedDuration, Timestamp};
use std::fmt;

/// A duration, or a share of the target (`"80%"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    Duration(SignedDuration),
    /// Per cent of the target.
    Percent(u32),
}

impl Share {
    /// The countable time this share stands for, given the target.
    pub fn of(self, budget: SignedDuration) -> SignedDuration {
        match self {
            Share::Duration(d) => d,
            Share::Percent(p) => {
                SignedDuration::from_millis(budget.as_millis() as i64 * i64::from(p) / 100)
            }
        }
    }
}

/// How long before the due time a warning goes out: `warn_before = "4h"`
/// means 4 hours before; `"80%"` means once 80% of the target has passed.
pub fn warn_lead(w: Share, budget: SignedDuration) -> SignedDuration {
    match w {
        Share::Duration(d) => d.min(budget),
        Share::Percent(p) => Share::Percent(100u32.saturating_sub(p)).of(budget),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalateAfter {
    Breach,
    /// A duration after the breach, or a share of the target (`"150%"`).
    Later(Share),
}

/// Who a notice goes to, as `notify` names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// The ticket's assignee; everyone who could take it while nobody has.
    Assignee,
    /// Every agent of the mailbox.
    Agents,
    /// Someone by address (lower-cased), agent or not.
    Address(String),
}

impl NotifyTarget {
    /// `"assignee"`, `"agents"`, or an address.
    pub fn parse(s: &str) -> Option<NotifyTarget> {
        match s.trim().to_lowercase().as_str() {
            "assignee" => Some(NotifyTarget::Assignee),
            "agents" => Some(NotifyTarget::Agents),
            a if super::model::looks_like_address(a) => Some(NotifyTarget::Address(a.to_string())),
            _ => None,
        }
    }
}

/// The addresses `targets` name for a ticket held by `assignee` in a
/// mailbox with `agents`, each once, in order.
pub fn recipients(
    targets: &[NotifyTarget],
    assignee: Option<&str>,
    agents: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in targets {
        let add: Vec<String> = match (t, assignee) {
            (NotifyTarget::Assignee, Some(a)) => vec![a.to_string()],
            (NotifyTarget::Assignee, None) | (NotifyTarget::Agents, _) => agents.to_vec(),
            (NotifyTarget::Address(a), _) => vec![a.clone()],
        };
        for a in add {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationLevel {
    pub after: EscalateAfter,
    pub notify: Vec<NotifyTarget>,
    pub set_priority: Option<Priority>,
    pub template: Option<String>,
}

/// A target as an admin writes it: whole days and the rest. With a
/// calendar, days are business days: a ticket opened on Monday at 10:00
/// with `5d` is due the next Monday at 10:00 (holidays skipped), whatever
/// the length of the working day; hours count open time only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub days: u32,
    pub time: SignedDuration,
}

impl Span {
    pub fn time(d: SignedDuration) -> Span {
        Span { days: 0, time: d }
    }

    pub fn hours(h: i64) -> Span {
        Span::time(SignedDuration::from_hours(h))
    }

    /// Days as 24 hours: for comparing targets with one another.
    pub fn nominal(self) -> SignedDuration {
        SignedDuration::from_hours(24 * i64::from(self.days)) + self.time
    }

    /// The countable time this span gives a clock started at `at`.
    pub fn budget(self, at: Timestamp, work: &Clockwork<'_>) -> SignedDuration {
        match work {
            Clockwork::Business(c) if self.days > 0 => {
                c.between(at, c.add_days(at, self.days)) + self.time
            }
            _ => self.nominal(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    pub first_response: Span,
    pub next_response: Span,
    pub resolution: Option<Span>,
    pub calendar: Option<String>,
    pub warn_before: Option<Share>,
    pub escalation: Vec<EscalationLevel>,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            first_response: Span::hours(24),
            next_response: Span::hours(24),
            resolution: None,
            calendar: None,
            warn_before: None,
            escalation: Vec::new(),
        }
    }
}

impl SlaPolicy {
    pub fn budget(&self, target: Target) -> Option<Span> {
        match target {
            Target::FirstResponse => Some(self.first_response),
            Target::NextResponse => Some(self.next_response),
            Target::Resolution => self.resolution,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::FirstResponse => "first_response",
            Target::NextResponse => "next_response",
            Target::Resolution => "resolution",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        [
            Target::FirstResponse,
            Target::NextResponse,
            Target::Resolution,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    pub fn is_response(self) -> bool {
        self != Target::Resolution
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is stored about a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    Running,
    Paused,
    Met,
    Breached,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Running => "running",
            ClockState::Paused => "paused",
            ClockState::Met => "met",
            ClockState::Breached => "breached",
        }
    }

    pub fn parse(s: &str) -> Option<ClockState> {
        [
            ClockState::Running,
            ClockState::Paused,
            ClockState::Met,
            ClockState::Breached,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    pub fn is_stopped(self) -> bool {
        matches!(self, ClockState::Met | ClockState::Breached)
    }
}

/// One clock of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaClock {
    pub target: Target,
    pub budget: SignedDuration,
    /// Countable time used before the current run.
    pub consumed: SignedDuration,
    /// Set while running.
    pub running_since: Option<Timestamp>,
    pub state: ClockState,
    /// While running: when the target is due. Once stopped: when it was due.
    pub due_at: Option<Timestamp>,
    pub stopped_at: Option<Timestamp>,
}

impl SlaClock {
    pub fn start(
        target: Target,
        budget: SignedDuration,
        at: Timestamp,
        work: &Clockwork<'_>,
    ) -> SlaClock {
        let mut c = SlaClock {
            target,
            budget,
            consumed: SignedDuration::ZERO,
            running_since: None,
            state: ClockState::Paused,
            due_at: None,
            stopped_at: None,
        };
        c.run_from(at, work);
        c
    }

    fn run_from(&mut self, at: Timestamp, work: &Clockwork<'_>) {
        self.running_since = Some(at);
        self.state = ClockState::Running;
        self.stopped_at = None;
        let left = self.budget - self.consumed;
        self.due_at = Some(if left.is_positive() {
            work.add(at, left)
        } else {
            at
        });
    }

    /// Countable time used up to `at`.
    pub fn used(&self, at: Timestamp, work: &Clockwork<'_>) -> SignedDuration {
        match (self.state, self.running_since) {
            (ClockState::Running, Some(since)) => {
                self.consumed + work.between(since, at).max(SignedDuration::ZERO)
            }
            _ => self.consumed,
        }
    }

    pub fn remaining(&self, at: Timestamp, work: &Clockwork<'_>) -> SignedDuration {
        self.budget - self.used(at, work)
    }

    pub fn pause(&mut self, at: Timestamp, work: &Clockwork<'_>) {
        if self.state == ClockState::Running {
            self.consumed = self.used(at, work);
            self.running_since = None;
            self.state = ClockState::Paused;
            self.due_at = None;
        }
    }

    /// Runs again after a pause, or (for resolution) after a reopen.
    pub fn resume(&mut self, at: Timestamp, work: &Clockwork<'_>) {
        if self.state != ClockState::Running {
            self.run_from(at, work);
        }
    }

    /// Stops the clock: met when the target was reached in time.
    pub fn stop(&mut self, at: Timestamp, work: &Clockwork<'_>) {
        if self.state.is_stopped() {
            return;
        }
        let used = self.used(at, work);
        if self.due_at.is_none() {
            let left = self.budget - self.consumed;
            self.due_at = Some(if left.is_positive() {
                work.add(at, left)
            } else {
                at
            });
        }
        self.consumed = used;
        self.running_since = None;
        self.stopped_at = Some(at);
        self.state = if used <= self.budget {
            ClockState::Met
        } else {
            ClockState::Breached
        };
    }

    /// The state a person should see at `at`: `at_risk` once the warning
    /// time has passed, `breached` once the target has.
    pub fn status(&self, at: Timestamp, work: &Clockwork<'_>, warn: Option<Share>) -> &'static str {
        match self.state {
            ClockState::Running | ClockState::Paused => {
                let used = self.used(at, work);
                if used > self.budget {
                    "breached"
                } else if self.state == ClockState::Paused {
                    "paused"
                } else if warn.is_some_and(|w| used >= self.budget - warn_lead(w, self.budget)) {
                    "at_risk"
                } else {
                    "running"
                }
            }
            s => s.as_str(),
        }
    }

    /// When the clock will have used `threshold` of countable time, if it is
    /// running (now, if it already has).
    fn reaches(&self, threshold: SignedDuration, work: &Clockwork<'_>) -> Option<Timestamp> {
        let since = self
            .running_since
            .filter(|_| self.state == ClockState::Running)?;
        let left = threshold - self.consumed;
        Some(if left.is_positive() {
            work.add(since, left)
        } else {
            since
        })
    }

    /// The notices ahead of a running clock: the warning (level 0) and each
    /// escalation level (1, 2, ...), with when each is due.
    pub fn notices(
        &self,
        policy: &SlaPolicy,
        work: &Clockwork<'_>,
    ) -> Vec<(Notice, u32, Timestamp)> {
        let mut out = Vec::new();
        if let Some(w) = policy.warn_before {
            let lead = warn_lead(w, self.budget);
            if let Some(at) = self.reaches(self.budget - lead, work) {
                out.push((Notice::Warning, 0, at));
            }
        }
        for (i, level) in policy.escalation.iter().enumerate() {
            let threshold = match level.after {
                EscalateAfter::Breach => self.budget,
                EscalateAfter::Later(Share::Duration(d)) => self.budget + d,
                EscalateAfter::Later(Share::Percent(p)) => Share::Percent(p).of(self.budget),
            };
            // "Breach" means strictly after the due time.
            let threshold = threshold.max(self.budget);
            if let Some(at) = self.reaches(threshold, work) {
                let at = if threshold == self.budget {
                    at.checked_add(SignedDuration::from_secs(1)).unwrap_or(at)
                } else {
                    at
                };
                out.push((Notice::Escalation, i as u32 + 1, at));
            }
        }
        out
    }
}

/// A notice an SLA clock sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    Warning,
    Escalation,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Warning => "warning",
            Notice::Escalation => "escalation",
        }
    }

    pub fn parse(s: &str) -> Option<Notice> {
        match s {
            "warning" => Some(Notice::Warning),
            "escalation" => Some(Notice::Escalation),
            _ => None,
        }
    }
}

/// Something that happened to a ticket, as far as its clocks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    /// A new ticket.
    Opened,
    /// The customer wrote on an existing ticket.
    CustomerWrote,
    /// An agent answered the customer.
    AgentAnswered,
    /// The ticket waits for the customer.
    Pending,
    /// Back to open (from pending, or reopened).
    Opening,
    Resolved,
}

/// What to do to a ticket's clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockOp {
    Start(Target),
    Pause(Target),
    Resume(Target),
    Stop(Target),
}

/// The clock operations a happening calls for, given the latest clock of
/// each target (None: never started).
pub fn clock_ops(
    h: Happening,
    latest: &dyn Fn(Target) -> Option<ClockState>,
    policy: &SlaPolicy,
) -> Vec<ClockOp> {
    use ClockState::*;
    let mut ops = Vec::new();
    let targets = [
        Target::FirstResponse,
        Target::NextResponse,
        Target::Resolution,
    ];
    let live = |t: Target| matches!(latest(t), Some(Running | Paused));
    match h {
        Happening::Opened => {
            ops.push(ClockOp::Start(Target::FirstResponse));
            if policy.resolution.is_some() {
                ops.push(ClockOp::Start(Target::Resolution));
            }
        }
        Happening::CustomerWrote => {
            // Somebody is now waiting for an answer, unless they already were.
            let waiting = live(Target::FirstResponse) || live(Target::NextResponse);
            if !waiting && latest(Target::FirstResponse).is_some() {
                ops.push(ClockOp::Start(Target::NextResponse));
            }
        }
        Happening::AgentAnswered => {
            for t in [Target::FirstResponse, Target::NextResponse] {
                if live(t) {
                    ops.push(ClockOp::Stop(t));
                }
            }
        }
        Happening::Pending => {
            for t in targets {
                if latest(t) == Some(Running) {
                    ops.push(ClockOp::Pause(t));
                }
            }
        }
        Happening::Opening => {
            for t in targets {
                if latest(t) == Some(Paused) {
                    ops.push(ClockOp::Resume(t));
                }
            }
            if matches!(latest(Target::Resolution), Some(Met | Breached)) {
                ops.push(ClockOp::Resume(Target::Resolution));
            }
        }
        Happening::Resolved => {
            for t in targets {
                if live(t) {
                    ops.push(ClockOp::Stop(t));
                }
            }
        }
    }
    ops
}

mod rules;
pub use rules::{PolicyRule, choose_policy};

#[cfg(test)]
mod tests;
