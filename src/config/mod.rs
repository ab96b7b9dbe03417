//! The configuration file: its types, its defaults, and the checks that turn
//! every mistake into a [`Problem`] naming the key path and what was expected.
//! Loading reports all problems at once; secrets are read here (from the
//! environment or a file) and never shown.

mod http;
mod limits;
mod mailbox;
mod oauth;
mod policies;
mod reader;
mod server;

pub use http::HttpConfig;

pub use mailbox::{AfterIngest, AgentConfig, MailboxConfig, Retention};
use mailbox::{list_or_none, read_agents, read_mailboxes, read_timezone};
pub use oauth::{Flow, GOOGLE_SCOPES, MICROSOFT_SCOPES, OAuthAccount, Provider};
use policies::{read_calendar, read_policy, read_rule};
pub use reader::{Problem, parse_duration};
use server::read_server;
pub use server::{Secret, Security, ServerConfig};

use crate::domain::calendar::{Calendar, WeeklyHours};
use crate::domain::decide::Limits;
use crate::domain::model::Priority;
use crate::domain::sla::NotifyTarget;
pub use crate::domain::sla::{EscalateAfter, EscalationLevel, PolicyRule, Share, SlaPolicy};
use jiff::SignedDuration;
pub use limits::SpamConfig;
use reader::{Node, Problems};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub busy_timeout: SignedDuration,
    /// How long to keep trying to reach the database before giving up.
    pub connect_timeout: SignedDuration,
    /// PostgreSQL: statements running longer are cancelled.
    pub statement_timeout: SignedDuration,
    /// How long an instance holds a mailbox without renewing its lease.
    pub mailbox_lease: SignedDuration,
    /// Seals secrets kept in the database (OAuth2 tokens) when set.
    pub secret_key: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Waits between attempts; the last one repeats.
    pub retry: Vec<SignedDuration>,
    /// A row still undelivered this long after it was queued is failed.
    pub give_up_after: SignedDuration,
    /// Idle SMTP connections are closed after this long.
    pub idle_timeout: SignedDuration,
    /// Where the outbox journal files live (default: beside the SQLite
    /// database, or beside the configuration file).
    pub journal_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadingConfig {
    /// The text before the number in the subject tag: `#` gives `[#42]`.
    pub tag_prefix: String,
    /// Also honour a tag from the mail domain of a participant.
    pub tag_same_domain: bool,
    pub thread_window: SignedDuration,
    pub reopen_window: SignedDuration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub file: PathBuf,
    pub log_format: LogFormat,
    /// Overrides of the built-in templates (`<dir>/<lang>/<event>.txt`).
    pub templates_dir: Option<PathBuf>,
    pub database: DatabaseConfig,
    pub smtp: ServerConfig,
    pub outbox: OutboxConfig,
    pub threading: ThreadingConfig,
    pub limits: Limits,
    /// How the MTA's spam verdict is read.
    pub spam: SpamConfig,
    pub mailboxes: Vec<MailboxConfig>,
    pub agents: Vec<AgentConfig>,
    pub sla: BTreeMap<String, SlaPolicy>,
    pub calendars: BTreeMap<String, Calendar>,
    /// authserv-ids whose Authentication-Results headers we trust (our MTA's).
    pub trusted_authserv_ids: Vec<String>,
    /// `[[rule]]`s choosing the policy of new tickets, in order.
    pub rules: Vec<PolicyRule>,
    /// The `/metrics` and `/healthz` listener; off when None.
    pub http: Option<HttpConfig>,
    /// `[oauth.NAME]` accounts, by name.
    pub oauth: BTreeMap<String, OAuthAccount>,
    /// `[alerts] admins`: who is mailed when an account stops working.
    pub admins: Vec<String>,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
}

fn render_problems(file: &Path, problems: &[Problem]) -> String {
    let mut s = format!(
        "{}: {} {}",
        file.display(),
        problems.len(),
        if problems.len() == 1 {
            "problem"
        } else {
            "problems"
        }
    );
    for p in problems {
        s.push_str(&format!("\n  {}: {p}", file.display()));
    }
    s
}

pub const DEFAULT_SLA: &str = "default";

