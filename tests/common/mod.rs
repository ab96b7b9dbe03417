//! Test support: the real mail servers started by `scripts/mailenv.sh`
//! (found through `POSTDESK_MAILENV`, the instance's root directory), a
//! postdesk configuration per test with its own addresses, the daemon as a
//! child process, SMTP sending, and reading delivered mail from the Maildirs.
#![allow(dead_code)]

pub mod answer;
pub mod cli;
pub mod oauth_server;
pub mod team;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_postdesk");

/// The running mail servers.
#[derive(Debug, Clone)]
pub struct MailEnv {
    pub root: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    /// SMTP with TLS from the first byte.
    pub smtps_port: u16,
    pub lmtp_port: u16,
    pub ca: PathBuf,
}

impl MailEnv {
    /// The servers of `POSTDESK_MAILENV`; fails the test with directions when absent.
    pub fn get() -> MailEnv {
        let root = std::env::var("POSTDESK_MAILENV").unwrap_or_else(|_| {
            panic!(
                "POSTDESK_MAILENV is not set: these tests need the real mail servers. \
                 Run scripts/test.sh, or start them with `scripts/mailenv.sh start DIR 11000` \
                 and set POSTDESK_MAILENV=DIR"
            )
        });
        MailEnv::from_root(Path::new(&root))
    }

    /// Runs one of the script's commands on this instance (`stop-imap`, ...).
    pub fn script(&self, command: &str) {
        let st = Command::new("bash")
            .arg(repo().join("scripts/mailenv.sh"))
            .args([command, self.root.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success(), "mailenv.sh {command} failed");
    }

    /// The instance whose files are in `root`.
    pub fn from_root(root: &Path) -> MailEnv {
        let root = root.display().to_string();
        let env = std::fs::read_to_string(Path::new(&root).join("env")).unwrap_or_else(|e| {
            panic!("cannot read {root}/env ({e}): is the mail environment started?")
        });
        let get = |k: &str| -> String {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} missing from {root}/env"))
                .to_string()
        };
        MailEnv {
            root: PathBuf::from(get("POSTDESK_MAILENV_ROOT")),
            imap_port: get("POSTDESK_MAILENV_IMAP_PORT").parse().unwrap(),
            imaps_port: get("POSTDESK_MAILENV_IMAPS_PORT").parse().unwrap(),
            smtp_port: get("POSTDESK_MAILENV_SMTP_PORT").parse().unwrap(),
            smtps_port: get("POSTDESK_MAILENV_SMTPS_PORT").parse().unwrap(),
            lmtp_port: get("POSTDESK_MAILENV_LMTP_PORT").parse().unwrap(),
            ca: PathBuf::from(get("POSTDESK_MAILENV_CA")),
        }
    }

