use super::*;
use crate::domain::calendar::{Calendar, WeeklyHours};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn h(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

fn office() -> Calendar {
    let mut hours = WeeklyHours::default();
    hours.add("mon-fri", "09:00-17:00").unwrap();
    Calendar {
        timezone: jiff::tz::TimeZone::UTC,
        hours,
        holidays: Default::default(),
    }
}

#[test]
fn a_clock_runs_and_is_met_or_breached() {
    let w = Clockwork::Wall;
    let mut c = SlaClock::start(Target::FirstResponse, h(24), t("2026-11-26T10:00:00Z"), &w);
    assert_eq!(c.due_at, Some(t("2026-11-27T10:00:00Z")));
    assert_eq!(
        c.status(t("2026-11-26T20:00:00Z"), &w, Some(Share::Percent(80))),
        "running"
    );
    assert_eq!(
        c.status(t("2026-11-27T06:00:00Z"), &w, Some(Share::Percent(80))),
        "at_risk"
    );
    assert_eq!(c.status(t("2026-11-27T11:00:00Z"), &w, None), "breached");
    c.stop(t("2026-11-27T09:00:00Z"), &w);
    assert_eq!(c.state, ClockState::Met);
    let mut late = SlaClock::start(Target::FirstResponse, h(1), t("2026-11-26T10:00:00Z"), &w);
    late.stop(t("2026-11-26T12:00:00Z"), &w);
    assert_eq!(late.state, ClockState::Breached);
}

#[test]
fn pausing_never_makes_a_deadline_earlier() {
    let cal = office();
    let w = Clockwork::Business(&cal);
    let mut c = SlaClock::start(Target::FirstResponse, h(8), t("2026-11-26T09:00:00Z"), &w);
    assert_eq!(c.due_at, Some(t("2026-11-26T17:00:00Z")));
    c.pause(t("2026-11-26T13:00:00Z"), &w); // 4h used
    assert_eq!(c.status(t("2026-11-30T09:00:00Z"), &w, None), "paused");
    c.resume(t("2026-11-30T09:00:00Z"), &w); // Monday
    assert_eq!(c.due_at, Some(t("2026-11-30T13:00:00Z")));
    assert_eq!(c.remaining(t("2026-11-30T10:00:00Z"), &w), h(3));
}

proptest::proptest! {
    #[test]
    fn pausing_never_brings_a_deadline_forward(run in 0i64..(100 * 60), pause in 0i64..(200 * 60), start in 0i64..(14 * 24 * 60)) {
        let cal = office();
        let w = Clockwork::Business(&cal);
        let t0 = t("2026-11-23T00:00:00Z").checked_add(SignedDuration::from_mins(start)).unwrap();
        let straight = SlaClock::start(Target::FirstResponse, h(16), t0, &w).due_at.unwrap();
        let mut c = SlaClock::start(Target::FirstResponse, h(16), t0, &w);
        let p = t0.checked_add(SignedDuration::from_mins(run)).unwrap();
        c.pause(p, &w);
        c.resume(p.checked_add(SignedDuration::from_mins(pause)).unwrap(), &w);
        proptest::prop_assert!(c.due_at.unwrap() >= straight);
        proptest::prop_assert_eq!(c.consumed, w.between(t0, p));
    }
}

#[test]
fn resolution_stops_and_resumes_on_reopen() {
    let w = Clockwork::Wall;
    let mut c = SlaClock::start(Target::Resolution, h(48), t("2026-11-26T10:00:00Z"), &w);
    c.stop(t("2026-11-26T20:00:00Z"), &w);
    assert_eq!((c.state, c.consumed), (ClockState::Met, h(10)));
    c.resume(t("2026-11-28T10:00:00Z"), &w);
    assert_eq!(c.due_at, Some(t("2026-11-30T00:00:00Z")));
}

#[test]
fn warnings_and_escalation_levels_are_scheduled() {
    let w = Clockwork::Wall;
    let policy = SlaPolicy {
        warn_before: Some(Share::Duration(h(4))),
        escalation: vec![
            EscalationLevel {
                after: EscalateAfter::Breach,
                notify: vec![NotifyTarget::Assignee],
                set_priority: None,
                template: None,
            },
            EscalationLevel {
                after: EscalateAfter::Later(Share::Duration(h(4))),
                notify: vec![NotifyTarget::Address("m@x".into())],
                set_priority: None,
                template: None,
            },
            EscalationLevel {
                after: EscalateAfter::Later(Share::Percent(150)),
                notify: vec![NotifyTarget::Address("m@x".into())],
                set_priority: None,
                template: None,
            },
        ],
        ..SlaPolicy::default()
    };
    let c = SlaClock::start(Target::FirstResponse, h(24), t("2026-11-26T10:00:00Z"), &w);
    let n = c.notices(&policy, &w);
    assert_eq!(n[0], (Notice::Warning, 0, t("2026-11-27T06:00:00Z")));
    assert_eq!(n[1], (Notice::Escalation, 1, t("2026-11-27T10:00:01Z")));
    assert_eq!(n[2], (Notice::Escalation, 2, t("2026-11-27T14:00:00Z")));
    assert_eq!(n[3], (Notice::Escalation, 3, t("2026-11-27T22:00:00Z")));
    let mut paused = c.clone();
    paused.pause(t("2026-11-26T12:00:00Z"), &w);
    assert!(paused.notices(&policy, &w).is_empty());
}

#[test]
fn happenings_move_the_right_clocks() {
    use ClockState::*;
    let p = SlaPolicy {
        resolution: Some(Span::time(h(120))),
        ..SlaPolicy::default()
    };
    let none = |_: Target| None;
    assert_eq!(
        clock_ops(Happening::Opened, &none, &p),
        vec![
            ClockOp::Start(Target::FirstResponse),
            ClockOp::Start(Target::Resolution)
        ]
    );
    // The customer writes again before anyone answered: nothing new.
    let waiting = |t: Target| {
        if t == Target::FirstResponse {
            Some(Running)
        } else {
            None
        }
    };
    assert!(clock_ops(Happening::CustomerWrote, &waiting, &p).is_empty());
    // After an answer, the customer's next mail starts the next-response clock.
    let answered = |t: Target| match t {
        Target::FirstResponse => Some(Met),
        Target::Resolution => Some(Running),
        _ => None,
    };
    assert_eq!(
        clock_ops(Happening::CustomerWrote, &answered, &p),
        vec![ClockOp::Start(Target::NextResponse)]
    );
    assert_eq!(
        clock_ops(Happening::Pending, &answered, &p),
        vec![ClockOp::Pause(Target::Resolution)]
    );
    let resolved = |_: Target| Some(Met);
    assert_eq!(
        clock_ops(Happening::Opening, &resolved, &p),
        vec![ClockOp::Resume(Target::Resolution)]
    );
    assert_eq!(
        clock_ops(Happening::AgentAnswered, &waiting, &p),
        vec![ClockOp::Stop(Target::FirstResponse)]
    );
}