impl Config {
    /// Loads, checks, and reads every secret (for `run` and `check`).
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        Config::load_with(file, Secrets::Read)
    }

    /// Loads and checks; with [`Secrets::Skip`], passwords are neither read
    /// nor required (commands that only use the database).
    pub fn load_with(file: &Path, secrets: Secrets) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        Config::parse_with(&text, file, secrets)
    }

    /// Parses and checks `text`; `file` names it in errors and anchors relative paths.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        Config::parse_with(text, file, Secrets::Read)
    }

    pub fn parse_with(text: &str, file: &Path, secrets: Secrets) -> Result<Config, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            file: file.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        let problems = Problems::default();
        let base = file.parent().unwrap_or(Path::new("."));
        let ctx = Ctx { base, secrets };
        let cfg = read_config(&Node::root(&table, &problems), &ctx, file);
        if problems.is_empty() {
            Ok(cfg.expect("a config without problems is complete"))
        } else {
            Err(ConfigError::Invalid {
                file: file.to_path_buf(),
                problems: problems.into_vec(),
            })
        }
    }

    pub fn mailbox(&self, name: &str) -> Option<&MailboxConfig> {
        self.mailboxes.iter().find(|m| m.name == name)
    }

    pub fn agent(&self, email: &str) -> Option<&AgentConfig> {
        self.agents
            .iter()
            .find(|a| a.email.eq_ignore_ascii_case(email))
    }

    pub fn policy(&self, name: &str) -> SlaPolicy {
        self.sla.get(name).cloned().unwrap_or_default()
    }

    /// How a policy counts time: its calendar's business hours, or the wall clock.
    pub fn clockwork(&self, policy: &SlaPolicy) -> crate::domain::calendar::Clockwork<'_> {
        match policy.calendar.as_ref().and_then(|c| self.calendars.get(c)) {
            Some(cal) => crate::domain::calendar::Clockwork::Business(cal),
            None => crate::domain::calendar::Clockwork::Wall,
        }
    }

    /// The zone a mailbox's customers are written to and its reports count
    /// hours in: its `timezone`, else its SLA calendar's, else UTC.
    pub fn mailbox_tz(&self, mailbox: &MailboxConfig) -> jiff::tz::TimeZone {
        if let Some(tz) = &mailbox.timezone {
            return tz.clone();
        }
        self.policy(&mailbox.sla)
            .calendar
            .and_then(|c| self.calendars.get(&c))
            .map_or(jiff::tz::TimeZone::UTC, |c| c.timezone.clone())
    }

    /// The language of mail to `agent` of `mailbox`: theirs, else the
    /// mailbox's, else English.
    pub fn agent_language<'a>(&'a self, mailbox: &'a MailboxConfig, agent: &str) -> &'a str {
        self.agent(agent)
            .and_then(|a| a.language.as_deref())
            .or(mailbox.language.as_deref())
            .unwrap_or(crate::domain::language::LANGUAGES[0])
    }

    /// Every address the daemon sends from, lower-cased.
    pub fn our_addresses(&self) -> Vec<String> {
        self.mailboxes.iter().map(|m| m.address.clone()).collect()
    }
}

/// Which secrets loading reads (and requires).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Every one: what the daemon and `check` need.
    Read,
    /// None (commands that only use the database); the sealing key is
    /// taken when it is at hand.
    Skip,
    /// The OAuth2 client secrets and the sealing key, not the mail
    /// servers' passwords (`auth login`, `auth status`).
    Accounts,
}

/// What every part of a walk needs: where relative paths start, and whether to read secrets.
struct Ctx<'a> {
    base: &'a Path,
    secrets: Secrets,
}

