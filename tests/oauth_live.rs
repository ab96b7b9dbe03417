//! OAuth2 end to end, against real servers: Dovecot validating JWT bearer
//! tokens itself (IMAP XOAUTH2/OAUTHBEARER), Postfix handing SMTP AUTH
//! XOAUTH2 to Dovecot, and a stand-in authorization server issuing
//! short-lived tokens and rotating refresh tokens (`common::oauth_server`).
//! Sign-in by device code and by browser; a mail ticketed and acknowledged
//! over OAuth2 across several token expiries; two instances on PostgreSQL
//! refreshing without spending each other's refresh token; revocation
//! turning `/healthz` red, counted, logged once and mailed once; no token
//! in any log line or in the database unsealed.

mod common;

use common::oauth_server::OAuthServer;
use common::{Db, Options, Setup, free_port, http_get, metric};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A setup whose IMAP (and, with `smtp_oauth`, SMTP) log in with the
/// account `acme` of `server`, tokens sealed with a key file, and an HTTP
/// listener for `/healthz` and `/metrics`.
fn oauth_setup(
    name: &str,
    db: Db,
    server: &OAuthServer,
    smtp_oauth: bool,
    flow: &str,
) -> (Setup, u16) {
    let http = free_port();
    let s = Setup::with(
        name,
        Options {
            db,
            poll_interval: "1s",
            extra: String::new(),
            ..Options::default()
        },
    );
    let key = s.dir.path().join("secret.key");
    std::fs::write(&key, "kQ2w9Yc7VbT1mN4pXr8sZ0aLd3FgHj6E\n").unwrap();
    let support = s.support_address();
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text = text.replace(
        "password_env = \"POSTDESK_TEST_IMAP_PASSWORD\"",
        "auth = \"oauth2\", oauth = \"acme\"",
    );
    text = text.replacen(
        "[database]\n",
        &format!("[database]\nsecret_key_file = \"{}\"\n", key.display()),
        1,
    );
    if smtp_oauth {
        text = text.replacen(
            "[smtp]\n",
            &format!("[smtp]\nusername = \"{support}\"\nauth = \"oauth2\"\noauth = \"acme\"\n"),
            1,
        );
    }
    text.push_str(&server.account_toml("acme", flow));
    text.push_str(&format!(
        "\n[http]\nlisten = \"127.0.0.1:{http}\"\n\n[alerts]\nadmins = [\"{}\"]\n",
        s.addr("admin")
    ));
    std::fs::write(&s.config, text).unwrap();
    (s, http)
}

/// `auth login acme` running, its output read line by line.
struct Login {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    /// What it printed so far.
    out: String,
    /// Its log (stderr), read all along: a log left unread fills the
    /// pipe and stops the command in the middle of a line.
    log: std::thread::JoinHandle<String>,
}

impl Login {
    fn start(s: &Setup) -> Login {
        let mut child = s
            .command()
            .args(["auth", "login", "acme"])
            .env("POSTDESK_LOG", "trace")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
            log
        });
        Login {
            child,
            lines,
            out: String::new(),
            log,
        }
    }

    /// Reads lines until `find` finds what it looks for.
    fn find<T>(&mut self, find: impl Fn(&str) -> Option<T>) -> T {
        loop {
            let line = self
                .lines
                .next()
                .unwrap_or_else(|| panic!("auth login ended early: {}", self.out))
                .unwrap();
            self.out.push_str(&line);
            self.out.push('\n');
            if let Some(v) = find(line.trim()) {
                return v;
            }
        }
    }

    /// The device code it asks the user to enter.
    fn code(&mut self) -> String {
        self.find(|l| l.strip_prefix("2. Enter").map(|c| c.trim().to_string()))
    }

    /// Waits for the end: the exit status and everything it printed.
    fn end(mut self) -> (std::process::ExitStatus, String) {
        drop(self.child.stdin.take());
        for line in self.lines.by_ref() {
            self.out.push_str(&line.unwrap());
            self.out.push('\n');
        }
        let status = wait_child(&mut self.child, Duration::from_secs(30));
        let err = self.log.join().expect("the log reader");
        (status, self.out + &err)
    }
}

