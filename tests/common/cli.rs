//! `postdesk` commands on a scratch configuration without mail servers
//! (no IMAP; SMTP pointing nowhere): for ingest and the read commands.

use super::{BIN, Db, PgDatabase, run_tag, test_database};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Cli {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub url: String,
    _pg: Option<PgDatabase>,
}

impl Cli {
    pub fn new(db: Db) -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let (url, pg) = test_database(db, dir.path(), &format!("cli-{}", run_tag()));
        Cli::with_db(dir, &url, pg)
    }

    /// A scratch setup whose configuration gets `extra` appended (SLA
    /// policies, calendars, agents...); the mailbox uses policy `mailbox_sla`.
    pub fn with_config(db: Db, mailbox_extra: &str, extra: &str) -> Cli {
        let c = Cli::new(db);
        let text = std::fs::read_to_string(&c.config).unwrap();
        std::fs::write(&c.config, format!("{text}{mailbox_extra}\n{extra}\n")).unwrap();
        c
    }

    pub fn with_db(dir: tempfile::TempDir, url: &str, pg: Option<PgDatabase>) -> Cli {
        let config = dir.path().join("postdesk.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"{url}\"\nconnect_timeout = \"1s\"\n[smtp]\nhost = \"127.0.0.1\"\nport = 1\nsecurity = \"none\"\n\
                 [[mailbox]]\nname = \"support\"\naddress = \"support@example.com\"\n"
            ),
        )
        .unwrap();
        Cli {
            dir,
            config,
            url: url.to_string(),
            _pg: pg,
        }
    }

    /// Runs `f` in-process on this setup's parsed configuration and its
    /// migrated database: for tests that drive the library directly.
    pub fn in_process<T>(
        &self,
        f: impl AsyncFnOnce(std::sync::Arc<postdesk::config::Config>, postdesk::store::Store) -> T,
    ) -> T {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let config =
            std::sync::Arc::new(postdesk::config::Config::parse(&text, &self.config).unwrap());
        super::block_on(async {
            let store = postdesk::store::Store::connect(&config.database)
                .await
                .unwrap();
            store.migrate().await.unwrap();
            f(config.clone(), store).await
        })
    }

    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new(BIN)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Fed from a thread while the output is read: a command that
        // writes before it has read all its input cannot stall on a full pipe.
        let mut pipe = c.stdin.take().unwrap();
        let input = stdin.unwrap_or_default().to_vec();
        let feeder = std::thread::spawn(move || {
            // The command may end without reading it all (a usage error).
            let _ = pipe.write_all(&input);
        });
        let out = c.wait_with_output().unwrap();
        feeder.join().expect("the input feeder");
        out
    }

    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// `ingest --json` of `files`; every line parsed.
    pub fn ingest(&self, extra: &[&str], files: &[&Path]) -> Vec<Value> {
        let mut args = vec!["ingest", "--mailbox", "support", "--json"];
        args.extend_from_slice(extra);
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        args.extend(names.iter().map(String::as_str));
        let out = self.run(&args, None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}
