//! Group commit on both databases, in-process: several messages share one
//! transaction; a member that fails is undone alone, including what it
//! left for the group's commit to write (events, IMAP positions); nothing
//! is visible to other connections (or flagged on a server) before the
//! group commits.

#[macro_use]
mod common;

use common::Db;
use common::cli::Cli;
use postdesk::ingest::{Arrival, Incoming, Pipeline, Source};
use std::sync::Arc;

on_both_databases!(a_group_commits_its_members_together_and_undoes_a_failed_one_alone);

/// IMAP message `uid` of the mailbox, fetched whole.
fn imap(uid: u32) -> Source {
    Source::Imap {
        uidvalidity: 7,
        uid,
        header_only: false,
    }
}

fn mail(i: usize) -> Vec<u8> {
    format!(
        "From: Customer {i} <g{i}@example.org>\r\nTo: support@example.com\r\nSubject: Group {i}\r\n\
         Message-ID: <group-{i}@example.org>\r\n\r\nHello {i}\r\n"
    )
    .into_bytes()
}

fn a_group_commits_its_members_together_and_undoes_a_failed_one_alone(db: Db) {
    let c = Cli::new(db);
    let tickets = |url: &str| common::count(url, "SELECT COUNT(*) FROM tickets");
    c.in_process(async |config, store| {
        let key = store.token_key().await.unwrap();
        let pipeline = Pipeline::new(
            config.clone(),
            store.clone(),
            Arc::new(postdesk::templates::Templates::load(None).unwrap()),
            key,
            Arc::new(postdesk::clock::SystemClock),
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let mailbox = config.mailbox("support").unwrap().clone();
        let mut group = store.begin_group().await.unwrap();
        let a = mail(1);
        let first = pipeline
            .ingest_in(
                &mut group,
                &mailbox,
                Incoming::new(&a, Arrival::Now, imap(1)),
            )
            .await
            .unwrap();
        assert_eq!(first.ticket, Some(1));
        // A member whose work ends on an error path: undone alone.
        let mut failing = group.member().await.unwrap();
        // A row written at once, and rows left for the commit: an event
        // and the IMAP position.
        failing.add_event(
            None,
            None,
            jiff::Timestamp::UNIX_EPOCH,
            postdesk::domain::event::EventKind::Ignored,
            "an event of the member that failed",
        );
        failing.record_imap("support", 7, 9, true, jiff::Timestamp::UNIX_EPOCH);
        failing
            .suppress(
                "undone@example.org",
                "2100-01-01T00:00:00Z".parse().unwrap(),
                "this member failed",
                jiff::Timestamp::UNIX_EPOCH,
            )
            .await
            .unwrap();
        drop(failing);
        assert!(
            !group.settle().await.unwrap(),
            "a dropped member is not kept"
        );
        let b = mail(2);
        let second = pipeline
            .ingest_in(
                &mut group,
                &mailbox,
                Incoming::new(&b, Arrival::Now, imap(2)),
            )
            .await
            .unwrap();
        assert_eq!(
            second.ticket,
            Some(2),
            "the group sees its own earlier members"
        );
        // Another connection sees nothing yet.
        let url = c.url.clone();
        let seen = tokio::task::spawn_blocking(move || tickets(&url))
            .await
            .unwrap();
        assert_eq!(seen, 0, "nothing is visible before the group commits");
        assert_eq!(group.kept, 2);
        group.commit().await.unwrap();
        let url = c.url.clone();
        let seen = tokio::task::spawn_blocking(move || tickets(&url))
            .await
            .unwrap();
        assert_eq!(seen, 2);
    });
    assert_eq!(
        common::count(
            &c.url,
            "SELECT COUNT(*) FROM suppressions WHERE address = 'undone@example.org'"
        ),
        0,
        "the failed member's write is gone"
    );
    assert_eq!(
        common::count(
            &c.url,
            "SELECT COUNT(*) FROM messages WHERE direction = 'in'"
        ),
        2
    );
    assert_eq!(
        common::count(
            &c.url,
            "SELECT COUNT(*) FROM events WHERE detail = 'an event of the member that failed'"
        ),
        0,
        "the failed member's events are not written"
    );
    assert!(
        common::count(
            &c.url,
            "SELECT COUNT(*) FROM events WHERE message_id = 'group-2@example.org'"
        ) > 0,
        "the kept members' events are written at the group's commit"
    );
    assert_eq!(
        common::count(
            &c.url,
            "SELECT COUNT(*) FROM imap_pending WHERE mailbox = 'support' AND uidvalidity = 7"
        ),
        2,
        "UIDs 1 and 2 await their after-ingest action; the failed member's 9 does not"
    );
    assert_eq!(
        common::count(
            &c.url,
            "SELECT last_uid FROM mailbox_state WHERE mailbox = 'support' AND uidvalidity = 7"
        ),
        2,
        "the mailbox's position is that of its last kept member"
    );
}
