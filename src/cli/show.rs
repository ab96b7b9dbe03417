//! `postdesk tickets list|show` and `postdesk outbox list`: text for people,
//! `--json` in the shapes of the contract for tools.

use super::{CliResult, Failure, exit, when};
use crate::clock::Clock;
use crate::domain::model::{OutStatus, Status};
use crate::store::Store;
use jiff::Timestamp;
use serde::Serialize;

pub(super) fn print_json<T: Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serialisable"));
}

fn check_status(status: Option<&str>, names: &[&str]) -> Result<(), Failure> {
    match status {
        Some(s) if !names.contains(&s) => Err(Failure::new(
            exit::USAGE,
            format!("--status: expected one of {}, got {s:?}", names.join(", ")),
        )),
        _ => Ok(()),
    }
}

pub async fn tickets(
    store: &Store,
    clock: &dyn Clock,
    status: Option<&str>,
    tz: &jiff::tz::TimeZone,
    json: bool,
) -> CliResult {
    check_status(status, Status::NAMES)?;
    let list = store.list_tickets(status, clock.now()).await?;
    if json {
        print_json(&list);
        return Ok(exit::OK);
    }
    if list.is_empty() {
        println!("no tickets");
    } else {
        // msg: mail people wrote; auto: acknowledgements, notifications, robots.
        println!(
            "{:<7} {:<8} {:<7} {:<32} {:<17} {:<21} SUBJECT",
            "TICKET", "STATUS", "PRIO", "CUSTOMER", "MESSAGES", "CREATED"
        );
    }
    for t in &list {
        let h = &t.ticket;
        let breach = if h.sla.breached { " BREACHED" } else { "" };
        println!(
            "#{:<6} {:<8} {:<7} {:<32} {:>3} msg {:<9} {}  {}{breach}",
            h.number,
            h.status,
            h.priority,
            h.customer.as_deref().unwrap_or("-"),
            t.human_messages,
            if t.automatic_messages > 0 {
                format!("+{} auto", t.automatic_messages)
            } else {
                String::new()
            },
            when::show(h.created_at, tz),
            h.subject
        );
    }
    Ok(exit::OK)
}

pub async fn ticket(
    store: &Store,
    clock: &dyn Clock,
    number: i64,
    tz: &jiff::tz::TimeZone,
    json: bool,
) -> CliResult {
    let Some(d) = store.ticket_detail(number, clock.now()).await? else {
        return Err(Failure::new(exit::NOINPUT, format!("no ticket #{number}")));
    };
    if json {
        print_json(&d);
        return Ok(exit::OK);
    }
    let t = &d.ticket;
    println!("Ticket #{}: {}", t.number, t.subject);
    println!(
        "  status {}  priority {}  mailbox {}  policy {}",
        t.status, t.priority, t.mailbox, t.sla_policy
    );
    println!(
        "  customer {}{}",
        t.customer.as_deref().unwrap_or("-"),
        t.customer_name
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    );
    println!("  assignee {}", t.assignee.as_deref().unwrap_or("-"));
    println!(
        "  created {}  updated {}",
        when::show(t.created_at, tz),
        when::show(t.updated_at, tz)
    );
    if let Some(due) = t.sla.first_response_due {
        let state = match t.sla.first_response_at {
            Some(at) => format!("answered {}", when::show(at, tz)),
            None if t.sla.breached => "BREACHED".into(),
            None => "waiting".into(),
        };
        println!("  first response due {}  ({state})", when::show(due, tz));
    }
    if let Some(f) = t.follows {
        println!("  follows ticket #{f}");
    }
    if let Some(r) = d.rating {
        match d.rating_comment.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => println!("  customer's rating {r} of 5: {c:?}"),
            None => println!("  customer's rating {r} of 5"),
        }
    }
    println!("\nParticipants:");
    for p in &d.participants {
        let name = p
            .name
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let stop = match (&p.suppressed_until, &p.suppressed_because) {
            (Some(until), Some(why)) => {
                format!(
                    "  NO AUTOMATIC MAIL until {}: {why}",
                    when::show(*until, tz)
                )
            }
            _ => String::new(),
        };
        println!("  {:<9} {}{name}{stop}", p.role, p.email);
    }
    println!("\nMessages:");
    for m in &d.messages {
        let flags = if m.flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.flags.join(","))
        };
        println!(
            "  {} {:<3} {:<9} {:<30} {}{flags}\n      <{}>",
            when::show(m.received_at, tz),
            m.direction,
            m.kind,
            m.from.as_deref().unwrap_or("-"),
            m.subject,
            m.message_id
        );
    }
    println!("\nEvents:");
    for e in &d.events {
        println!("  {} {}: {}", when::show(e.at, tz), e.what, e.detail);
    }
    Ok(exit::OK)
}