/// Runs `auth login acme` and approves its code as `email`; returns its output.
fn device_login(s: &Setup, server: &OAuthServer, email: &str) -> String {
    let mut login = Login::start(s);
    let code = login.code();
    server.approve(&code, email);
    let (status, out) = login.end();
    assert!(status.success(), "auth login failed: {status}\n{out}");
    out
}

fn wait_child(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn status_of(s: &Setup) -> serde_json::Value {
    s.json(&["auth", "status", "--json"])[0].clone()
}

/// `doveadm kick`: the server drops the user's IMAP sessions, as Exchange
/// and Gmail do when a token expires; the daemon reconnects with a fresh one.
fn kick(s: &Setup, user: &str) {
    let st = std::process::Command::new("doveadm")
        .args([
            "-c",
            &s.env.root.join("dovecot.conf").display().to_string(),
            "kick",
            user,
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "doveadm kick: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

/// No token the server issued appears in `text`, as it is or as a SASL
/// response would carry it (base64, XOAUTH2 or OAUTHBEARER for `user`).
fn no_token_in(what: &str, text: &str, server: &OAuthServer, user: &str) {
    let port = common::MailEnv::get().imap_port;
    for t in server.issued() {
        assert!(!text.contains(&t), "a token appears in {what}");
        for sasl in [
            format!("user={user}\x01auth=Bearer {t}\x01\x01"),
            format!("n,a={user},\x01host=localhost\x01port={port}\x01auth=Bearer {t}\x01\x01"),
        ] {
            // The part of the base64 that holds the token whatever the prefix.
            let b64 = data_encoding::BASE64.encode(sasl.as_bytes());
            assert!(
                !text.contains(&b64[..b64.len().min(60)]),
                "a SASL response appears in {what}"
            );
        }
        // Nor the JWT's signature alone (a log that cut the token).
        if let Some(sig) = t.rsplit('.').next().filter(|_| t.contains('.')) {
            assert!(!text.contains(sig), "a token's signature appears in {what}");
        }
    }
}

#[test]
fn device_login_then_mail_over_oauth2_imap_and_smtp_across_token_expiries() {
    let env = common::MailEnv::get();
    let server = OAuthServer::start(&env.root, Duration::from_secs(9));
    let (s, http) = oauth_setup("oauthflow", Db::Sqlite, &server, true, "device");
    let support = s.support_address();

    // Before the sign-in, `check --connect` says what to do.
    let out = s.run(&["check", "--connect"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(78), "{said}");
    assert!(
        said.contains("FAIL OAuth2 account acme has no tokens yet: run `postdesk auth login acme`"),
        "{said}"
    );
    assert_eq!(status_of(&s)["state"], "missing");

    let login = device_login(&s, &server, &support);
    assert!(
        login.contains("1. Open   http://127.0.0.1/device-login"),
        "{login}"
    );
    assert!(login.contains("Signed in: acme."), "{login}");
    assert!(login.contains(&format!("sign in as {support}")), "{login}");
    let st = status_of(&s);
    assert_eq!(st["state"], "ok", "{st}");
    assert_eq!(st["sealed"], true);
    assert!(st["access_expires_at"].is_string() && st["last_refresh_at"].is_string());
    // Sealed: no token is readable in the database.
    let stored = common::column_bytes(
        &s.database_url,
        "SELECT access_token || ' ' || refresh_token FROM oauth_accounts",
    );
    no_token_in(
        "the database",
        &String::from_utf8_lossy(&stored.concat()),
        &server,
        &support,
    );

    let out = s.run(&["check", "--connect"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("ok   oauth acme: signed in"), "{said}");
    assert!(said.contains("ok   smtp"), "{said}");

    // At debug level: the wire (SMTP AUTH, IMAP AUTHENTICATE, the token
    // endpoint) is capped at INFO whatever the filter asks.
    let d = s.start_with_env("daemon", &[("POSTDESK_LOG", "debug")]);
    // Mail through several token lifetimes: each round waits for a
    // refresh, drops the IMAP session (as providers do at expiry) and
    // sends one more mail, which must be ticketed and acknowledged over SMTP.
    for round in 0..4u32 {
        // A customer each: acknowledgements to one address are limited per hour.
        let customer = s.addr(&format!("customer{round}"));
        let refreshed = server.counts(|c| c.refreshes);
        if round > 0 {
            s.wait_for("a refresh", Duration::from_secs(30), || {
                (server.counts(|c| c.refreshes) > refreshed).then_some(())
            });
            kick(&s, &support);
        }
        s.write_to_support(
            &customer,
            &format!("Order {round}"),
            &format!("order-{round}-{}@example.test", s.tag),
            "Where is it?",
        );
        s.wait_for("the ticket", Duration::from_secs(30), || {
            (s.tickets().len() == round as usize + 1).then_some(())
        });
        let acks = s.env.wait_delivered(
            &s.user(&format!("customer{round}")),
            1,
            Duration::from_secs(30),
        );
        assert_eq!(
            acks.len(),
            1,
            "acknowledgement {round} not delivered\n{}",
            d.log()
        );
    }
    assert!(server.counts(|c| c.refreshes) >= 3);
    assert_eq!(
        server.counts(|c| c.invalid_grants),
        0,
        "a spent refresh token was used"
    );

    let (code, body) = http_get(http, "/healthz").unwrap();
    assert_eq!(code, 200, "{body}");
    let (_, metrics) = http_get(http, "/metrics").unwrap();
    let expires = metric(
        &metrics,
        "postdesk_oauth_token_expires_timestamp_seconds{account=\"acme\"}",
    )
    .unwrap_or_else(|| panic!("no expiry gauge:\n{metrics}"));
    let now =
        postdesk::clock::Clock::now(&postdesk::clock::SystemClock).as_millisecond() as f64 / 1000.0;
    assert!(expires > now - 1.0, "the gauge {expires} lags behind {now}");
    assert_eq!(
        metric(
            &metrics,
            "postdesk_oauth_refresh_failures_total{account=\"acme\"}"
        ),
        None
    );

    let log = d.log();
    d.stop();
    // No token anywhere, at debug level (the daemon) and trace (auth login).
    no_token_in("the daemon's log", &log, &server, &support);
    no_token_in("auth login's output", &login, &server, &support);
    assert!(log.contains("OAuth2 token refreshed"), "{log}");
}

#[test]
fn revoked_consent_turns_healthz_red_alerts_once_and_mail_waits_until_a_new_sign_in() {
    let env = common::MailEnv::get();
    let server = OAuthServer::start(&env.root, Duration::from_secs(60));
    // SMTP by password, so that the admins' alert can go out.
    let (s, http) = oauth_setup("oauthrevoke", Db::Sqlite, &server, false, "device");
    let support = s.support_address();
    device_login(&s, &server, &support);
    let d = s.start();
    let customer = s.addr("customer");
    s.write_to_support(
        &customer,
        "Before",
        &format!("before-{}@example.test", s.tag),
        "one",
    );
    s.wait_for("the first ticket", Duration::from_secs(30), || {
        (s.tickets().len() == 1).then_some(())
    });

    // Consent revoked at the provider; the next token is due at once.
    server.revoke(&support);
    server.set_lifetime(Duration::from_secs(3));
    common::exec(
        &s.database_url,
        "UPDATE oauth_accounts SET access_expires_at = last_refresh_at + 3000",
    );
    let body = s.wait_for("/healthz to turn red", Duration::from_secs(40), || {
        http_get(http, "/healthz")
            .filter(|(c, _)| *c == 503)
            .map(|(_, b)| b)
    });
    assert!(body.contains("OAuth2 account acme"), "{body}");
    assert!(body.contains("invalid_grant"), "{body}");
    assert!(body.contains("postdesk auth login acme"), "{body}");
    let (_, metrics) = http_get(http, "/metrics").unwrap();
    assert!(
        metric(
            &metrics,
            "postdesk_oauth_refresh_failures_total{account=\"acme\"}"
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{metrics}"
    );
    let st = status_of(&s);
    assert_eq!(st["state"], "failed", "{st}");
    assert!(
        st["error"].as_str().unwrap().contains("invalid_grant"),
        "{st}"
    );

    // The admins hear of it, once.
    let admin = s.user("admin");
    let alerts = s.env.wait_delivered(&admin, 1, Duration::from_secs(30));
    assert_eq!(alerts.len(), 1, "no alert\n{}", d.log());
    let alert = String::from_utf8_lossy(&alerts[0]).into_owned();
    assert!(
        common::header(&alerts[0], "Subject")
            .unwrap()
            .contains("acme"),
        "{alert}"
    );
    assert!(alert.contains("postdesk auth login acme"), "{alert}");
    assert!(
        alert.contains("reading the mailbox support (IMAP)"),
        "{alert}"
    );

    // The provider drops the session when its token runs out; mail that
    // comes meanwhile waits on the server.
    kick(&s, &support);
    s.write_to_support(
        &customer,
        "During",
        &format!("during-{}@example.test", s.tag),
        "two",
    );
    s.wait_for("the mail in INBOX", Duration::from_secs(20), || {
        (s.env.folder(&s.support, "INBOX") == 1).then_some(())
    });
    // A login attempt after it came, which could not fetch it.
    let attempts = |log: &str| {
        log.lines()
            .filter(|l| l.contains("IMAP connection lost") && l.contains("OAuth2 account acme"))
            .count()
    };
    let before = attempts(&d.log());
    s.wait_for(
        "a failed login with the mail waiting",
        Duration::from_secs(90),
        || (attempts(&d.log()) > before).then_some(()),
    );
    assert_eq!(
        s.tickets().len(),
        1,
        "mail was fetched without a working account"
    );

    // A second daemon (a restart) finds the failure and does not mail again.
    let log1 = d.log();
    d.stop();
    let d = s.start_named("second");
    s.wait_for(
        "the restarted daemon's verdict",
        Duration::from_secs(30),
        || {
            http_get(http, "/healthz")
                .filter(|(c, _)| *c == 503)
                .map(|_| ())
        },
    );
    assert_eq!(
        s.outbox()
            .iter()
            .filter(|o| o["kind"] == "oauth_failed")
            .count(),
        1,
        "the alert went out twice"
    );
    let errors = log1
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("acme"))
        .count();
    assert_eq!(
        errors, 1,
        "the failure is logged once per incident:\n{log1}"
    );

    // A new sign-in mends it: green again, and the waiting mail is ticketed.
    device_login(&s, &server, &support);
    s.wait_for("/healthz to turn green", Duration::from_secs(40), || {
        http_get(http, "/healthz")
            .filter(|(c, _)| *c == 200)
            .map(|_| ())
    });
    s.wait_for("the waiting mail's ticket", Duration::from_secs(30), || {
        (s.tickets().len() == 2).then_some(())
    });
    assert_eq!(status_of(&s)["state"], "ok");
    let log2 = d.log();
    d.stop();
    no_token_in("the logs", &(log1 + &log2), &server, &support);
}

#[test]
fn two_instances_on_postgres_refresh_without_spending_each_others_token() {
    if std::env::var_os("POSTDESK_TEST_PG").is_none() {
        eprintln!("POSTDESK_TEST_PG not set: skipped");
        return;
    }
    let env = common::MailEnv::get();
    let server = OAuthServer::start(&env.root, Duration::from_secs(6));
    let (s, _) = oauth_setup("oauthtwo", Db::Postgres, &server, true, "device");
    // One HTTP port for one instance only.
    let text = std::fs::read_to_string(&s.config).unwrap();
    let text = text.split("\n[http]").next().unwrap().to_string()
        + &format!("\n[alerts]\nadmins = [\"{}\"]\n", s.addr("admin"));
    std::fs::write(&s.config, text).unwrap();
    let support = s.support_address();
    device_login(&s, &server, &support);
    let a = s.start_named("a");
    let b = s.start_named("b");
    let start = server.counts(|c| c.refreshes);
    s.wait_for("four refreshes", Duration::from_secs(60), || {
        (server.counts(|c| c.refreshes) >= start + 4).then_some(())
    });
    let customer = s.addr("customer");
    s.write_to_support(
        &customer,
        "Both",
        &format!("both-{}@example.test", s.tag),
        "hello",
    );
    s.wait_for("the ticket", Duration::from_secs(30), || {
        (s.tickets().len() == 1).then_some(())
    });
    assert_eq!(
        s.env
            .wait_delivered(&s.user("customer"), 1, Duration::from_secs(30))
            .len(),
        1
    );
    assert_eq!(
        server.counts(|c| c.invalid_grants),
        0,
        "an instance spent a rotated refresh token"
    );
    assert_eq!(status_of(&s)["state"], "ok");
    let (la, lb) = (a.log(), b.log());
    a.stop();
    b.stop();
    for log in [&la, &lb] {
        assert!(!log.contains("ERROR"), "{log}");
        assert!(log.contains("postdesk running"), "{log}");
    }
}

#[test]
fn mail_waits_in_the_outbox_for_a_sign_in_however_old_it_gets() {
    let env = common::MailEnv::get();
    let server = OAuthServer::start(&env.root, Duration::from_secs(60));
    // SMTP by OAuth2, never signed in; IMAP by password.
    let (s, _) = oauth_setup("oauthwait", Db::Sqlite, &server, true, "device");
    let text = std::fs::read_to_string(&s.config).unwrap().replacen(
        "auth = \"oauth2\", oauth = \"acme\",",
        "password_env = \"POSTDESK_TEST_IMAP_PASSWORD\",",
        1,
    );
    std::fs::write(&s.config, text).unwrap();
    let d = s.start();
    let customer = s.addr("customer");
    s.write_to_support(
        &customer,
        "Waiting",
        &format!("wait-{}@example.test", s.tag),
        "hello",
    );
    s.wait_for("the ticket", Duration::from_secs(30), || {
        (s.tickets().len() == 1).then_some(())
    });
    let blocked = s.wait_for("a blocked attempt", Duration::from_secs(30), || {
        s.outbox()
            .into_iter()
            .find(|o| o["kind"] == "ack" && o["attempts"].as_i64().unwrap_or(0) >= 1)
    });
    assert_eq!(blocked["status"], "queued", "{blocked}");
    // Older than give_up_after (3 days): still waiting, not failed.
    common::exec(
        &s.database_url,
        "UPDATE outbox SET created_at = created_at - 345600000",
    );
    let attempts = blocked["attempts"].as_i64().unwrap();
    s.wait_for("another blocked attempt", Duration::from_secs(30), || {
        s.outbox()
            .into_iter()
            .find(|o| o["kind"] == "ack" && o["attempts"].as_i64().unwrap_or(0) > attempts)
    });
    let ack = s.outbox().into_iter().find(|o| o["kind"] == "ack").unwrap();
    assert_eq!(ack["status"], "queued", "{ack}");
    assert!(
        d.log().contains("delivery waits for a new OAuth2 sign-in"),
        "{}",
        d.log()
    );
    device_login(&s, &server, &s.support_address());
    let acks = s
        .env
        .wait_delivered(&s.user("customer"), 1, Duration::from_secs(30));
    assert_eq!(acks.len(), 1, "{}", d.log());
}

#[test]
fn browser_sign_in_by_the_loopback_redirect_or_a_pasted_address() {
    let env = common::MailEnv::get();
    let server = OAuthServer::start(&env.root, Duration::from_secs(60));
    let (s, _) = oauth_setup("oauthbrowser", Db::Sqlite, &server, false, "browser");
    let support = s.support_address();
    server.browser_signs_in_as(&support);
    for pasted in [false, true] {
        let mut login = Login::start(&s);
        let url = login.find(|l| l.starts_with("http://127.0.0.1:").then(|| l.to_string()));
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        // The user's browser: the provider answers with a redirect to the loopback.
        let location = redirect_of(&url);
        assert!(location.starts_with("http://127.0.0.1:"), "{location}");
        if pasted {
            // The browser ran elsewhere: the admin pastes the address.
            writeln!(login.child.stdin.as_mut().unwrap(), "{location}").unwrap();
        } else {
            let (lport, lpath) = location
                .trim_start_matches("http://127.0.0.1:")
                .split_once('/')
                .unwrap();
            let lport: u16 = lport.parse().unwrap();
            // Strangers first: a connection that says nothing, and an
            // answer to another sign-in. Neither ends this one.
            let _idle = std::net::TcpStream::connect(("127.0.0.1", lport)).unwrap();
            let (c, _) = http_get(lport, "/?code=forged&state=not-ours").unwrap();
            assert_eq!(c, 400);
            let (c, body) = http_get(lport, &format!("/{lpath}")).unwrap();
            assert_eq!(c, 200, "{body}");
        }
        let (st, out) = login.end();
        assert!(
            st.success(),
            "browser sign-in (pasted: {pasted}) failed: {out}"
        );
        assert_eq!(status_of(&s)["state"], "ok");
    }
    assert_eq!(server.counts(|c| c.codes_exchanged), 2);
}

/// The `Location` a GET of `url` answers with (its case kept: the state
/// and the code are case-sensitive).
fn redirect_of(url: &str) -> String {
    use std::io::Read;
    let rest = url.trim_start_matches("http://127.0.0.1:");
    let (port, path) = rest.split_once('/').unwrap();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    write!(
        c,
        "GET /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 303"), "{text}");
    text.lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .unwrap_or_else(|| panic!("no Location: {text}"))
        .trim()
        .to_string()
}

#[test]
fn a_declined_device_code_is_refused_with_the_providers_words() {
    let env = common::MailEnv::get();
    let server = OAuthServer::start(&env.root, Duration::from_secs(60));
    let (s, _) = oauth_setup("oauthdeny", Db::Sqlite, &server, false, "device");
    let mut login = Login::start(&s);
    let code = login.code();
    server.deny(&code);
    let (st, err) = login.end();
    assert_eq!(st.code(), Some(78), "{err}");
    assert!(err.contains("access_denied"), "{err}");
    assert_eq!(status_of(&s)["state"], "missing");
}

#[test]
fn a_token_for_another_user_is_refused_with_the_servers_words() {
    let env = common::MailEnv::get();
    let server = OAuthServer::start(&env.root, Duration::from_secs(60));
    let (s, _) = oauth_setup("oauthuser", Db::Sqlite, &server, false, "device");
    // The admin signed in with the wrong account.
    device_login(&s, &server, &s.addr("someone-else"));
    let out = s.run(&["check", "--connect"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(78), "{said}");
    let support = s.support_address();
    assert!(
        said.contains(&format!(
            "FAIL mailbox support: login refused for {support}"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("check the user name and that the OAuth2 account acme was signed in as {support} and may use IMAP")),
        "{said}"
    );
    // Dovecot's error challenge, passed on.
    assert!(
        said.contains("invalid_token") || said.contains("\"status\""),
        "{said}"
    );
}
