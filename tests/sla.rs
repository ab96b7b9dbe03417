//! SLA clocks through the real pipeline (`postdesk ingest` with arrival
//! times, on SQLite and PostgreSQL), read back with `tickets show` and
//! `sla status --at`: business hours, holidays, pauses, next responses and
//! policy rules.

#[macro_use]
mod common;

use common::Db;
use common::cli::Cli;
use serde_json::Value;

on_both_databases!(
    business_hours_count_and_status_follows_the_clock,
    rules_choose_the_policy,
    pending_pauses_and_a_customer_follow_up_starts_the_next_response
);

const OFFICE: &str = r#"
[calendar.office]
timezone = "Europe/Athens"
hours = { mon-fri = "09:00-17:00" }
holidays = ["2026-12-25"]

[sla.office]
first_response = "8h"
next_response = "4h"
resolution = "3d"
calendar = "office"
warn_before = "2h"

[sla.gold]
first_response = "2h"

[[rule]]
customer = ["big.example"]
sla = "gold"
set_priority = "high"

[[agent]]
email = "alice@example.com"
name = "Alice"

[auth]
trusted_authserv_ids = ["mx.example.com"]
"#;

fn cli(db: Db) -> Cli {
    Cli::with_config(
        db,
        "sla = \"office\"\nagents = [\"alice@example.com\"]",
        OFFICE,
    )
}

fn msg(from: &str, to: &str, subject: &str, id: &str, headers: &str, body: &str) -> Vec<u8> {
    format!("From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n{headers}\r\n{body}\r\n").into_bytes()
}

fn ingest(c: &Cli, name: &str, raw: &[u8], at: &str) -> Value {
    let f = c.file(name, raw);
    c.ingest(&["--received-at", at], &[&f]).remove(0)
}

