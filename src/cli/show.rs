//! `postdesk tickets list|show` and `postdesk outbox list`: text for people,
//! `--json` in the shapes of the contract for tools.

use super::{CliResult, Failure, exit};
use crate::clock::Clock;
use crate::domain::model::{OutStatus, Status};
use crate::store::Store;
use jiff::Timestamp;
use serde::Serialize;

fn print_json<T: Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serialisable"));
}

fn short(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M").to_string()
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
    }
    for t in &list {
        let h = &t.ticket;
        let breach = if h.sla.breached { " BREACHED" } else { "" };
        println!(
            "#{:<6} {:<8} {:<7} {:<32} {:>3} msg  {}  {}{breach}",
            h.number,
            h.status,
            h.priority,
            h.customer.as_deref().unwrap_or("-"),
            t.messages,
            short(h.created_at),
            h.subject
        );
    }
    Ok(exit::OK)
}

pub async fn ticket(store: &Store, clock: &dyn Clock, number: i64, json: bool) -> CliResult {
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
        short(t.created_at),
        short(t.updated_at)
    );
    if let Some(due) = t.sla.first_response_due {
        let state = match t.sla.first_response_at {
            Some(at) => format!("answered {}", short(at)),
            None if t.sla.breached => "BREACHED".into(),
            None => "waiting".into(),
        };
        println!("  first response due {}  ({state})", short(due));
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
                format!("  NO AUTOMATIC MAIL until {}: {why}", short(*until))
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
            short(m.received_at),
            m.direction,
            m.kind,
            m.from.as_deref().unwrap_or("-"),
            m.subject,
            m.message_id
        );
    }
    println!("\nEvents:");
    for e in &d.events {
        println!("  {} {}: {}", short(e.at), e.what, e.detail);
    }
    Ok(exit::OK)
}

pub async fn outbox(store: &Store, status: Option<&str>, json: bool) -> CliResult {
    check_status(status, OutStatus::NAMES)?;
    let rows = store.list_outbox(status).await?;
    if json {
        print_json(&rows);
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        println!("outbox is empty");
    }
    for r in &rows {
        let ticket = r.ticket.map_or("-".to_string(), |n| format!("#{n}"));
        let err = r
            .last_error
            .as_ref()
            .map(|e| format!("\n      last error: {e}"))
            .unwrap_or_default();
        println!(
            "{:<5} {:<7} {:<14} {:<8} tries {:<2} {:<30} {}{err}",
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
    json: bool,
) -> CliResult {
    let mut lines = Vec::new();
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
    }
    if json {
        print_json(&lines);
        return Ok(exit::OK);
    }
    if lines.is_empty() {
        println!("no SLA clocks");
    }
    for l in &lines {
        println!(
            "#{:<6} {:<15} {:<10} due {}  {:<9} {}",
            l.ticket,
            l.target,
            l.policy,
            short(l.due_at),
            l.state,
            if l.remaining_secs < 0 {
                format!(
                    "late by {}",
                    crate::domain::fmt_duration(jiff::SignedDuration::from_secs(-l.remaining_secs))
                )
            } else {
                format!(
                    "{} left",
                    crate::domain::fmt_duration(jiff::SignedDuration::from_secs(l.remaining_secs))
                )
            }
        );
    }
    Ok(exit::OK)
}
