//! The configuration file: its types, its defaults, and the checks that turn
//! every mistake into a [`Problem`] naming the key path and what was expected.
//! Loading reports all problems at once; secrets are read here (from the
//! environment or a file) and never shown.

mod http;
mod limits;
mod reader;

pub use http::HttpConfig;

pub use reader::{Problem, parse_duration};

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

/// A secret read from the environment or a file. Never printed.
/// It remembers where it came from (`$VAR` or a file's path), so an error
/// can say which password to check.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    origin: String,
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret {
            value: s.into(),
            origin: "the configuration".into(),
        }
    }
    /// A secret read from the environment variable `var`.
    pub fn from_env(s: impl Into<String>, var: &str) -> Self {
        Secret {
            value: s.into(),
            origin: format!("${var}"),
        }
    }
    /// A secret read from the file `path`.
    pub fn from_file(s: impl Into<String>, path: &Path) -> Self {
        Secret {
            value: s.into(),
            origin: path.display().to_string(),
        }
    }
    pub fn expose(&self) -> &str {
        &self.value
    }
    /// Where it was read from: `$POSTDESK_IMAP_PASSWORD`, `/run/secrets/imap`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Tls,
    StartTls,
    None,
}

/// An IMAP or SMTP server and how to log in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Extra CA certificate (PEM) to trust, for private or self-signed servers.
    pub ca_file: Option<PathBuf>,
    /// Connect and command timeout.
    pub timeout: SignedDuration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterIngest {
    Seen,
    Move(String),
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxConfig {
    pub name: String,
    /// The support address, lower-cased: `support@example.com`.
    pub address: String,
    /// The name shown in From of everything sent for this mailbox.
    pub display_name: String,
    pub folder: String,
    /// None for a mailbox fed only through `postdesk ingest` (an MTA pipe).
    pub imap: Option<ServerConfig>,
    pub idle: bool,
    pub poll_interval: SignedDuration,
    pub after_ingest: AfterIngest,
    /// Messages fetched per IMAP round trip.
    pub fetch_batch: u32,
    pub sla: String,
    /// The language for customers whose own we cannot tell (their mail
    /// says too little, and we have not heard from them before), and for
    /// agents without a `language` of their own.
    pub language: Option<String>,
    /// Write to every customer in this language, whatever they write in.
    pub force_language: Option<String>,
    /// Address customers formally where the language has a formal set
    /// (Polish: "Państwo").
    pub formal: bool,
    /// The zone customers' dates are written in; else the SLA calendar's,
    /// else UTC.
    pub timezone: Option<jiff::tz::TimeZone>,
    /// Agent emails, lower-cased.
    pub agents: Vec<String>,
    /// The customer's files a notification carries, in bytes in all (the
    /// rest are listed); 0 attaches none.
    pub notify_attachments_max: u64,
    /// Mailing-list mail opens tickets (never acknowledged) instead of being
    /// stored aside: for a mailbox that is itself subscribed to a list.
    pub list_mail_opens_tickets: bool,
    /// Other agents get a short copy of each reply an agent relays.
    pub cc_agents_on_replies: bool,
    /// A resolved ticket asks its customer for a rating from 1 to 5.
    pub survey: bool,
    /// A resolved or closed ticket tells its customer so (the `closed` template).
    pub closing_mail: bool,
    /// Mail goes out with a signed envelope sender `local+b-…@domain`
    /// (VERP): bounces then prove which mail they return.
    pub verp: bool,
    /// How long personal data is kept (GDPR Art. 5(1)(e)).
    pub retention: Retention,
}

/// `retention = { raw = "90d", text = "2y" }`: past `raw` a message's
/// original bytes are dropped (its text and metadata stay); past `text` a
/// quiet ticket's words and addresses are erased (pseudonyms in their
/// place). Unset: kept.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    pub raw: Option<jiff::Span>,
    pub text: Option<jiff::Span>,
}

