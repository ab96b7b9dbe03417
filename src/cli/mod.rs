//! The command line (DESIGN §9, a contract): parsing, exit codes, logging
//! set-up, and one module per subcommand.

mod args;
mod auth;
mod check;
mod customers;
mod explain;
mod files;
mod ingest;
mod init;
mod report;
mod show;
mod when;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, LogFormat, Secrets};
use crate::store::{Store, StoreError};
use crate::templates::Templates;
use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;

pub use args::{
    AuthCommand, Cli, Command, CustomersCommand, MessagesCommand, OutboxCommand, ReportFormat,
    RetentionCommand, SlaCommand, TicketsCommand,
};

/// Exit codes (sysexits).
pub mod exit {
    pub const OK: u8 = 0;
    pub const USAGE: u8 = 64;
    pub const SOFTWARE: u8 = 70;
    pub const TEMPFAIL: u8 = 75;
    pub const CONFIG: u8 = 78;
    pub const NOINPUT: u8 = 66;
    pub const CANTCREAT: u8 = 73;

    /// A missing input file is the caller's mistake; anything else may pass.
    pub fn exit_for_io(e: &std::io::Error) -> u8 {
        match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => NOINPUT,
            _ => TEMPFAIL,
        }
    }
}

/// A failure with its exit code; printed once, by `main`.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        let code = match &e {
            // No file at all is missing input (66), like any missing file
            // named on the command line; a file that is there but wrong is 78.
            ConfigError::Read { source, .. } => exit::exit_for_io(source),
            _ => exit::CONFIG,
        };
        let message = match &e {
            ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                format!(
                    "{e} (give the file with --config or $POSTDESK_CONFIG, or write one with `postdesk init`)"
                )
            }
            _ => e.to_string(),
        };
        Failure::new(code, message)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        // An MTA pipe retries on 75: any database trouble must not bounce mail.
        Failure::new(exit::TEMPFAIL, crate::error_chain(&e))
    }
}

impl From<crate::ingest::IngestError> for Failure {
    fn from(e: crate::ingest::IngestError) -> Self {
        let code = match e {
            crate::ingest::IngestError::Template(_) => exit::CONFIG,
            _ => exit::TEMPFAIL,
        };
        Failure::new(code, crate::error_chain(&e))
    }
}

pub type CliResult = Result<u8, Failure>;

/// Parses arguments, runs the command and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    crate::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("postdesk: cannot start the runtime: {e}");
            return ExitCode::from(exit::SOFTWARE);
        }
    };
    let result = runtime.block_on(dispatch(cli));
    // The work is done: a background task that does not stop (a pool's
    // housekeeping, a connection's worker) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("postdesk: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Crates whose debug and trace output is the protocol on the wire: the
/// SMTP `AUTH` line, the IMAP `LOGIN` command, OAuth2 bearer tokens. They
/// are capped at INFO whatever `POSTDESK_LOG` asks for, so no log level
/// ever shows a secret.
const WIRE_TARGETS: &[&str] = &[
    "lettre",
    "async_imap",
    "imap_proto",
    // The token endpoint's requests and answers (client secrets, tokens).
    "reqwest",
    "hyper",
    "hyper_util",
    "oauth2",
];

/// Keeps an event unless it is wire traffic below INFO.
fn not_wire_trace(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() <= tracing::Level::INFO
        || !WIRE_TARGETS
            .iter()
            .any(|t| meta.target() == *t || meta.target().starts_with(&format!("{t}::")))
}

fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("POSTDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // Two global filters, both of which an event must pass.
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(filter_fn(not_wire_trace));
    let _ = match format {
        LogFormat::Json => registry.with(layer.json()).try_init(),
        LogFormat::Text => registry.with(layer).try_init(),
    };
}

/// Loads and checks the configuration and the templates.
fn load(
    path: &std::path::Path,
    secrets: Secrets,
) -> Result<(Arc<Config>, Arc<Templates>), Failure> {
    let config = Config::load_with(path, secrets)?;
    let named: Vec<String> = config
        .sla
        .values()
        .flat_map(|p| p.escalation.iter().filter_map(|e| e.template.clone()))
        .collect();
    let templates =
        Templates::load_with(config.templates_dir.as_deref(), &named).map_err(|errs| {
            let list: Vec<String> = errs.iter().map(|e| format!("  {e}")).collect();
            Failure::new(
                exit::CONFIG,
                format!(
                    "templates: {}\n{}",
                    check::counted(errs.len(), "problem", "problems"),
                    list.join("\n")
                ),
            )
        })?;
    Ok((Arc::new(config), templates.into()))
}

