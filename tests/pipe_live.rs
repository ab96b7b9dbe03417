//! Mail that another process queues goes out at once: with the daemon
//! running and idle, `postdesk ingest` (as the MTA pipe runs it, in its own
//! process) stores a customer's mail and queues the acknowledgement; the
//! daemon's outbox worker hears of it at commit (PostgreSQL NOTIFY, SQLite's
//! data_version) instead of at its next timer, up to 30 s later.

#[macro_use]
mod common;

use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

on_both_databases!(mail_queued_by_the_pipe_is_sent_at_once);

fn mail_queued_by_the_pipe_is_sent_at_once(db: Db) {
    let s = Setup::with(
        "pipewake",
        Options {
            db,
            ..Options::default()
        },
    );
    let d = s.start();
    s.wait_for(
        "the outbox worker to start and go idle",
        Duration::from_secs(30),
        || d.log().contains("outbox worker started").then_some(()),
    );
    let customer = s.addr("customer");
    let id = format!("piped-{}@client.example", s.tag);
    let raw = mail(
        &format!("Jane <{customer}>"),
        &s.support_address(),
        "Piped question",
        &id,
        "",
        "Hello, does the pipe answer at once?",
    );
    let started = Instant::now();
    let mut child = s
        .command()
        .args(["ingest", "--mailbox", "support"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    assert!(child.wait().unwrap().success());
    // Within 10 s, where the worker's own timer would wait up to 30 s.
    s.wait_for(
        "the acknowledgement of piped mail",
        Duration::from_secs(10),
        || {
            s.env
                .delivered(&s.user("customer"))
                .into_iter()
                .find(|m| String::from_utf8_lossy(m).contains("Piped question"))
        },
    );
    eprintln!(
        "pipe → acknowledgement in the customer's inbox: {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
