//! One whole daemon in-process (as mini-redis tests its server): the real
//! mail servers, `daemon::run` on a runtime of the test's own, stopped by
//! its cancellation token. A mail becomes a ticket and is acknowledged,
//! and the daemon returns cleanly within its grace period.

mod common;

use common::{Options, Setup};
use postdesk::clock::SystemClock;
use postdesk::daemon::{GRACE, Reload};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[test]
fn a_whole_daemon_runs_in_process_and_stops_on_its_token() {
    let s = Setup::with("inproc", Options::default());
    // The password from a file: the test process's environment stays as it is.
    let secret = s.dir.path().join("imap.secret");
    std::fs::write(&secret, "secret\n").unwrap();
    let text = std::fs::read_to_string(&s.config).unwrap().replace(
        "password_env = \"POSTDESK_TEST_IMAP_PASSWORD\"",
        &format!("password_file = \"{}\"", secret.display()),
    );
    std::fs::write(&s.config, text).unwrap();
    let config = Arc::new(postdesk::config::Config::load(&s.config).unwrap());
    let templates = Arc::new(postdesk::templates::Templates::load(None).unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = postdesk::store::Store::connect(&config.database)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let shutdown = CancellationToken::new();
        let reload = Reload {
            signal: Arc::new(tokio::sync::Notify::new()),
            load: Box::new(|| Err("no reload in this test".into())),
        };
        let daemon = tokio::spawn(postdesk::daemon::run(
            config.clone(),
            store.clone(),
            templates,
            Arc::new(SystemClock),
            shutdown.clone(),
            reload,
        ));
        let customer = s.addr("customer");
        let from = customer.clone();
        let subject = format!("In-process {}", s.tag);
        let id = format!("inproc-{}@example.test", s.tag);
        let to = s.support_address();
        let env = s.env.clone();
        tokio::task::spawn_blocking(move || {
            env.send(
                &from,
                &[&to],
                &common::mail(&from, &to, &subject, &id, "", "Hello"),
            )
        })
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = postdesk::clock::Clock::now(&SystemClock);
            let tickets = store.list_tickets(None, now).await.unwrap();
            if tickets.len() == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "no ticket within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let user = s.user("customer");
        let env = s.env.clone();
        let acks = tokio::task::spawn_blocking(move || {
            env.wait_delivered(&user, 1, Duration::from_secs(30))
        })
        .await
        .unwrap();
        assert_eq!(acks.len(), 1, "no acknowledgement");
        let stopping = Instant::now();
        shutdown.cancel();
        let ended = tokio::time::timeout(GRACE + Duration::from_secs(2), daemon)
            .await
            .expect("the daemon did not stop within its grace period")
            .unwrap();
        assert!(ended.is_ok(), "{ended:?}");
        assert!(
            stopping.elapsed() < GRACE,
            "stopping took {:?}",
            stopping.elapsed()
        );
    });
}