/// Connects to the database and brings its schema up to date.
async fn open_store(config: &Config) -> Result<Store, Failure> {
    let store = Store::connect(&config.database).await?;
    store.migrate().await.map_err(|e| match e {
        StoreError::Migrate(m) => Failure::new(exit::TEMPFAIL, format!("database migrations: {m}")),
        other => other.into(),
    })?;
    Ok(store)
}

async fn dispatch(cli: Cli) -> CliResult {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tz = when::zone(cli.tz.as_deref()).map_err(|e| Failure::new(exit::USAGE, e))?;
    let path = cli.config.as_path();
    match cli.command {
        Command::Check { connect } => check::run(path, connect).await,
        Command::Init(args) => init::run(path, &args).await,
        Command::Run => run_daemon(path, clock).await,
        Command::Migrate => {
            let (_, store) = open(path, Secrets::Skip).await?;
            // The reply-token secret is made now, not on first use.
            store.token_key().await?;
            println!("database is up to date");
            Ok(exit::OK)
        }
        Command::Ingest {
            mailbox,
            json,
            received_at,
            mbox,
            files,
        } => {
            let (config, templates) = load(path, Secrets::Skip)?;
            init_logging(config.log_format, "warn");
            let options = ingest::Options {
                mailbox: &mailbox,
                json,
                received_at: received_at.as_deref(),
                mbox,
            };
            ingest::run(config, templates, clock, options, &files).await
        }
        Command::Explain {
            file,
            mailbox,
            json,
        } => explain_file(path, clock, mailbox, &file, json).await,
        Command::Auth { command } => {
            // The client secret and the sealing key are needed, not the mail passwords.
            let (config, store) = open(path, Secrets::Accounts).await?;
            match command {
                AuthCommand::Login { name } => auth::login(&config, store, &name).await,
                AuthCommand::Status { json } => auth::status(&config, store, &tz, json).await,
            }
        }
        command => browse(path, command, &*clock, &tz).await,
    }
}

/// The commands that read (or tidy) the database: tickets, messages,
/// customers, the outbox, SLA status, reports, retention and backups.
async fn browse(
    path: &std::path::Path,
    command: Command,
    clock: &dyn Clock,
    tz: &jiff::tz::TimeZone,
) -> CliResult {
    let at = |given: Option<String>| match given {
        Some(t) => when::parse(&t, tz).map_err(|e| Failure::new(exit::USAGE, format!("--at: {e}"))),
        None => Ok(clock.now()),
    };
    let since = |given: &str| {
        when::since(given, clock.now(), tz)
            .map_err(|e| Failure::new(exit::USAGE, format!("--since: {e}")))
    };
    // Times given on the command line are read before the database is opened.
    let (at, from) = match &command {
        Command::Retention {
            command: RetentionCommand::Run { at: when, .. },
        }
        | Command::Sla {
            command: SlaCommand::Status { at: when, .. },
        } => (at(when.clone())?, None),
        Command::Report { since: from, .. } => (clock.now(), Some(since(from)?)),
        Command::Messages {
            command: MessagesCommand::List { since: from, .. },
        } => (clock.now(), from.as_deref().map(since).transpose()?),
        _ => (clock.now(), None),
    };
    let (config, store) = open(path, Secrets::Skip).await?;
    match command {
        Command::Tickets { command } => match command {
            TicketsCommand::List { status, json } => {
                show::tickets(&store, clock, status.as_deref(), tz, json).await
            }
            TicketsCommand::Show {
                number,
                attachments: Some(dir),
                ..
            } => files::save_attachments(&store, clock, number, &dir).await,
            TicketsCommand::Show { number, json, .. } => {
                show::ticket(&store, clock, number, tz, json).await
            }
        },
        Command::Messages {
            command: MessagesCommand::List {
                kind, limit, json, ..
            },
        } => show::messages(&store, kind.as_deref(), from, limit, tz, json).await,
        Command::Messages {
            command: MessagesCommand::Show { id, raw, json },
        } => files::message(&store, &id, raw, json).await,
        Command::Customers { command } => match command {
            CustomersCommand::List { json } => customers::list(&store, tz, json).await,
            CustomersCommand::Show { email, json } => {
                customers::show(&store, &email, tz, json).await
            }
            CustomersCommand::Export { email, out } => {
                customers::export(&store, clock, &email, &out).await
            }
            CustomersCommand::Forget { email, yes } => {
                customers::forget(&store, clock, &email, yes).await
            }
        },
        Command::Retention {
            command: RetentionCommand::Run { dry_run, json, .. },
        } => customers::retention(&store, &config, at, dry_run, json).await,
        Command::Backup { file } => customers::backup(&store, &file).await,
        Command::Report { format, .. } => {
            let from = from.expect("read above");
            report::run(&config, &store, from, at, tz, format).await
        }
        Command::Sla {
            command: SlaCommand::Status { json, .. },
        } => show::sla_status(&store, &config, at, tz, json).await,
        Command::Outbox {
            command: OutboxCommand::List { status, json },
        } => show::outbox(&store, status.as_deref(), tz, json).await,
        Command::Check { .. }
        | Command::Init(_)
        | Command::Run
        | Command::Migrate
        | Command::Ingest { .. }
        | Command::Explain { .. }
        | Command::Auth { .. } => unreachable!("dispatched before"),
    }
}