    /// Messages of `user@example.test` in one folder (`INBOX`, or a folder name).
    pub fn folder(&self, user: &str, folder: &str) -> usize {
        let mut dir = self
            .root
            .join("mail/example.test")
            .join(user)
            .join("Maildir");
        if folder != "INBOX" {
            dir = dir.join(format!(".{folder}"));
        }
        ["new", "cur"]
            .iter()
            .map(|sub| {
                std::fs::read_dir(dir.join(sub))
                    .map(|rd| rd.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Every message delivered to `user@example.test`, in any folder.
    pub fn delivered(&self, user: &str) -> Vec<Vec<u8>> {
        let dir = self
            .root
            .join("mail/example.test")
            .join(user)
            .join("Maildir");
        let mut out = Vec::new();
        let mut dirs = vec![dir.clone()];
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with('.') && e.path().is_dir() {
                    dirs.push(e.path());
                }
            }
        }
        for d in dirs {
            for sub in ["new", "cur"] {
                if let Ok(rd) = std::fs::read_dir(d.join(sub)) {
                    for e in rd.flatten() {
                        if let Ok(b) = std::fs::read(e.path()) {
                            out.push(b);
                        }
                    }
                }
            }
        }
        out
    }

    /// Waits until `user` has at least `n` messages; returns them.
    pub fn wait_delivered(&self, user: &str, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.delivered(user);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Gives `user` a real Sieve vacation autoresponder (Dovecot Pigeonhole):
    /// like every RFC 5230 responder it ignores mail marked Auto-Submitted,
    /// and answers human mail once a day per sender.
    pub fn vacation(&self, user: &str) {
        let path = self.root.join("sieve").join(format!("{user}.sieve"));
        std::fs::write(&path, "require [\"vacation\"];\nvacation :days 1 :subject \"Out of office\" \"I am away until Monday.\";\n")
            .unwrap();
        std::os::unix::fs::chown(&path, Some(5000), Some(5000)).unwrap();
    }

    /// Sends `raw` over SMTP through Postfix.
    pub fn send(&self, from: &str, to: &[&str], raw: &[u8]) {
        smtp_send(self.smtp_port, from, to, raw)
            .unwrap_or_else(|e| panic!("SMTP send failed: {e}"));
    }

    /// Makes Postfix answer `reply` (e.g. `451 4.3.0 Try later`) for `rcpt`,
    /// or accept it again when `reply` is None.
    pub fn set_recipient_access(&self, rcpt: &str, reply: Option<&str>) {
        // Tests run in parallel: one lock around the read-modify-write, and a
        // rename so that an smtpd starting meanwhile never reads half a file
        // (a bad line is fatal to smtpd and Postfix then throttles the service).
        let lock = std::fs::File::create(self.root.join("postfix/recipient_access.lock")).unwrap();
        lock.lock().unwrap();
        let path = self.root.join("postfix/recipient_access");
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        let mut lines: Vec<String> = current
            .lines()
            .filter(|l| !l.starts_with(&format!("{rcpt} ")))
            .map(str::to_string)
            .collect();
        if let Some(r) = reply {
            lines.push(format!("{rcpt} {r}"));
        }
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, lines.join("\n") + "\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        let st = Command::new("bash")
            .arg(repo().join("scripts/mailenv.sh"))
            .args(["reload", self.root.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success(), "postfix reload failed");
        drop(lock);
    }
}

/// The second IMAP server of the tests (Cyrus, `scripts/imapalt.sh`), found
/// through `POSTDESK_IMAPALT` (plain IMAP, any user, password "secret"), or
/// `POSTDESK_IMAPALT_NOMOVE` for the instance that does not offer MOVE.
#[derive(Debug, Clone)]
pub struct AltImap {
    pub imap_port: u16,
    pub lmtp_port: u16,
}

impl AltImap {
    pub fn get(var: &str) -> AltImap {
        let root = std::env::var(var).unwrap_or_else(|_| {
            panic!(
                "{var} is not set: these tests need the second IMAP server. \
                 Run scripts/test.sh, or `scripts/imapalt.sh start DIR 13000` and set {var}=DIR"
            )
        });
        let env = std::fs::read_to_string(Path::new(&root).join("env"))
            .unwrap_or_else(|e| panic!("cannot read {root}/env ({e})"));
        let get = |k: &str| -> u16 {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} missing from {root}/env"))
                .parse()
                .unwrap()
        };
        AltImap {
            imap_port: get("POSTDESK_IMAPALT_IMAP_PORT"),
            lmtp_port: get("POSTDESK_IMAPALT_LMTP_PORT"),
        }
    }

    /// Delivers `raw` to `user@example.test` over the server's LMTP.
    pub fn deliver(&self, from: &str, user: &str, raw: &[u8]) {
        lmtp_send(self.lmtp_port, from, &format!("{user}@example.test"), raw)
            .unwrap_or_else(|e| panic!("LMTP to the second IMAP server failed: {e}"));
    }

    /// A logged-in session as `user@example.test`.
    pub async fn session(&self, user: &str) -> postdesk::imap::ImapSession {
        let cfg = postdesk::config::ServerConfig {
            host: "127.0.0.1".into(),
            port: self.imap_port,
            security: postdesk::config::Security::None,
            username: Some(format!("{user}@example.test")),
            password: Some(postdesk::config::Secret::new("secret")),
            oauth: None,
            ca_file: None,
            timeout: jiff::SignedDuration::from_secs(10),
        };
        postdesk::imap::connect(&cfg, &postdesk::oauth::Login::Password("secret".into()))
            .await
            .unwrap()
    }

    /// Messages in `user`'s `folder` (its full server name).
    pub fn count(&self, user: &str, folder: &str) -> u32 {
        block_on(async {
            let mut s = self.session(user).await;
            let n = s.examine(folder).await.map(|m| m.exists).unwrap_or(0);
            let _ = s.logout().await;
            n
        })
    }
}

/// A mail environment of a test's own (for tests that stop servers), on
/// ports no other instance uses; stopped when dropped.
pub struct PrivateMailEnv {
    pub env: MailEnv,
    _dir: tempfile::TempDir,
}

impl PrivateMailEnv {
    /// Starts on the first base whose ports are free (other programs may
    /// hold any we pick), trying others when a start fails anyway.
    pub fn start(slot: u16) -> PrivateMailEnv {
        let free = |base: u16| {
            [24u16, 25, 26, 143, 465, 993]
                .iter()
                .all(|o| std::net::TcpListener::bind(("127.0.0.1", base + o)).is_ok())
        };
        let first = (std::process::id() as u16 % 7) * 2 + slot;
        for attempt in 0..17u16 {
            // Bases 13000, 14000 … 29000: below the ephemeral range.
            let base = 13_000 + ((first + attempt * 3) % 17) * 1_000;
            if !free(base) {
                continue;
            }
            let dir = tempfile::Builder::new()
                .prefix("postdesk-env-")
                .tempdir()
                .unwrap();
            let st = Command::new("bash")
                .arg(repo().join("scripts/mailenv.sh"))
                .args(["start", dir.path().to_str().unwrap(), &base.to_string()])
                .status()
                .unwrap();
            if st.success() {
                return PrivateMailEnv {
                    env: MailEnv::from_root(dir.path()),
                    _dir: dir,
                };
            }
            let _ = Command::new("bash")
                .arg(repo().join("scripts/mailenv.sh"))
                .args(["stop", dir.path().to_str().unwrap()])
                .status();
        }
        panic!("could not start a private mail environment on any free base port");
    }
}

impl Drop for PrivateMailEnv {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/mailenv.sh"))
            .args(["stop", self.env.root.to_str().unwrap()])
            .status();
    }
}

/// Delivers `raw` straight into Dovecot over LMTP (bypassing Postfix).
pub fn lmtp_send(port: u16, from: &str, to: &str, raw: &[u8]) -> Result<(), String> {
    smtp_like(port, "LHLO", from, &[to], raw)
}

/// A minimal SMTP client (no TLS; loopback only), so tests speak the protocol themselves.
pub fn smtp_send(port: u16, from: &str, to: &[&str], raw: &[u8]) -> Result<(), String> {
    smtp_like(port, "EHLO", from, to, raw)
}

/// SMTP, or LMTP with `LHLO` (which answers the dot once per recipient).
fn smtp_like(port: u16, hello: &str, from: &str, to: &[&str], raw: &[u8]) -> Result<(), String> {
    use std::io::{BufRead, BufReader, Write};
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let expect = |r: &mut BufReader<std::net::TcpStream>, code: &str| -> Result<(), String> {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).map_err(|e| e.to_string())?;
            if !line.starts_with(code) {
                return Err(format!("expected {code}, got {line:?}"));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    };
    expect(&mut r, "220")?;
    let cmd = |w: &mut std::net::TcpStream, c: String| {
        w.write_all(c.as_bytes()).map_err(|e| e.to_string())
    };
    cmd(&mut w, format!("{hello} test.example\r\n"))?;
    expect(&mut r, "250")?;
    cmd(&mut w, format!("MAIL FROM:<{from}>\r\n"))?;
    expect(&mut r, "250")?;
    for t in to {
        cmd(&mut w, format!("RCPT TO:<{t}>\r\n"))?;
        expect(&mut r, "250")?;
    }
    cmd(&mut w, "DATA\r\n".into())?;
    expect(&mut r, "354")?;
    let mut body = Vec::with_capacity(raw.len() + 8);
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            body.push(b'.');
        }
        body.extend_from_slice(line);
    }
    if !body.ends_with(b"\n") {
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b".\r\n");
    w.write_all(&body).map_err(|e| e.to_string())?;
    let answers = if hello == "LHLO" { to.len() } else { 1 };
    for _ in 0..answers {
        expect(&mut r, "250")?;
    }
    cmd(&mut w, "QUIT\r\n".into())?;
    Ok(())
}

