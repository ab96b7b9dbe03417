//! OAuth2 refresh on both databases, in-process with a manual clock: many
//! callers in two "instances" (two authorities, two owners, one database)
//! spend a rotating refresh token exactly once and all get its result; a
//! refused refresh is kept for every instance without a second attempt;
//! a new sign-in ends it.

#[macro_use]
mod common;

use common::Db;
use common::cli::Cli;
use common::oauth_server::OAuthServer;
use postdesk::clock::{Clock, ManualClock};
use postdesk::oauth::provider::Granted;
use postdesk::oauth::{Authority, OAuthError};
use std::sync::Arc;
use std::time::Duration;

on_both_databases!(
    callers_in_two_instances_refresh_once_and_share_a_refusal,
    a_claim_is_one_owners_and_only_on_the_generation_read
);

fn a_claim_is_one_owners_and_only_on_the_generation_read(db: Db) {
    let server = OAuthServer::start_keyed(b"k".repeat(32), "k", "test", Duration::from_secs(60));
    let c = Cli::with_config(db, "", &server.account_toml("acme", "device"));
    c.in_process(async |_config, store| {
        let now = postdesk::clock::SystemClock.now();
        let later = now + jiff::SignedDuration::from_secs(90);
        let tokens = postdesk::store::NewTokens {
            access_token: "plain:a",
            access_expires_at: later,
            refresh_token: Some("plain:r"),
            scope: None,
        };
        store.oauth_signed_in("acme", &tokens, now).await.unwrap();
        let g = store
            .oauth_account("acme")
            .await
            .unwrap()
            .unwrap()
            .generation;
        // A stale generation: someone wrote newer tokens since it was read.
        assert!(
            !store
                .oauth_claim_refresh("acme", g - 1, "one", now, later)
                .await
                .unwrap()
        );
        assert!(
            store
                .oauth_claim_refresh("acme", g, "one", now, later)
                .await
                .unwrap()
        );
        // Held: not by the other owner, and not again by the same one.
        assert!(
            !store
                .oauth_claim_refresh("acme", g, "two", now, later)
                .await
                .unwrap()
        );
        assert!(
            !store
                .oauth_claim_refresh("acme", g, "one", now, later)
                .await
                .unwrap()
        );
        // A claim that ran out can be taken over.
        let after = later + jiff::SignedDuration::from_secs(1);
        assert!(
            store
                .oauth_claim_refresh(
                    "acme",
                    g,
                    "two",
                    after,
                    after + jiff::SignedDuration::from_secs(90)
                )
                .await
                .unwrap()
        );
        // A sign-in during the refresh wins: the refresh's write is refused,
        // and so is a refusal of the token it spent.
        store.oauth_signed_in("acme", &tokens, now).await.unwrap();
        assert!(
            !store
                .oauth_refreshed("acme", g, &tokens, now)
                .await
                .unwrap()
        );
        store
            .oauth_refresh_failed("acme", g, "invalid_grant", now)
            .await
            .unwrap();
        let row = store.oauth_account("acme").await.unwrap().unwrap();
        assert_eq!(row.generation, g + 1);
        assert!(row.failed_at.is_none(), "{row:?}");
    });
}

fn callers_in_two_instances_refresh_once_and_share_a_refusal(db: Db) {
    let server = OAuthServer::start_keyed(
        b"0123456789abcdef0123456789abcdef".to_vec(),
        "k",
        "test",
        Duration::from_secs(60),
    );
    let c = Cli::with_config(db, "", &server.account_toml("acme", "device"));
    let clock = ManualClock::new(postdesk::clock::SystemClock.now());
    c.in_process(async |config, store| {
        let authority = |owner: &str| {
            Authority::new(
                store.clone(),
                config.oauth.clone(),
                Some("sealing key"),
                Arc::new(clock.clone()),
                owner.to_string(),
                None,
            )
        };
        let (one, two) = (authority("instance-one"), authority("instance-two"));
        let (access, refresh) = server.grant("support@example.com");
        one.signed_in(
            "acme",
            &Granted {
                access_token: access.clone(),
                expires_at: clock.now() + jiff::SignedDuration::from_secs(60),
                refresh_token: Some(refresh),
                scope: Some("mail".into()),
            },
        )
        .await
        .unwrap();
        // Fresh: no refresh, the same token for both.
        assert_eq!(two.access_token("acme").await.unwrap(), access);
        assert_eq!(server.counts(|c| c.refreshes), 0);

        // Due: sixteen callers at once, eight per instance.
        clock.advance(jiff::SignedDuration::from_secs(59));
        let calls = (0..16).map(|i| {
            let a = if i % 2 == 0 { &one } else { &two };
            a.access_token("acme")
        });
        let tokens: Vec<String> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            server.counts(|c| c.refreshes),
            1,
            "refreshed more than once"
        );
        assert_eq!(server.counts(|c| c.invalid_grants), 0);
        assert_ne!(tokens[0], access);
        assert!(
            tokens.iter().all(|t| *t == tokens[0]),
            "callers got different tokens"
        );

        // Consent revoked: the first refresh is refused, and the other
        // instance learns it from the database without trying again.
        server.revoke("support@example.com");
        clock.advance(jiff::SignedDuration::from_secs(60));
        let e = one.access_token("acme").await.unwrap_err();
        assert!(matches!(e, OAuthError::Refused { .. }), "{e}");
        assert!(e.to_string().contains("postdesk auth login acme"), "{e}");
        let e = two.access_token("acme").await.unwrap_err();
        assert!(matches!(e, OAuthError::Refused { .. }), "{e}");
        assert_eq!(server.counts(|c| c.refreshes), 2);
        assert_eq!(server.counts(|c| c.invalid_grants), 1);
        let status = two.status().await.unwrap();
        assert_eq!(status[0].state, "failed");
        assert!(status[0].sealed);

        // A new sign-in ends the incident for both.
        let (access, refresh) = server.grant("support@example.com");
        two.signed_in(
            "acme",
            &Granted {
                access_token: access.clone(),
                expires_at: clock.now() + jiff::SignedDuration::from_secs(60),
                refresh_token: Some(refresh),
                scope: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(one.access_token("acme").await.unwrap(), access);
        assert_eq!(one.status().await.unwrap()[0].state, "ok");
        // A key that is not the one the tokens were sealed with.
        let stranger = Authority::new(
            store.clone(),
            config.oauth.clone(),
            Some("another key"),
            Arc::new(clock.clone()),
            "instance-three".into(),
            None,
        );
        let e = stranger.access_token("acme").await.unwrap_err();
        assert!(
            e.to_string()
                .contains("do not open with the configured key"),
            "{e}"
        );
    });
}