// A span compares field by field (a "2y" setting is not a "730d" one).
impl PartialEq for Retention {
    fn eq(&self, other: &Self) -> bool {
        let f = |s: &Option<jiff::Span>| s.map(|s| s.fieldwise());
        f(&self.raw) == f(&other.raw) && f(&self.text) == f(&other.text)
    }
}

impl Eq for Retention {}

impl Retention {
    pub fn is_set(&self) -> bool {
        self.raw.is_some() || self.text.is_some()
    }
}

impl MailboxConfig {
    /// `support` of `support@example.com`.
    pub fn local_part(&self) -> &str {
        self.address.split('@').next().unwrap_or_default()
    }
    /// `example.com` of `support@example.com`.
    pub fn domain(&self) -> &str {
        self.address.rsplit('@').next().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// Lower-cased.
    pub email: String,
    pub name: String,
    pub timezone: jiff::tz::TimeZone,
    /// The language of mail to this agent; the mailbox's `language` when
    /// unset.
    pub language: Option<String>,
    /// A daily digest at this time of the agent's day (their open tickets,
    /// what is due today or late, what nobody has taken).
    pub digest: Option<jiff::civil::Time>,
}

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

/// Whether loading reads the secrets (`password_env`, `password_file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    Read,
    Skip,
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

    let database = match root.table("database") {
        Some(n) => read_database(&n, base),
        None => {
            if !root.has("database") {
                root.problem("database", "is required (a table with url)");
            }
            None
        }
    };
    let smtp = match root.table("smtp") {
        Some(n) => read_server(&n, ctx, 587),
        None => {
            if !root.has("smtp") {
                root.problem("smtp", "is required (a table with host, port, security)");
            }
            None
        }
    };
    let journal_default = database
        .as_ref()
        .and_then(|d| sqlite_file(&d.url))
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| {
            if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base.to_path_buf()
            }
        });
    let outbox = read_outbox(root.table("outbox").as_ref(), ctx, journal_default);
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
    let calendar_names: Vec<String> = root
        .get("calendar")
        .and_then(|v| v.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    let sla: BTreeMap<String, SlaPolicy> = root
        .named_tables("sla")
        .into_iter()
        .filter_map(|(name, n)| read_policy(&n, &calendar_names).map(|p| (name, p)))
        .collect();
    let policy_names: Vec<String> = root
        .get("sla")
        .and_then(|v| v.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    let rules: Vec<PolicyRule> = root
        .tables("rule")
        .iter()
        .filter_map(|n| read_rule(n, &policy_names))
        .collect();
    let agents: Vec<AgentConfig> = root.tables("agent").iter().filter_map(read_agent).collect();
    let agent_nodes = root
        .get("agent")
        .and_then(|v| v.as_array())
        .map_or(0, Vec::len);
    check_unique(
        root,
        "agent",
        agents.iter().map(|a| a.email.as_str()),
        "email",
    );

    let mailbox_nodes = root.tables("mailbox");
    if mailbox_nodes.is_empty() && !root.has("mailbox") {
        root.problem("mailbox", "at least one [[mailbox]] is required");
    }
    let agent_emails: Vec<String> = root
        .get("agent")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("email")?.as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    let mailboxes: Vec<MailboxConfig> = mailbox_nodes
        .iter()
        .filter_map(|n| read_mailbox(n, ctx, &policy_names, &agent_emails))
        .collect();
    check_unique(
        root,
        "mailbox",
        mailboxes.iter().map(|m| m.name.as_str()),
        "name",
    );
    check_unique(
        root,
        "mailbox",
        mailboxes.iter().map(|m| m.address.as_str()),
        "address",
    );
    root.finish();

    if !root.problems().is_empty() || agents.len() != agent_nodes {
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
    })
}