/// Which database a test runs on. Every test that touches storage runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generates `sqlite::NAME` and `postgres::NAME` tests from `fn NAME(db: Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::common::Db::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::common::Db::Postgres) } )*
        }
    };
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The PostgreSQL server of the tests (`POSTDESK_TEST_PG`, a URL to an
/// existing database whose role may create databases).
pub fn pg_admin_url() -> String {
    std::env::var("POSTDESK_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database for one test, dropped with this value.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub fn create(tag: &str) -> PgDatabase {
        let admin = pg_admin_url();
        let name = format!("postdesk_test_{}", tag.replace('-', "_").to_lowercase());
        block_on(async {
            use sqlx::{Connection, Executor};
            let mut c = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL tests need a server at {admin} (set POSTDESK_TEST_PG; \
                     scripts/postgres.sh ensure starts one): {e}"
                    )
                });
            c.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
        });
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // POSTDESK_TEST_KEEP=1 keeps the database too, for a look afterwards.
        if std::env::var_os("POSTDESK_TEST_KEEP").is_some() {
            eprintln!("kept PostgreSQL database {}", self.url);
            return;
        }
        let admin = pg_admin_url();
        let name = self.name.clone();
        let _ = block_on(async move {
            use sqlx::{Connection, Executor};
            let mut c = sqlx::PgConnection::connect(&admin).await?;
            c.execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
            Ok::<_, sqlx::Error>(())
        });
    }
}

