//! The command line's grammar (DESIGN §9, a contract): every command, its
//! arguments and flags, as clap reads them.

use super::init;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "postdesk",
    version,
    about = "Email ticketing daemon: support mailboxes become tickets"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "POSTDESK_CONFIG",
        default_value = "postdesk.toml"
    )]
    pub config: PathBuf,
    /// The time zone text output writes times in, and local times given to
    /// --at and --since are read in (IANA name; default: the system's).
    #[arg(long, global = true, env = "POSTDESK_TZ", value_name = "ZONE")]
    pub tz: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a first configuration for one mailbox (asked in a terminal, or
    /// given as flags), then check it against the servers.
    Init(Box<init::InitArgs>),
    /// Run the daemon: every mailbox and the outbox worker.
    Run,
    /// Validate the configuration and templates.
    Check {
        /// Also log in to every IMAP and SMTP server and the database.
        #[arg(long)]
        connect: bool,
    },
    /// Apply database migrations.
    Migrate,
    /// Ingest raw messages: stdin and each file are one message (an MTA's
    /// leading `From ` envelope line is removed); `.mbox` files, or every
    /// input with --mbox, are split.
    Ingest {
        /// The mailbox the messages arrived in.
        #[arg(long)]
        mailbox: String,
        /// One JSON object per message.
        #[arg(long)]
        json: bool,
        /// Arrival time: RFC 3339, or `date-header` for each message's Date.
        #[arg(long, value_name = "TIME|date-header")]
        received_at: Option<String>,
        /// Read every input (stdin included) as an mbox of many messages.
        #[arg(long)]
        mbox: bool,
        /// Files to read; stdin when none.
        files: Vec<PathBuf>,
    },
    /// Tickets.
    Tickets {
        #[command(subcommand)]
        command: TicketsCommand,
    },
    /// How one message would be read, classified, threaded and decided,
    /// without storing it.
    Explain {
        file: PathBuf,
        /// The mailbox it arrives in (default: the first).
        #[arg(long)]
        mailbox: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Personal data: every address held, one person's data, an export.
    Customers {
        #[command(subcommand)]
        command: CustomersCommand,
    },
    /// Personal data past its mailbox's `retention` age.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// OAuth2 accounts (`[oauth.NAME]`): sign in, and how each stands.
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// A consistent copy of a SQLite database, taken while the daemon runs.
    Backup {
        /// The new file (it must not exist).
        file: PathBuf,
    },
    /// Stored mail, and its original bytes.
    Messages {
        #[command(subcommand)]
        command: MessagesCommand,
    },
    /// Outbound mail.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// SLA clocks.
    Sla {
        #[command(subcommand)]
        command: SlaCommand,
    },
    /// Tickets, response times, SLA compliance, reopenings and satisfaction,
    /// per mailbox and per agent.
    Report {
        /// The period: a duration back from now (`30d`, `12h`), a date
        /// (`2026-11-01`), a local time (`2026-11-01 08:00`) or RFC 3339.
        #[arg(long, default_value = "30d", value_name = "DURATION|TIME")]
        since: String,
        /// text, json, or html (one self-contained page with charts).
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Html,
}

#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// Every clock as of now (or TIME): due, at risk, breached, met.
    Status {
        /// The time to look at instead of now: a date, a local time
        /// (`2026-12-01 16:45`) or RFC 3339.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// List tickets, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One ticket with its messages and events.
    Show {
        number: i64,
        #[arg(long)]
        json: bool,
        /// Save the ticket's attachments into DIR instead (safe names, none
        /// overwritten).
        #[arg(long, value_name = "DIR")]
        attachments: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign the account in (a code to enter at the provider's page, or an
    /// address to open in a browser) and store its tokens in the database.
    Login { name: String },
    /// Every account: ok, expired (renewed on next use), failed or missing.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Remove it now (the daemon also does, once a day).
    Run {
        /// Print what would be removed, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// As of this time instead of now (a date, a local time or RFC 3339).
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Every address held as a customer or a customer's copy.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One address: tickets, messages each way, first and last contact.
    Show {
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Everything held about one person: customer.json and every message
    /// they sent or were sent as an .eml file.
    Export {
        email: String,
        /// The directory to write (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Erase one person's personal data (their words and address); the
    /// tickets stay with a pseudonym, so reports keep their figures.
    Forget {
        email: String,
        /// Really do it (it cannot be undone).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// Stored mail, newest first, with or without a ticket: what was set
    /// aside (lists, robots, spam, no sender) and why is in its kind and flags.
    List {
        /// customer, agent, autoreply, bounce, list, loop or spam.
        #[arg(long)]
        kind: Option<String>,
        /// A duration back from now (`7d`), a date, a local time or RFC 3339.
        #[arg(long, value_name = "DURATION|TIME")]
        since: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One stored message by its Message-ID.
    Show {
        id: String,
        /// Write the original bytes (a file a mail client opens).
        #[arg(long)]
        raw: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List outbound mail.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
}