fn read_rule(n: &Node<'_>, policies: &[String]) -> Option<PolicyRule> {
    let sla = n.req_str("sla");
    if let Some(s) = &sla
        && !policies.contains(s)
    {
        n.problem(
            "sla",
            format!(
                "expected the name of an [sla.NAME] policy ({}), got {s:?}",
                list_or_none(policies)
            ),
        );
    }
    let customers: Vec<String> = n
        .opt_str_list("customer")
        .unwrap_or_default()
        .iter()
        .map(|c| c.trim().trim_start_matches("*@").to_lowercase())
        .collect();
    let subject_words: Vec<String> = n
        .opt_str_list("subject")
        .unwrap_or_default()
        .iter()
        .map(|w| crate::domain::fold::fold(w))
        .collect();
    let priority = n
        .opt_choice("priority", Priority::NAMES)
        .and_then(Priority::parse);
    let set_priority = n
        .opt_choice("set_priority", Priority::NAMES)
        .and_then(Priority::parse);
    let mailbox = n.opt_str("mailbox");
    if customers.is_empty() && subject_words.is_empty() && priority.is_none() && mailbox.is_none() {
        n.problem(
            "customer",
            "a rule needs at least one condition: customer, subject, priority or mailbox",
        );
    }
    n.finish();
    Some(PolicyRule {
        mailbox,
        customers,
        priority,
        subject_words,
        sla: sla?,
        set_priority,
    })
}

fn check_unique<'a>(
    root: &Node<'_>,
    section: &str,
    values: impl Iterator<Item = &'a str>,
    key: &str,
) {
    let mut seen = HashSet::new();
    for (i, v) in values.enumerate() {
        if !seen.insert(v.to_lowercase()) {
            root.problems().add(
                format!("{section}[{i}].{key}"),
                format!("{v:?} is used twice; each {key} must be unique"),
            );
        }
    }
}