/// What most commands start with: the configuration (with the secrets
/// `secrets` asks for), quiet logging, the migrated database.
async fn open(path: &std::path::Path, secrets: Secrets) -> Result<(Config, Store), Failure> {
    let config = Config::load_with(path, secrets)?;
    init_logging(config.log_format, "warn");
    let store = open_store(&config).await?;
    Ok((config, store))
}

/// `postdesk run`: the daemon, until SIGTERM or SIGINT. A database that is
/// away at start is waited for, not given up on.
async fn run_daemon(path: &std::path::Path, clock: Arc<dyn Clock>) -> CliResult {
    let (config, templates) = load(path, Secrets::Read)?;
    init_logging(config.log_format, "info");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let reload_signal = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(watch_signals(shutdown.clone(), reload_signal.clone()));
    let mut attempt = 0;
    let store = loop {
        match open_store(&config).await {
            Ok(s) => break s,
            Err(f) if f.code == exit::TEMPFAIL => {
                attempt += 1;
                let wait = crate::backoff(
                    attempt,
                    std::time::Duration::from_secs(1),
                    std::time::Duration::from_secs(60),
                );
                tracing::error!(error = %f.message, retry_in = ?wait, "cannot open the database; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(exit::OK),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Err(f) => return Err(f),
        }
    };
    let path = path.to_path_buf();
    let reload = crate::daemon::Reload {
        signal: reload_signal,
        load: Box::new(move || load(&path, Secrets::Read).map_err(|f| f.message)),
    };
    crate::daemon::run(config, store, templates, clock, shutdown, reload)
        .await
        .map_err(|e| Failure::new(exit::TEMPFAIL, crate::error_chain(&e)))?;
    Ok(exit::OK)
}

/// `postdesk explain FILE`: the reasoning about one message, stored nowhere.
async fn explain_file(
    path: &std::path::Path,
    clock: Arc<dyn Clock>,
    mailbox: Option<String>,
    file: &std::path::Path,
    json: bool,
) -> CliResult {
    let (config, templates) = load(path, Secrets::Skip)?;
    init_logging(config.log_format, "warn");
    let mailbox = mailbox
        .or_else(|| config.mailboxes.first().map(|m| m.name.clone()))
        .unwrap_or_default();
    let store = open_store(&config).await?;
    let key = store.token_key().await?;
    let pipeline = crate::ingest::Pipeline::new(
        config,
        store,
        templates,
        key,
        clock,
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    explain::run(&pipeline, &mailbox, file, json).await
}

/// SIGTERM and SIGINT stop the daemon; SIGHUP reloads the configuration.
async fn watch_signals(
    shutdown: tokio_util::sync::CancellationToken,
    reload: Arc<tokio::sync::Notify>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM"); break; }
            _ = int.recv() => { tracing::info!("SIGINT"); break; }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                reload.notify_one();
            }
        }
    }
    shutdown.cancel();
}