pub async fn outbox(
    store: &Store,
    status: Option<&str>,
    tz: &jiff::tz::TimeZone,
    json: bool,
) -> CliResult {
    check_status(status, OutStatus::NAMES)?;
    let rows = store.list_outbox(status).await?;
    if json {
        print_json(&rows);
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        match status {
            Some(s) => println!("no outbound mail with status {s}"),
            None => println!("outbox is empty"),
        }
    }
    for r in &rows {
        let ticket = r.ticket.map_or("-".to_string(), |n| format!("#{n}"));
        let err = r
            .last_error
            .as_ref()
            .map(|e| format!("\n      last error: {e}"))
            .unwrap_or_default();
        let when = match r.sent_at {
            Some(t) => format!("sent {}", when::show(t, tz)),
            None => format!("next {}", when::show(r.next_attempt_at, tz)),
        };
        println!(
            "{:<5} {:<7} {:<14} {:<8} tries {:<2} {:<30} {}\n      {when}{err}",
            r.id,
            ticket,
            r.kind,
            r.status,
            r.attempts,
            r.to.join(","),
            r.subject
        );
    }
    Ok(exit::OK)
}

/// `messages list`: stored mail, newest first.
pub async fn messages(
    store: &Store,
    kind: Option<&str>,
    since: Option<Timestamp>,
    limit: i64,
    tz: &jiff::tz::TimeZone,
    json: bool,
) -> CliResult {
    check_status(kind, crate::domain::model::Kind::NAMES)
        .map_err(|e| Failure::new(e.code, e.message.replace("--status", "--kind")))?;
    let rows = store.list_messages(kind, since, limit).await?;
    if json {
        print_json(&rows);
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        println!("no messages");
    }
    for m in &rows {
        let ticket = m.ticket.map_or("-".to_string(), |n| format!("#{n}"));
        let flags = if m.flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.flags.join(","))
        };
        println!(
            "{} {:<3} {:<9} {:<7} {:<30} {}{flags}\n      <{}>",
            when::show(m.received_at, tz),
            m.direction,
            m.kind,
            ticket,
            m.from.as_deref().unwrap_or("-"),
            m.subject,
            m.message_id
        );
    }
    Ok(exit::OK)
}

/// One line of `sla status`.
#[derive(Debug, Serialize)]
struct ClockLine {
    ticket: i64,
    target: &'static str,
    cycle: i64,
    policy: String,
    due_at: Timestamp,
    state: &'static str,
    remaining_secs: i64,
}

pub async fn sla_status(
    store: &Store,
    config: &crate::config::Config,
    at: Timestamp,
    tz: &jiff::tz::TimeZone,
    json: bool,
) -> CliResult {
    let mut lines = Vec::new();
    let mut working = Vec::new();
    for c in store.all_clocks().await? {
        let policy = config.policy(&c.policy);
        let work = config.clockwork(&policy);
        let remaining = c.clock.remaining(at, &work);
        let due_at = c
            .clock
            .due_at
            .unwrap_or_else(|| work.add(at, remaining.max(jiff::SignedDuration::ZERO)));
        lines.push(ClockLine {
            ticket: c.ticket,
            target: c.clock.target.as_str(),
            cycle: c.cycle,
            policy: c.policy.clone(),
            due_at,
            state: c.clock.status(at, &work, policy.warn_before),
            remaining_secs: remaining.as_secs(),
        });
        working.push(!matches!(work, crate::domain::calendar::Clockwork::Wall));
    }
    if json {
        print_json(&lines);
        return Ok(exit::OK);
    }
    if lines.is_empty() {
        println!("no SLA clocks");
    }
    for (l, working) in lines.iter().zip(working) {
        println!(
            "#{:<6} {:<15} {:<10} due {}  {:<9} {}",
            l.ticket,
            l.target,
            l.policy,
            when::show(l.due_at, tz),
            l.state,
            time_left(l.state, l.remaining_secs, working)
        );
    }
    Ok(exit::OK)
}

/// What a clock has left, as `sla status` writes it: a stopped clock has
/// nothing left to count ("met"); with a calendar, the time counts in
/// working hours, and says so.
fn time_left(state: &str, remaining_secs: i64, working: bool) -> String {
    if state == "met" {
        return "met".into();
    }
    let parts = |secs: i64| -> String {
        crate::domain::duration_parts(jiff::SignedDuration::from_secs(secs), !working)
            .into_iter()
            .map(|(unit, n)| format!("{n}{unit}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let of = if working { " of working time" } else { "" };
    if remaining_secs < 0 {
        format!("late by {}{of}", parts(-remaining_secs))
    } else {
        format!("{}{of} left", parts(remaining_secs))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_met_clock_shows_met_and_working_time_counts_in_hours() {
        assert_eq!(super::time_left("met", 3600, false), "met");
        assert_eq!(super::time_left("due", 90_000, false), "1d 1h left");
        assert_eq!(
            super::time_left("due", 90_000, true),
            "25h of working time left"
        );
        assert_eq!(super::time_left("breached", -60, false), "late by 1m");
    }
}