fn resolve_path(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Reads everything it can; returns None if anything was wrong.
fn read_config(root: &Node<'_>, ctx: &Ctx<'_>, file: &Path) -> Option<Config> {
    let base = ctx.base;
    let log_format = match root.opt_choice("log_format", &["text", "json"]) {
        Some("json") => LogFormat::Json,
        _ => LogFormat::Text,
    };
    let templates_dir = root
        .opt_str("templates_dir")
        .map(|p| resolve_path(base, &p));
    let database = required(root, "database", "a table with url", |n| {
        read_database(n, ctx)
    });
    let smtp = required(root, "smtp", "a table with host, port, security", |n| {
        read_server(n, ctx, 587)
    });
    let journal = journal_default(database.as_ref(), base);
    let outbox = read_outbox(root.table("outbox").as_ref(), ctx, journal);
    let http = root.table("http").and_then(|n| http::read_http(&n));
    let threading = read_threading(root.table("threading").as_ref());
    let limits = limits::read_limits(root.table("limits").as_ref());
    let spam = limits::read_spam(root.table("spam").as_ref());
    let trusted_authserv_ids = match root.table("auth") {
        Some(a) => {
            let ids = a.opt_str_list("trusted_authserv_ids").unwrap_or_default();
            a.finish();
            ids
        }
        None => Vec::new(),
    };
    let calendars: BTreeMap<String, Calendar> = root
        .named_tables("calendar")
        .into_iter()
        .filter_map(|(name, n)| read_calendar(&n, base).map(|c| (name, c)))
        .collect();
    let calendar_names = table_names(root, "calendar");
    let sla: BTreeMap<String, SlaPolicy> = root
        .named_tables("sla")
        .into_iter()
        .filter_map(|(name, n)| read_policy(&n, &calendar_names).map(|p| (name, p)))
        .collect();
    let policy_names = table_names(root, "sla");
    let rules: Vec<PolicyRule> = root
        .tables("rule")
        .iter()
        .filter_map(|n| read_rule(n, &policy_names))
        .collect();
    let (agents, agents_read) = read_agents(root);
    let mailbox_nodes = root.tables("mailbox");
    let mailboxes = read_mailboxes(root, &mailbox_nodes, ctx, &policy_names);
    let oauth: BTreeMap<String, OAuthAccount> = root
        .named_tables("oauth")
        .into_iter()
        .filter_map(|(name, n)| oauth::read_oauth(&name, &n, ctx).map(|a| (name, a)))
        .collect();
    let admins = oauth::read_alerts(root.table("alerts").as_ref());
    check_logins(root, smtp.as_ref(), &mailboxes, &mailbox_nodes);
    root.finish();

    if !root.problems().is_empty() || !agents_read {
        return None;
    }
    Some(Config {
        file: file.to_path_buf(),
        log_format,
        templates_dir,
        database: database?,
        smtp: smtp?,
        outbox: outbox?,
        threading: threading?,
        limits: limits?,
        spam: spam?,
        mailboxes,
        agents,
        sla,
        calendars,
        trusted_authserv_ids,
        rules,
        http,
        oauth,
        admins,
    })
}

/// A table the file must have, read by `read`; `what` says what it holds.
fn required<T>(
    root: &Node<'_>,
    key: &str,
    what: &str,
    read: impl FnOnce(&Node<'_>) -> Option<T>,
) -> Option<T> {
    match root.table(key) {
        Some(n) => read(&n),
        None => {
            if !root.has(key) {
                root.problem(key, format!("is required ({what})"));
            }
            None
        }
    }
}

/// Where the outbox journal goes unless configured: beside the SQLite
/// database, else beside the configuration file.
fn journal_default(database: Option<&DatabaseConfig>, base: &Path) -> PathBuf {
    database
        .and_then(|d| sqlite_file(&d.url))
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| {
            if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base.to_path_buf()
            }
        })
}

