//! `[[mailbox]]` and `[[agent]]`: each support address with its IMAP
//! server, languages, retention and who answers it.

use super::*;

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

pub(super) fn read_timezone(n: &Node<'_>, key: &str) -> Option<jiff::tz::TimeZone> {
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
pub(super) fn read_language(n: &Node<'_>, key: &str) -> Option<String> {
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

fn read_mailbox(
    n: &Node<'_>,
    ctx: &Ctx<'_>,
    policies: &[String],
    agents: &[String],
) -> Option<MailboxConfig> {
    let name = read_name(n);
    let address = read_address(n);
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
    let after_ingest = read_after_ingest(n);
    let fetch_batch = n.opt_int("fetch_batch", 1, 10_000).unwrap_or(100) as u32;
    let list_mail_opens_tickets =
        n.opt_choice("list_mail", &["ignore", "ticket"]) == Some("ticket");
    let cc_agents_on_replies = n.opt_bool("cc_agents_on_replies").unwrap_or(false);
    let survey = n.opt_bool("survey").unwrap_or(false);
    let closing_mail = n.opt_bool("closing_mail").unwrap_or(false);
    // Reply tokens already need plus-addressing, so signed envelope senders
    // work wherever postdesk does; a server without it can turn them off.
    let verp = n.opt_bool("verp").unwrap_or(true);
    let retention = read_retention(n);
    let sla = read_sla_name(n, policies);
    let language = read_language(n, "language");
    let force_language = read_language(n, "force_language");
    let formal = n.opt_bool("formal").unwrap_or(false);
    let notify_attachments_max = n
        .opt_size("notify_attachments_max")
        .unwrap_or(10 * 1000 * 1000);
    let timezone = n.has("timezone").then(|| read_timezone(n, "timezone"));
    let mailbox_agents = read_mailbox_agents(n, agents);
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

/// The `[[agent]]`s, and whether every one of them was read.
pub(super) fn read_agents(root: &Node<'_>) -> (Vec<AgentConfig>, bool) {
    let agents: Vec<AgentConfig> = root.tables("agent").iter().filter_map(read_agent).collect();
    let written = root
        .get("agent")
        .and_then(|v| v.as_array())
        .map_or(0, Vec::len);
    check_unique(
        root,
        "agent",
        agents.iter().map(|a| a.email.as_str()),
        "email",
    );
    let all = agents.len() == written;
    (agents, all)
}

/// The `[[mailbox]]`es (at least one), each name and address once.
pub(super) fn read_mailboxes(
    root: &Node<'_>,
    nodes: &[Node<'_>],
    ctx: &Ctx<'_>,
    policy_names: &[String],
) -> Vec<MailboxConfig> {
    if nodes.is_empty() && !root.has("mailbox") {
        root.problem("mailbox", "at least one [[mailbox]] is required");
    }
    // Agents as written, to tell a mailbox's own address from an agent's.
    let agent_emails: Vec<String> = root
        .get("agent")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("email")?.as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    let mailboxes: Vec<MailboxConfig> = nodes
        .iter()
        .filter_map(|n| read_mailbox(n, ctx, policy_names, &agent_emails))
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
    mailboxes
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

/// The mailbox's name: letters, digits, - or _ (it names files and metrics).
fn read_name(n: &Node<'_>) -> Option<String> {
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
    name
}

/// The support address, without a `+` (replies come to `address+TOKEN`).
fn read_address(n: &Node<'_>) -> Option<String> {
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
    address
}

/// What is done on the IMAP server with a message once it is stored.
fn read_after_ingest(n: &Node<'_>) -> AfterIngest {
    match n.opt_str("after_ingest").as_deref() {
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
    }
}

/// How long the mailbox keeps raw mail and texts (the global ages else).
fn read_retention(n: &Node<'_>) -> Retention {
    match n.table("retention") {
        Some(r) => {
            let v = Retention {
                raw: r.opt_age("raw"),
                text: r.opt_age("text"),
            };
            r.finish();
            v
        }
        None => Retention::default(),
    }
}

/// The SLA policy's name, one of `policies` when written.
fn read_sla_name(n: &Node<'_>, policies: &[String]) -> String {
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
    sla
}

/// The mailbox's own agents, each an `[[agent]]` of the file.
fn read_mailbox_agents(n: &Node<'_>, agents: &[String]) -> Vec<String> {
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
    mailbox_agents
}

pub(super) fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none defined".into()
    } else {
        names.join(", ")
    }
}