/// A database for one test: a file in `dir`, or a fresh PostgreSQL database.
pub fn test_database(db: Db, dir: &Path, tag: &str) -> (String, Option<PgDatabase>) {
    match db {
        Db::Sqlite => (
            format!("sqlite://{}", dir.join("postdesk.db").display()),
            None,
        ),
        Db::Postgres => {
            let pg = PgDatabase::create(tag);
            (pg.url.clone(), Some(pg))
        }
    }
}

/// Runs one statement on a test database (either backend), for setting up
/// states that no command produces yet.
pub fn exec(url: &str, sql: &str) {
    block_on(async {
        use sqlx::{Connection, Executor};
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
        c.execute(sqlx::AssertSqlSafe(sql.to_string()))
            .await
            .unwrap();
    })
}

/// `SELECT COUNT(*) ...` on a test database (either backend).
pub fn count(url: &str, sql: &str) -> i64 {
    block_on(async {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&mut c)
            .await
            .unwrap();
        n
    })
}

/// The first column of every row of a query, as bytes (a BLOB or TEXT
/// column), on a test database of either backend.
pub fn column_bytes(url: &str, sql: &str) -> Vec<Vec<u8>> {
    block_on(async {
        use sqlx::{Connection, Row};
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut c)
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                r.try_get::<Vec<u8>, _>(0)
                    .or_else(|_| r.try_get::<String, _>(0).map(String::into_bytes))
                    .unwrap()
            })
            .collect()
    })
}