/// The names of the `[key.NAME]` tables, as written (even the bad ones:
/// a reference to a table with a mistake is not a second mistake).
fn table_names(root: &Node<'_>, key: &str) -> Vec<String> {
    root.get(key)
        .and_then(|v| v.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every server that logs in with an OAuth2 account names one that exists.
fn check_logins(
    root: &Node<'_>,
    smtp: Option<&ServerConfig>,
    mailboxes: &[MailboxConfig],
    mailbox_nodes: &[Node<'_>],
) {
    let mut servers: Vec<(String, &ServerConfig)> = Vec::new();
    if let Some(s) = smtp {
        servers.push(("smtp".into(), s));
    }
    for (i, m) in mailboxes.iter().enumerate() {
        if let Some(s) = &m.imap {
            let label = mailbox_nodes
                .get(i)
                .map_or_else(|| format!("mailbox[{i}]"), |n| n.path.clone());
            servers.push((format!("{label}.imap"), s));
        }
    }
    oauth::check_accounts(root, &servers, &table_names(root, "oauth"));
}

fn read_database(n: &Node<'_>, ctx: &Ctx<'_>) -> Option<DatabaseConfig> {
    let base = ctx.base;
    let url = n.req_str("url");
    // Commands that skip secrets still unseal tokens when the key is at hand.
    let secret_key = match ctx.secrets {
        Secrets::Read => server::read_named_secret(n, ctx, "secret_key"),
        Secrets::Skip => server::peek_named_secret(n, ctx, "secret_key"),
        Secrets::Accounts => server::read_named_secret(n, ctx, "secret_key"),
    };
    // The key is stretched by HKDF, which does not slow a guess down: a
    // short passphrase could be found from a copy of the database.
    if let Some(k) = &secret_key
        && k.expose().chars().count() < 32
    {
        let key = if n.has("secret_key_env") {
            "secret_key_env"
        } else {
            "secret_key_file"
        };
        n.problem(
            key,
            format!(
                "the secret in {} is too short: give at least 32 characters of random text (`openssl rand -base64 32`)",
                k.origin()
            ),
        );
    }
    let max_connections = n.opt_int("max_connections", 1, 1000).map(|v| v as u32);
    let busy_timeout = n
        .opt_duration("busy_timeout")
        .unwrap_or(SignedDuration::from_secs(10));
    let connect_timeout = n
        .opt_duration("connect_timeout")
        .unwrap_or(SignedDuration::from_secs(10));
    let statement_timeout = n
        .opt_duration("statement_timeout")
        .unwrap_or(SignedDuration::from_secs(60));
    let mailbox_lease = n
        .opt_duration("mailbox_lease")
        .unwrap_or(SignedDuration::from_secs(60));
    if mailbox_lease < SignedDuration::from_secs(3) {
        n.problem("mailbox_lease", "expected at least 3s");
    }
    n.finish();
    let url = url?;
    // SQLite takes one writer at a time; one connection also keeps its page
    // cache warm instead of re-reading the WAL on every transaction.
    let max_connections = max_connections.unwrap_or(if url.starts_with("sqlite:") { 1 } else { 8 });
    let url = if url.starts_with("sqlite:") {
        normalize_sqlite_url(&url, base)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url
    } else {
        n.problem(
            "url",
            format!(r#"expected "sqlite://FILE" or "postgres://USER@HOST/DB", got {url:?}"#),
        );
        return None;
    };
    Some(DatabaseConfig {
        url,
        max_connections,
        busy_timeout,
        connect_timeout,
        statement_timeout,
        mailbox_lease,
        secret_key,
    })
}

/// The file of a `sqlite://FILE` URL (None for other URLs and in-memory databases).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Relative SQLite paths are relative to the config file, not to the working directory.
fn normalize_sqlite_url(url: &str, base: &Path) -> String {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest
        .split_once('?')
        .map_or((rest, None), |(p, q)| (p, Some(q)));
    if path == ":memory:" || path.starts_with('/') || base.as_os_str().is_empty() {
        return url.to_string();
    }
    let full = base.join(path);
    match query {
        Some(q) => format!("sqlite://{}?{q}", full.display()),
        None => format!("sqlite://{}", full.display()),
    }
}

/// `[outbox]`; `default_journal_dir` applies when `journal_dir` is not given.
fn read_outbox(
    n: Option<&Node<'_>>,
    ctx: &Ctx<'_>,
    default_journal_dir: PathBuf,
) -> Option<OutboxConfig> {
    let default_retry = ["1m", "5m", "15m", "1h"]
        .map(|s| parse_duration(s).expect("valid"))
        .to_vec();
    let mut o = OutboxConfig {
        retry: default_retry,
        give_up_after: SignedDuration::from_hours(72),
        idle_timeout: SignedDuration::from_secs(60),
        journal_dir: default_journal_dir,
    };
    let Some(n) = n else { return Some(o) };
    match n.opt_str_list("retry") {
        None => {}
        Some(list) => match list
            .iter()
            .map(|s| parse_duration(s))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(v) if !v.is_empty() && v.iter().all(|d| d.is_positive()) => o.retry = v,
            _ => n.problem(
                "retry",
                format!(r#"expected one or more durations like ["1m", "5m", "1h"], got {list:?}"#),
            ),
        },
    }
    if let Some(d) = n.opt_duration("give_up_after") {
        o.give_up_after = d;
    }
    if let Some(d) = n.opt_duration("idle_timeout") {
        o.idle_timeout = d;
    }
    if let Some(d) = n.opt_str("journal_dir") {
        o.journal_dir = resolve_path(ctx.base, &d);
    }
    n.finish();
    Some(o)
}

fn read_threading(n: Option<&Node<'_>>) -> Option<ThreadingConfig> {
    let mut t = ThreadingConfig {
        tag_prefix: "#".into(),
        tag_same_domain: false,
        thread_window: SignedDuration::from_hours(24 * 7),
        reopen_window: SignedDuration::from_hours(24 * 14),
    };
    let Some(n) = n else { return Some(t) };
    if let Some(p) = n.opt_str("tag_prefix") {
        if p.is_empty() || p.contains(['[', ']']) || p.chars().any(|c| c.is_ascii_digit()) {
            n.problem("tag_prefix", format!(r##"expected text such as "#" or "Support #" without brackets or digits, got {p:?}"##));
        }
        t.tag_prefix = p;
    }
    if let Some(b) = n.opt_bool("tag_same_domain") {
        t.tag_same_domain = b;
    }
    if let Some(d) = n.opt_duration("thread_window") {
        t.thread_window = d;
    }
    if let Some(d) = n.opt_duration("reopen_window") {
        t.reopen_window = d;
    }
    n.finish();
    Some(t)
}

pub use crate::domain::model::looks_like_address;

#[cfg(test)]
mod tests;