fn read_database(n: &Node<'_>, base: &Path) -> Option<DatabaseConfig> {
    let url = n.req_str("url");
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

fn read_secret(n: &Node<'_>, ctx: &Ctx<'_>) -> Option<Secret> {
    if n.has("password") {
        n.get("password");
        n.problem(
            "password",
            "secrets are not read from the config file: use password_env = \"VAR\" or password_file = \"/path\"",
        );
        return None;
    }
    let env = n.opt_str("password_env");
    let file = n.opt_str("password_file");
    match (env, file) {
        (Some(_), Some(_)) => {
            n.problem(
                "password_env",
                "give either password_env or password_file, not both",
            );
            None
        }
        _ if ctx.secrets == Secrets::Skip => None,
        (Some(var), None) => match std::env::var(&var) {
            Ok(v) if !v.is_empty() => Some(Secret::from_env(v, &var)),
            _ => {
                n.problem(
                    "password_env",
                    format!("environment variable {var} is not set"),
                );
                None
            }
        },
        (None, Some(path)) => {
            let path = resolve_path(ctx.base, &path);
            match std::fs::read_to_string(&path) {
                Ok(v) => Some(Secret::from_file(v.trim_end_matches(['\r', '\n']), &path)),
                Err(e) => {
                    n.problem(
                        "password_file",
                        format!("cannot read {}: {e}", path.display()),
                    );
                    None
                }
            }
        }
        (None, None) => None,
    }
}

fn read_server(n: &Node<'_>, ctx: &Ctx<'_>, default_port: i64) -> Option<ServerConfig> {
    let host = n.req_str("host");
    let security = match n.opt_choice("security", &["tls", "starttls", "none"]) {
        Some("tls") => Security::Tls,
        Some("none") => Security::None,
        _ => Security::StartTls,
    };
    let port_default = match (security, default_port) {
        (Security::Tls, 587) => 465,
        (Security::Tls, 143) => 993,
        _ => default_port,
    };
    let port = n.opt_int("port", 1, 65535).unwrap_or(port_default) as u16;
    let username = n.opt_str("username");
    let password = read_secret(n, ctx);
    if (n.has("password_env") || n.has("password_file")) && username.is_none() {
        n.problem("username", "is required when a password is given");
    }
    let ca_file = n.opt_str("ca_file").map(|p| resolve_path(ctx.base, &p));
    if let Some(p) = &ca_file
        && !p.is_file()
    {
        n.problem(
            "ca_file",
            format!(
                "expected a readable PEM file, {} does not exist",
                p.display()
            ),
        );
    }
    let timeout = n
        .opt_duration("timeout")
        .unwrap_or(SignedDuration::from_secs(30));
    n.finish();
    Some(ServerConfig {
        host: host?,
        port,
        security,
        username,
        password,
        ca_file,
        timeout,
    })
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

fn read_timezone(n: &Node<'_>, key: &str) -> Option<jiff::tz::TimeZone> {
    let name = n.opt_str(key)?;
    match jiff::tz::TimeZone::get(&name) {
        Ok(tz) => Some(tz),
        Err(_) => {
            n.problem(
                key,
                format!(r#"expected an IANA time zone such as "Europe/Athens", got {name:?}"#),
            );
            None
        }
    }
}

/// A language key: one we have templates for.
fn read_language(n: &Node<'_>, key: &str) -> Option<String> {
    let l = n.opt_str(key)?;
    if crate::domain::language::LANGUAGES.contains(&l.as_str()) {
        Some(l)
    } else {
        n.problem(
            key,
            format!(
                "expected one of {}, got {l:?}",
                crate::domain::language::LANGUAGES.join(", ")
            ),
        );
        None
    }
}

fn read_agent(n: &Node<'_>) -> Option<AgentConfig> {
    let email = n.req_str("email").map(|e| e.to_lowercase());
    if let Some(e) = &email
        && !looks_like_address(e)
    {
        n.problem("email", format!("expected an email address, got {e:?}"));
    }
    let name = n.opt_str("name");
    let language = read_language(n, "language");
    let timezone = if n.has("timezone") {
        read_timezone(n, "timezone")
    } else {
        Some(jiff::tz::TimeZone::UTC)
    };
    let digest = n
        .opt_str("digest")
        .and_then(|d| match d.parse::<jiff::civil::Time>() {
            Ok(t) if d.len() == 5 => Some(t),
            _ => {
                n.problem(
                    "digest",
                    format!(r#"expected a time of day like "08:30", got {d:?}"#),
                );
                None
            }
        });
    n.finish();
    let email = email?;
    Some(AgentConfig {
        name: name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string()),
        email,
        timezone: timezone?,
        language,
        digest,
    })
}

pub use crate::domain::model::looks_like_address;

fn read_mailbox(
    n: &Node<'_>,
    ctx: &Ctx<'_>,
    policies: &[String],
    agents: &[String],
) -> Option<MailboxConfig> {
    let name = n.req_str("name");
    if let Some(name) = &name
        && !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        n.problem(
            "name",
            format!("expected letters, digits, - or _, got {name:?}"),
        );
    }
    let address = n.req_str("address").map(|a| a.to_lowercase());
    if let Some(a) = &address {
        if !looks_like_address(a) {
            n.problem(
                "address",
                format!("expected an email address like support@example.com, got {a:?}"),
            );
        } else if a.split('@').next().is_some_and(|l| l.contains('+')) {
            n.problem(
                "address",
                "must not contain '+': postdesk adds +TOKEN to it for replies",
            );
        }
    }
    let display_name = n
        .opt_str("display_name")
        .unwrap_or_else(|| "Support".into());
    let folder = n.opt_str("folder").unwrap_or_else(|| "INBOX".into());
    let imap = n.table("imap").and_then(|t| read_server(&t, ctx, 143));
    let idle = n.opt_bool("idle").unwrap_or(true);
    let poll_interval = n
        .opt_duration("poll_interval")
        .unwrap_or(SignedDuration::from_secs(60));
    if poll_interval < SignedDuration::from_secs(1) {
        n.problem("poll_interval", "expected at least 1s");
    }
    let after_ingest = match n.opt_str("after_ingest").as_deref() {
        None | Some("seen") => AfterIngest::Seen,
        Some("delete") => AfterIngest::Delete,
        Some(s) if s.starts_with("move:") && s.len() > 5 => AfterIngest::Move(s[5..].to_string()),
        Some(s) => {
            n.problem(
                "after_ingest",
                format!(r#"expected "seen", "delete" or "move:FOLDER", got {s:?}"#),
            );
            AfterIngest::Seen
        }
    };
    let fetch_batch = n.opt_int("fetch_batch", 1, 10_000).unwrap_or(100) as u32;
    let list_mail_opens_tickets =
        n.opt_choice("list_mail", &["ignore", "ticket"]) == Some("ticket");
    let cc_agents_on_replies = n.opt_bool("cc_agents_on_replies").unwrap_or(false);
    let survey = n.opt_bool("survey").unwrap_or(false);
    let closing_mail = n.opt_bool("closing_mail").unwrap_or(false);
    // Reply tokens already need plus-addressing, so signed envelope senders
    // work wherever postdesk does; a server without it can turn them off.
    let verp = n.opt_bool("verp").unwrap_or(true);
    let retention = match n.table("retention") {
        Some(r) => {
            let v = Retention {
                raw: r.opt_age("raw"),
                text: r.opt_age("text"),
            };
            r.finish();
            v
        }
        None => Retention::default(),
    };
    let sla = n.opt_str("sla").unwrap_or_else(|| DEFAULT_SLA.into());
    if n.has("sla") && !policies.contains(&sla) {
        n.problem(
            "sla",
            format!(
                "expected the name of an [sla.NAME] policy ({}), got {sla:?}",
                list_or_none(policies)
            ),
        );
    }
    let language = read_language(n, "language");
    let force_language = read_language(n, "force_language");
    let formal = n.opt_bool("formal").unwrap_or(false);
    let notify_attachments_max = n
        .opt_size("notify_attachments_max")
        .unwrap_or(10 * 1000 * 1000);
    let timezone = n.has("timezone").then(|| read_timezone(n, "timezone"));
    let mailbox_agents: Vec<String> = n
        .opt_str_list("agents")
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.to_lowercase())
        .collect();
    for (i, a) in mailbox_agents.iter().enumerate() {
        if !agents.contains(a) {
            n.problems().add(
                format!("{}[{i}]", n.key_path("agents")),
                format!("{a:?} is not an [[agent]] email ({})", list_or_none(agents)),
            );
        }
    }
    n.finish();
    Some(MailboxConfig {
        name: name?,
        address: address?,
        display_name,
        folder,
        imap,
        idle,
        poll_interval,
        after_ingest,
        fetch_batch,
        sla,
        language,
        force_language,
        formal,
        timezone: timezone.flatten(),
        agents: mailbox_agents,
        notify_attachments_max,
        list_mail_opens_tickets,
        cc_agents_on_replies,
        survey,
        closing_mail,
        verp,
        retention,
    })
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none defined".into()
    } else {
        names.join(", ")
    }
}

fn read_share(n: &Node<'_>, key: &str) -> Option<Share> {
    let v = n.get(key)?;
    let s = v.as_str().unwrap_or_default().trim();
    if let Some(p) = s.strip_suffix('%') {
        if let Ok(p) = p.trim().parse::<u32>()
            && (1..=1000).contains(&p)
        {
            return Some(Share::Percent(p));
        }
    } else if let Ok(d) = parse_duration(s) {
        return Some(Share::Duration(d));
    }
    n.problem(
        key,
        format!(
            r#"expected a duration like "4h" or a share like "80%", got {}"#,
            reader::shown(v)
        ),
    );
    None
}

fn read_policy(n: &Node<'_>, calendars: &[String]) -> Option<SlaPolicy> {
    let mut p = SlaPolicy::default();
    if let Some(d) = n.opt_span("first_response") {
        p.first_response = d;
    }
    if let Some(d) = n.opt_span("next_response") {
        p.next_response = d;
    }
    p.resolution = n.opt_span("resolution");
    p.calendar = n.opt_str("calendar");
    if let Some(c) = &p.calendar
        && !calendars.contains(c)
    {
        n.problem(
            "calendar",
            format!(
                "expected the name of a [calendar.NAME] ({}), got {c:?}",
                list_or_none(calendars)
            ),
        );
    }
    p.warn_before = read_share(n, "warn_before");
    match p.warn_before {
        Some(Share::Duration(d)) if d >= p.first_response.nominal() => n.problem(
            "warn_before",
            format!(
                "must be shorter than first_response ({})",
                crate::domain::fmt_duration(p.first_response.nominal())
            ),
        ),
        Some(Share::Percent(x)) if x >= 100 => {
            n.problem("warn_before", "a share must be below 100%")
        }
        _ => {}
    }
    for e in n.tables("escalation") {
        let after = match e.get("after").and_then(|v| v.as_str()) {
            Some("breach") | None => EscalateAfter::Breach,
            Some(_) => read_share(&e, "after").map_or(EscalateAfter::Breach, EscalateAfter::Later),
        };
        if !e.has("after") {
            e.problem(
                "after",
                r#"is required: "breach", a duration like "2h" or a share like "150%""#,
            );
        }
        let notify = e.opt_str_list("notify").unwrap_or_default();
        if notify.is_empty() {
            e.problem(
                "notify",
                r#"expected at least one recipient: "assignee", "agents" or an email address"#,
            );
        }
        let mut targets = Vec::new();
        for (i, t) in notify.iter().enumerate() {
            match NotifyTarget::parse(t) {
                Some(target) => targets.push(target),
                None => e.problems().add(
                    format!("{}[{i}]", e.key_path("notify")),
                    format!(r#"expected "assignee", "agents" or an email address, got {t:?}"#),
                ),
            }
        }
        let set_priority = e
            .opt_choice("set_priority", Priority::NAMES)
            .and_then(Priority::parse);
        let template = e.opt_str("template");
        e.finish();
        p.escalation.push(EscalationLevel {
            after,
            notify: targets,
            set_priority,
            template,
        });
    }
    n.finish();
    Some(p)
}

fn read_calendar(n: &Node<'_>, base: &Path) -> Option<Calendar> {
    let timezone = if n.has("timezone") {
        read_timezone(n, "timezone")
    } else {
        n.problem(
            "timezone",
            r#"is required (an IANA time zone such as "Europe/Athens")"#,
        );
        None
    };
    let mut hours = WeeklyHours::default();
    match n.table("hours") {
        Some(h) => {
            for k in h.keys() {
                if let Some(v) = h.opt_str(&k)
                    && let Err(e) = hours.add(&k, &v)
                {
                    h.problem(&k, e);
                }
            }
            if h.problems().is_empty() && hours.is_empty() {
                n.problem(
                    "hours",
                    "no opening hours at all: deadlines would never arrive",
                );
            }
        }
        None if !n.has("hours") => n.problem(
            "hours",
            r#"is required, e.g. hours = { mon-fri = "09:00-17:00" }"#,
        ),
        None => {}
    }
    let mut holidays = std::collections::BTreeSet::new();
    for (i, d) in n
        .opt_str_list("holidays")
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        match d.parse::<jiff::civil::Date>() {
            Ok(date) => {
                holidays.insert(date);
            }
            Err(_) => n.problems().add(
                format!("{}[{i}]", n.key_path("holidays")),
                format!(r#"expected a date like "2026-12-25", got {d:?}"#),
            ),
        }
    }
    if let Some(file) = n.opt_str("holidays_file") {
        let path = resolve_path(base, &file);
        match std::fs::read_to_string(&path) {
            Ok(text) => holidays.extend(crate::domain::calendar::ics_dates(&text)),
            Err(e) => n.problem(
                "holidays_file",
                format!("cannot read {}: {e}", path.display()),
            ),
        }
    }
    n.finish();
    Some(Calendar {
        timezone: timezone?,
        hours,
        holidays,
    })
}

#[cfg(test)]
mod tests;