/// The address in a header value like `Name <a@b>` (or a bare address).
pub fn address_in(h: &str) -> String {
    h.rsplit('<')
        .next()
        .unwrap()
        .trim_end_matches('>')
        .trim()
        .to_string()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A short random tag so each test run gets fresh mailboxes.
pub fn run_tag() -> String {
    let mut b = [0u8; 6];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One test's postdesk: its directory, config, database and addresses.
pub struct Setup {
    pub env: MailEnv,
    pub dir: tempfile::TempDir,
    pub database_url: String,
    _pg: Option<PgDatabase>,
    /// `support-<tag>`: the local part of the support mailbox.
    pub support: String,
    pub tag: String,
    pub config: PathBuf,
}

/// Options of a test configuration.
pub struct Options {
    pub idle: bool,
    pub poll_interval: &'static str,
    pub after_ingest: &'static str,
    pub retry: &'static str,
    pub extra: String,
    pub db: Db,
    /// IMAP and SMTP with implicit TLS (the IMAPS and SMTPS ports) instead
    /// of STARTTLS.
    pub imaps: bool,
    /// Servers of the test's own instead of the shared ones.
    pub env: Option<MailEnv>,
    /// The folder postdesk reads.
    pub folder: &'static str,
    /// The support mailbox lives on the second IMAP server instead of Dovecot.
    pub imap_alt: Option<AltImap>,
    /// Send through this port of 127.0.0.1 (STARTTLS) instead of Postfix's.
    pub smtp_port: Option<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            idle: true,
            poll_interval: "2s",
            after_ingest: "move:Processed",
            retry: r#"["1s", "2s"]"#,
            extra: String::new(),
            db: Db::Sqlite,
            imaps: false,
            env: None,
            folder: "INBOX",
            imap_alt: None,
            smtp_port: None,
        }
    }
}

impl Setup {
    pub fn new(name: &str, db: Db) -> Setup {
        Setup::with(
            name,
            Options {
                db,
                ..Options::default()
            },
        )
    }

    pub fn with(name: &str, o: Options) -> Setup {
        Setup::with_tag(format!("{name}-{}", run_tag()), o)
    }

    /// A setup whose addresses end in `tag` (`support-TAG`, `customer-TAG`).
    pub fn with_tag(tag: String, o: Options) -> Setup {
        let env = o.env.clone().unwrap_or_else(MailEnv::get);
        let name = tag.split('-').next().unwrap_or("t").to_string();
        let support = format!("support-{tag}");
        // POSTDESK_TEST_KEEP=1 keeps each test's directory (config, database, daemon.log).
        let dir = tempfile::Builder::new()
            .prefix(&format!("postdesk-{name}-"))
            .disable_cleanup(std::env::var_os("POSTDESK_TEST_KEEP").is_some())
            .tempdir()
            .unwrap();
        let (db, pg) = test_database(o.db, dir.path(), &tag);
        let config = dir.path().join("postdesk.toml");
        let text = format!(
            r#"
[database]
url = "{db}"

[smtp]
host = "127.0.0.1"
port = {smtp}
security = "{smtp_security}"
ca_file = "{ca}"
timeout = "5s"

[outbox]
retry = {retry}
idle_timeout = "1s"

[[mailbox]]
name = "support"
address = "{support}@example.test"
display_name = "Test Support"
imap = {{ host = "{imap_host}", port = {imap}, security = "{imap_security}", username = "{support}@example.test", password_env = "POSTDESK_TEST_IMAP_PASSWORD", ca_file = "{ca}", timeout = "10s" }}
idle = {idle}
folder = "{folder}"
poll_interval = "{poll}"
after_ingest = "{after}"
{extra}
"#,
            smtp = match (o.smtp_port, o.imaps) {
                (Some(port), _) => port,
                (None, true) => env.smtps_port,
                (None, false) => env.smtp_port,
            },
            smtp_security = if o.imaps { "tls" } else { "starttls" },
            imap = match (&o.imap_alt, o.imaps) {
                (Some(alt), _) => alt.imap_port,
                (None, true) => env.imaps_port,
                (None, false) => env.imap_port,
            },
            imap_host = if o.imap_alt.is_some() {
                "127.0.0.1"
            } else {
                "localhost"
            },
            imap_security = match (&o.imap_alt, o.imaps) {
                (Some(_), _) => "none",
                (None, true) => "tls",
                (None, false) => "starttls",
            },
            ca = env.ca.display(),
            retry = o.retry,
            idle = o.idle,
            poll = o.poll_interval,
            folder = o.folder,
            after = o.after_ingest,
            extra = o.extra,
        );
        std::fs::write(&config, text).unwrap();
        Setup {
            env,
            dir,
            database_url: db,
            _pg: pg,
            support,
            tag,
            config,
        }
    }