fn status(c: &Cli, at: &str) -> Vec<Value> {
    c.json(&["sla", "status", "--at", at, "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn clock<'a>(lines: &'a [Value], ticket: i64, target: &str) -> &'a Value {
    lines
        .iter()
        .rev()
        .find(|l| l["ticket"] == ticket && l["target"] == target)
        .unwrap_or_else(|| panic!("no {target} clock for #{ticket} in {lines:#?}"))
}

fn business_hours_count_and_status_follows_the_clock(db: Db) {
    let c = cli(db);
    // Friday 27 Nov 2026, 15:00 in Athens (13:00Z): 2h today, 6h on Monday.
    let t = ingest(
        &c,
        "a.eml",
        &msg(
            "jane@cust.example",
            "support@example.com",
            "Printer E42",
            "a@cust.example",
            "",
            "hi",
        ),
        "2026-11-27T13:00:00Z",
    );
    let n = t["ticket"].as_i64().unwrap();
    let show = c.json(&["tickets", "show", &n.to_string(), "--json"]);
    assert_eq!(
        show["sla"]["first_response_due"], "2026-11-30T13:00:00Z",
        "Monday 15:00 Athens"
    );
    assert_eq!(show["sla_policy"], "office");

    let fr = |at: &str| clock(&status(&c, at), n, "first_response").clone();
    assert_eq!(
        fr("2026-11-28T12:00:00Z")["state"],
        "running",
        "a weekend does not count"
    );
    assert_eq!(fr("2026-11-28T12:00:00Z")["remaining_secs"], 6 * 3600);
    assert_eq!(
        fr("2026-11-30T11:30:00Z")["state"],
        "at_risk",
        "within 2h of the due time"
    );
    let late = fr("2026-11-30T15:00:00Z");
    assert_eq!(late["state"], "breached");
    assert_eq!(late["remaining_secs"], -2 * 3600);
    assert_eq!(late["due_at"], "2026-11-30T13:00:00Z");
    let res = clock(&status(&c, "2026-11-28T12:00:00Z"), n, "resolution").clone();
    assert_eq!(res["state"], "running");
    assert_eq!(res["policy"], "office");

    // Christmas Eve 16:00 Athens + 8h: 1h on Thursday, Friday is a holiday, 7h on Monday.
    let x = ingest(
        &c,
        "x.eml",
        &msg(
            "joe@cust.example",
            "support@example.com",
            "Xmas",
            "x@cust.example",
            "",
            "hi",
        ),
        "2026-12-24T14:00:00Z",
    );
    let show = c.json(&[
        "tickets",
        "show",
        &x["ticket"].as_i64().unwrap().to_string(),
        "--json",
    ]);
    assert_eq!(
        show["sla"]["first_response_due"], "2026-12-28T14:00:00Z",
        "Monday 16:00 Athens"
    );
}

fn rules_choose_the_policy(db: Db) {
    let c = cli(db);
    let t = ingest(
        &c,
        "a.eml",
        &msg(
            "ceo@big.example",
            "support@example.com",
            "Contract",
            "a@big.example",
            "",
            "hi",
        ),
        "2026-11-26T10:00:00Z",
    );
    let show = c.json(&[
        "tickets",
        "show",
        &t["ticket"].as_i64().unwrap().to_string(),
        "--json",
    ]);
    assert_eq!(show["sla_policy"], "gold");
    assert_eq!(show["priority"], "high");
    assert_eq!(
        show["sla"]["first_response_due"], "2026-11-26T12:00:00Z",
        "2 hours around the clock"
    );
    assert!(show["events"].to_string().contains("rule[0] matched"));
}

fn pending_pauses_and_a_customer_follow_up_starts_the_next_response(db: Db) {
    let c = cli(db);
    // Thursday 26 Nov 10:00 Athens (08:00Z).
    let t = ingest(
        &c,
        "a.eml",
        &msg(
            "jane@cust.example",
            "support@example.com",
            "VPN",
            "a@cust.example",
            "",
            "VPN drops",
        ),
        "2026-11-26T08:00:00Z",
    );
    let n = t["ticket"].as_i64().unwrap();
    // Alice answers from her notification (her token) at 12:00 Athens and sets the ticket pending.
    let outbox = c.json(&["outbox", "list", "--json"]);
    let note = outbox
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "agent_notify")
        .unwrap()
        .clone();
    let token = note["message_id"]
        .as_str()
        .unwrap()
        .strip_prefix("pd.")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let to = format!("support+{token}@example.com");
    ingest(
        &c,
        "r.eml",
        &msg(
            "alice@example.com",
            &to,
            "Re: [#1] VPN",
            "r@example.com",
            "",
            "#pending\nPlease try the new client.",
        ),
        "2026-11-26T10:00:00Z",
    );
    let lines = status(&c, "2026-11-27T10:00:00Z");
    assert_eq!(clock(&lines, n, "first_response")["state"], "met");
    assert_eq!(clock(&lines, n, "resolution")["state"], "paused");
    let paused_left = clock(&lines, n, "resolution")["remaining_secs"]
        .as_i64()
        .unwrap();
    // `3d` with a calendar is three business days (of 8 open hours here),
    // not 72 open hours.
    assert_eq!(
        paused_left,
        3 * 8 * 3600 - 2 * 3600,
        "2 business hours used, then paused"
    );
    assert_eq!(
        clock(&status(&c, "2026-12-10T10:00:00Z"), n, "resolution")["remaining_secs"],
        paused_left,
        "paused time does not count"
    );

    // The customer writes back on Monday 30 Nov 10:00 Athens: open again, next response due in 4 business hours.
    let back = ingest(
        &c,
        "b.eml",
        &msg(
            "jane@cust.example",
            "support@example.com",
            "Re: [#1] VPN",
            "b@cust.example",
            "In-Reply-To: <r@example.com>\r\n",
            "Still drops.",
        ),
        "2026-11-30T08:00:00Z",
    );
    assert_eq!(back["ticket"], n);
    let lines = status(&c, "2026-11-30T09:00:00Z");
    let next = clock(&lines, n, "next_response");
    assert_eq!(next["state"], "running");
    assert_eq!(next["due_at"], "2026-11-30T12:00:00Z", "14:00 Athens");
    assert_eq!(next["cycle"], 1);
    assert_eq!(
        clock(&lines, n, "resolution")["state"],
        "running",
        "resumed"
    );
    let show = c.json(&["tickets", "show", &n.to_string(), "--json"]);
    assert_eq!(show["status"], "open");

    // An auto-reply on the ticket moves no clock.
    ingest(
        &c,
        "o.eml",
        &msg(
            "jane@cust.example",
            "support@example.com",
            "Automatic reply: VPN",
            "o@cust.example",
            "Auto-Submitted: auto-replied\r\nIn-Reply-To: <r@example.com>\r\n",
            "Away.",
        ),
        "2026-11-30T09:30:00Z",
    );
    let again = status(&c, "2026-11-30T09:00:00Z");
    assert_eq!(
        again.iter().filter(|l| l["ticket"] == n).count(),
        lines.iter().filter(|l| l["ticket"] == n).count()
    );
}