    /// `from` writes to the support address over SMTP: a plain mail with
    /// this subject, Message-ID and body.
    pub fn write_to_support(&self, from: &str, subject: &str, message_id: &str, body: &str) {
        let to = self.support_address();
        self.env.send(
            from,
            &[&to],
            &mail(from, &to, subject, message_id, "", body),
        );
    }

    pub fn support_address(&self) -> String {
        format!("{}@example.test", self.support)
    }

    /// A per-test address: `customer-<tag>@example.test` for `user("customer")`.
    pub fn user(&self, who: &str) -> String {
        format!("{who}-{}", self.tag)
    }

    pub fn addr(&self, who: &str) -> String {
        format!("{}@example.test", self.user(who))
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&self.config)
            .env("POSTDESK_TEST_IMAP_PASSWORD", "secret")
            .env(
                "POSTDESK_LOG",
                std::env::var("POSTDESK_TEST_LOG").unwrap_or("info,sqlx=warn".into()),
            );
        c
    }

    /// Runs a postdesk command to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs a command that must succeed and parses its stdout as JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "postdesk {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "postdesk {args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn tickets(&self) -> Vec<serde_json::Value> {
        self.json(&["tickets", "list", "--json"])
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn outbox(&self) -> Vec<serde_json::Value> {
        self.json(&["outbox", "list", "--json"])
            .as_array()
            .unwrap()
            .clone()
    }

    /// Starts `postdesk run`; its log goes to `daemon.log` in the test directory.
    pub fn start(&self) -> Daemon {
        self.start_named("daemon")
    }

    /// Starts another `postdesk run` on the same configuration, logging to `NAME.log`.
    pub fn start_named(&self, name: &str) -> Daemon {
        self.start_with_env(name, &[])
    }

    /// As [`Setup::start_named`], with more environment variables.
    pub fn start_with_env(&self, name: &str, env: &[(&str, &str)]) -> Daemon {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = self
            .command()
            .arg("run")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Daemon {
            child: Some(child),
            log,
        }
    }

    /// Polls `f` until it returns Some, or panics after `timeout` naming `what`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default();
                panic!("timed out waiting for {what}\n--- daemon log ---\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A running `postdesk run`; killed when dropped.
pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status();
    }

    /// SIGTERM, then waits; returns the exit status and how long it took.
    pub fn stop(mut self) -> (std::process::ExitStatus, Duration) {
        let start = Instant::now();
        self.signal("-TERM");
        let mut child = self.child.take().unwrap();
        let deadline = start + Duration::from_secs(30);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return (st, start.elapsed());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("postdesk did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGHUP: read the configuration again.
    pub fn reload(&self) {
        self.signal("-HUP");
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A plain customer message.
pub fn mail(
    from: &str,
    to: &str,
    subject: &str,
    message_id: &str,
    extra_headers: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n{extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A header's value in raw mail (first occurrence, unfolded).
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n')).peekable();
    let prefix = format!("{}:", name.to_lowercase());
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        if line.to_lowercase().starts_with(&prefix) {
            let mut v = line[prefix.len()..].trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with(' ') || next.starts_with('\t') {
                    v.push(' ');
                    v.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(v);
        }
    }
    None
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on 127.0.0.1:`port`: the status code and the body, or None
/// when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path)
}

/// `POST path` with an empty body, as a browser sends a form without fields.
pub fn http_post(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "POST", path)
}

fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    http_full(port, method, path).map(|(code, _, body)| (code, body))
}

/// `method path`: the status code, the header block (lower-cased names) and the body.
pub fn http_full(port: u16, method: &str, path: &str) -> Option<(u16, String, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let head = head.to_ascii_lowercase();
    let chunked = head.contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((code, head, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The value of one sample in Prometheus text, e.g.
/// `metric(&text, "postdesk_tickets_created_total{mailbox=\"support\"}")`.
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(sample)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}
