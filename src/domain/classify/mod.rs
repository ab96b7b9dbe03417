//! Classification: is this mail from a person we should answer, or from a
//! machine (our own mail coming back, a bounce, an auto-reply, a report, a
//! list)? The answer decides whether anything is ever sent in return, so the
//! rules err towards silence, strong signs (headers, MIME types) come before
//! weak ones (subjects, phrases), and each result carries the evidence.

mod signs;

use super::model::Kind;
use super::parse::ParsedMail;
use signs::*;

/// Header added to everything we send; its value is the sending mailbox's address.
pub const LOOP_HEADER: &str = "X-Postdesk-Loop";

/// What classification needs to know about us.
#[derive(Debug, Clone, Copy)]
pub struct Us<'a> {
    /// Our mailbox addresses, lower-cased.
    pub addresses: &'a [String],
}

/// A header by which the MTA's spam filter gives its verdict: the mail is
/// spam when the header's value matches `pattern` (a case-insensitive
/// regular expression).
#[derive(Debug, Clone)]
pub struct SpamRule {
    pub header: String,
    pub pattern: regex::Regex,
}

impl SpamRule {
    /// A rule from a header name and a pattern (case-insensitive).
    pub fn new(header: &str, pattern: &str) -> Result<SpamRule, regex::Error> {
        Ok(SpamRule {
            header: header.to_ascii_lowercase(),
            pattern: regex::RegexBuilder::new(pattern)
                .case_insensitive(true)
                .build()?,
        })
    }

    /// The verdicts of SpamAssassin, rspamd and their kin, as their milters
    /// and `spamc` write them.
    pub fn builtin() -> Vec<SpamRule> {
        [
            ("x-spam-flag", r"^\s*yes\b"),
            ("x-spam-status", r"^\s*yes\b"),
            ("x-spam", r"^\s*yes\b"),
            (
                "x-rspamd-action",
                r"^\s*(reject|add header|rewrite subject)\s*$",
            ),
            ("x-spamd-result", r"^\s*default:\s*true\b"),
        ]
        .into_iter()
        .map(|(h, p)| SpamRule::new(h, p).expect("built-in patterns compile"))
        .collect()
    }
}

/// What decides that mail is spam besides its content: the MTA's verdict
/// headers, a DMARC failure reported by our own MTA, an agent's `#spam`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Screening<'a> {
    /// authserv-ids of our MTA, whose Authentication-Results we trust.
    pub trusted_authserv_ids: &'a [String],
    pub spam_rules: &'a [SpamRule],
    /// DMARC `fail` from a trusted authserv-id makes mail spam.
    pub dmarc_fail_is_spam: bool,
    /// An agent marked this sender as spam: why.
    pub sender_marked: Option<&'a str>,
}

/// What a bounce or delivery report says about the returned mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// It could not be delivered (permanently).
    Failed,
    /// Still trying.
    Delayed,
    /// Delivered or relayed: a success notice.
    Delivered,
    /// A bounce without a machine-readable report.
    Unknown,
}

/// The classes of evidence a classification rests on, strongest first.
/// Each has a stable name, written in the message's events and by
/// `postdesk explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Our loop header: our own mail came back.
    LoopHeader,
    /// From one of our own addresses.
    OurAddress,
    /// The MTA's spam verdict, a trusted DMARC failure, or `#spam`.
    SpamVerdict,
    /// `multipart/report` (RFC 6522): delivery status, disposition, feedback.
    ReportMime,
    /// A mail system's own address (postmaster, MAILER-DAEMON, in all the
    /// spellings servers use).
    MailSystemSender,
    /// The null envelope sender `<>` (RFC 5321 §4.5.5).
    NullSender,
    /// `Auto-Submitted` other than `no` (RFC 3834).
    Rfc3834,
    /// A responder's own header (`X-Autoreply`, challenge-response systems).
    AutoReplyHeader,
    /// `Precedence: junk`, `bulk`, `list`, `auto_reply`.
    Precedence,
    /// `List-Id`, `List-Post`, `List-Unsubscribe` (RFC 2369, 2919).
    ListHeader,
    /// A mailing-list manager's own reply (mlmmj, fml, Mailman, Majordomo,
    /// ezmlm, Sympa, LISTSERV), which carries no `List-Id`.
    ListManager,
    /// Another help desk's mail (Request Tracker, Zendesk, Jira, OTRS,
    /// Zammad …): it may carry a person's words, but is never acknowledged
    /// (two ticket systems acknowledging each other is the classic loop).
    Helpdesk,
    /// An abuse report of a feedback loop sent as plain mail.
    FeedbackLoop,
    /// Last resort, subjects and phrases: out of office.
    OutOfOfficeSubject,
    /// Last resort: a read receipt sent as ordinary mail.
    ReadReceipt,
    /// Last resort: a failure-notice subject confirmed by its text.
    FailureNotice,
    /// Last resort: an aggregate DMARC or TLS report.
    DmarcReport,
    /// Last resort: a challenge-response robot asking to be answered.
    ChallengeResponse,
    /// Nothing automatic about it: a person's mail.
    None,
}

impl Evidence {
    pub fn name(self) -> &'static str {
        match self {
            Evidence::LoopHeader => "loop-header",
            Evidence::OurAddress => "our-address",
            Evidence::SpamVerdict => "spam-verdict",
            Evidence::ReportMime => "report-mime",
            Evidence::MailSystemSender => "mail-system-sender",
            Evidence::NullSender => "null-sender",
            Evidence::Rfc3834 => "rfc3834",
            Evidence::AutoReplyHeader => "auto-reply-header",
            Evidence::Precedence => "precedence",
            Evidence::ListHeader => "list-header",
            Evidence::ListManager => "list-manager",
            Evidence::Helpdesk => "helpdesk",
            Evidence::FeedbackLoop => "feedback-loop",
            Evidence::OutOfOfficeSubject => "out-of-office-subject",
            Evidence::ReadReceipt => "read-receipt",
            Evidence::FailureNotice => "failure-notice",
            Evidence::DmarcReport => "dmarc-report",
            Evidence::ChallengeResponse => "challenge-response",
            Evidence::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub kind: Kind,
    /// The class of evidence that decided.
    pub evidence: Evidence,
    /// The evidence itself, e.g. `Auto-Submitted: auto-replied`.
    pub reason: String,
    /// For bounces: what happened to the returned mail.
    pub delivery: Option<Delivery>,
}

impl Classification {
    fn new(kind: Kind, evidence: Evidence, reason: impl Into<String>) -> Self {
        Classification {
            kind,
            evidence,
            reason: reason.into(),
            delivery: None,
        }
    }

    fn bounce(evidence: Evidence, reason: impl Into<String>, delivery: Delivery) -> Self {
        Classification {
            kind: Kind::Bounce,
            evidence,
            reason: reason.into(),
            delivery: Some(delivery),
        }
    }

    /// Mail a person may have written, that must still never be answered
    /// automatically (another help desk's).
    pub fn never_acknowledged(&self) -> Option<String> {
        (self.evidence == Evidence::Helpdesk).then(|| self.reason.clone())
    }

    /// `rfc3834: Auto-Submitted: auto-replied`, for events.
    pub fn describe(&self) -> String {
        format!("{} by {}: {}", self.kind, self.evidence.name(), self.reason)
    }
}

/// Is `local` (the part before `@`) a no-reply address?
pub fn is_noreply(local: &str) -> bool {
    let l = local.to_lowercase();
    let base = l.split('+').next().unwrap_or(&l);
    NOREPLY_LOCAL_PARTS.iter().any(|p| {
        base == *p
            || base.starts_with(&format!("{p}-"))
            || base.ends_with(&format!("-{p}"))
            || base.ends_with(&format!(".{p}"))
    })
}

/// Is `addr` one of our addresses, or a `+token` form of one?
pub fn is_ours(addr: &str, us: &Us<'_>) -> bool {
    let addr = addr.to_lowercase();
    us.addresses.iter().any(|a| {
        if *a == addr {
            return true;
        }
        let (local, domain) = a.split_once('@').unwrap_or((a, ""));
        addr.strip_suffix(&format!("@{domain}")).is_some_and(|l| {
            l.strip_prefix(local)
                .is_some_and(|rest| rest.starts_with('+'))
        })
    })
}

fn starts_with_any(s: &str, list: &[&str]) -> Option<String> {
    list.iter()
        .find(|p| s.starts_with(*p))
        .map(|p| p.to_string())
}

fn contains_any(s: &str, list: &[&str]) -> Option<String> {
    list.iter().find(|p| s.contains(*p)).map(|p| p.to_string())
}

/// What a bounce says about the returned mail: the DSN fields taken
/// together, or else the words of its subject and text.
fn delivery_of(m: &ParsedMail) -> Delivery {
    if m.dsn.is_empty() {
        let words = format!("{}\n{}", m.subject, m.text).to_lowercase();
        return if contains_any(&words, DELAY_PHRASES).is_some() {
            Delivery::Delayed
        } else if contains_any(&words, PERMANENT_PHRASES).is_some() {
            Delivery::Failed
        } else {
            Delivery::Unknown
        };
    }
    let failed = m
        .dsn
        .iter()
        .any(|r| r.action == "failed" || r.status.starts_with('5'));
    let delayed = m
        .dsn
        .iter()
        .any(|r| r.action == "delayed" || r.status.starts_with('4'));
    if failed {
        Delivery::Failed
    } else if delayed {
        Delivery::Delayed
    } else {
        Delivery::Delivered
    }
}

/// The subject without leading reply prefixes and bracket tags, lower-cased,
/// for matching prefixes like `automatic reply:` that may follow `RE:`. A
/// forward (`FW:`) is kept: machines do not forward, people do.
fn bare_subject(subject: &str) -> String {
    let mut s = subject.trim().to_lowercase();
    loop {
        let t = s.trim_start();
        let next = ["re:", "aw:", "sv:", "antw:"]
            .iter()
            .find_map(|p| t.strip_prefix(p))
            .or_else(|| {
                t.strip_prefix('[')
                    .and_then(|r| r.split_once(']').map(|(_, rest)| rest))
            });
        match next {
            Some(rest) => s = rest.to_string(),
            None => return t.to_string(),
        }
    }
}

/// The spam verdict on `m`, with its evidence.
fn spam(m: &ParsedMail, s: &Screening<'_>) -> Option<String> {
    if let Some(why) = s.sender_marked {
        return Some(format!("the sender was marked as spam ({why})"));
    }
    for rule in s.spam_rules {
        if let Some(v) = m
            .headers_named(&rule.header)
            .find(|v| rule.pattern.is_match(v))
        {
            return Some(format!("{}: {v}", rule.header));
        }
    }
    if s.dmarc_fail_is_spam {
        return super::auth::dmarc_fail(m, s.trusted_authserv_ids);
    }
    None
}

pub fn classify(m: &ParsedMail, us: &Us<'_>, screening: &Screening<'_>) -> Classification {
    // In this order: the first step with evidence decides.
    own_mail(m, us)
        .or_else(|| report(m, screening))
        .or_else(|| mail_system_sender(m))
        .or_else(|| auto_reply(m))
        .or_else(|| list(m))
        // 6. Other help desks: a person may have written it, but it is
        // never acknowledged.
        .or_else(|| {
            helpdesk(m).map(|why| Classification::new(Kind::Customer, Evidence::Helpdesk, why))
        })
        .or_else(|| by_words(m))
        .unwrap_or_else(|| {
            Classification::new(Kind::Customer, Evidence::None, "no automatic markers")
        })
}

/// Step 1: our own mail coming back.
fn own_mail(m: &ParsedMail, us: &Us<'_>) -> Option<Classification> {
    use Evidence as E;
    if let Some(v) = m.header(LOOP_HEADER) {
        return Some(Classification::new(
            Kind::Loop,
            E::LoopHeader,
            format!("{LOOP_HEADER}: {v}"),
        ));
    }
    if let Some(from) = &m.from
        && is_ours(&from.email, us)
    {
        let why = format!("From our own address {}", from.email);
        return Some(Classification::new(Kind::Loop, E::OurAddress, why));
    }
    None
}

/// Step 2: reports: delivery status, read receipts, abuse and TLS reports. A
/// spam verdict wins over everything but a real report (backscatter of a
/// spam run has no report of ours to point at anyway).
fn report(m: &ParsedMail, screening: &Screening<'_>) -> Option<Classification> {
    use Evidence as E;
    if m.content_type != "multipart/report"
        && let Some(why) = spam(m, screening)
    {
        return Some(Classification::new(Kind::Spam, E::SpamVerdict, why));
    }
    if m.content_type == "multipart/report" {
        let rt = m
            .content_type_params
            .iter()
            .find(|(k, _)| k == "report-type")
            .map(|(_, v)| v.to_lowercase())
            .unwrap_or_default();
        let reason = format!("multipart/report; report-type={rt}");
        return Some(match rt.as_str() {
            "delivery-status" | "global-delivery-status" | "" => {
                Classification::bounce(E::ReportMime, reason, delivery_of(m))
            }
            _ => Classification::new(Kind::AutoReply, E::ReportMime, reason),
        });
    }
    None
}

/// Step 3: mail-system senders. An empty Return-Path marks bounces, but also
/// RFC 3834 auto-replies (vacation responders send with a null sender).
fn mail_system_sender(m: &ParsedMail) -> Option<Classification> {
    use Evidence as E;
    if let Some(from) = &m.from
        && let Some(name) = mail_system(from.local_part())
    {
        let why = format!("From {} (a mail system: {name})", from.email);
        return Some(Classification::bounce(
            E::MailSystemSender,
            why,
            delivery_of(m),
        ));
    }
    if m.return_path().is_some_and(str::is_empty) {
        let auto_reply = m
            .header("auto-submitted")
            .is_some_and(|v| v.trim().to_lowercase().starts_with("auto-replied"));
        if auto_reply
            && m.dsn.is_empty()
            && contains_any(&bare_subject(&m.subject), BOUNCE_SUBJECTS).is_none()
        {
            return Some(Classification::new(
                Kind::AutoReply,
                E::NullSender,
                "Auto-Submitted: auto-replied, empty Return-Path <>",
            ));
        }
        return Some(Classification::bounce(
            E::NullSender,
            "empty Return-Path <>",
            delivery_of(m),
        ));
    }
    None
}

/// Step 4: auto-replies (RFC 3834 and the common non-standard markers).
fn auto_reply(m: &ParsedMail) -> Option<Classification> {
    use Evidence as E;
    if let Some(v) = m.header("auto-submitted")
        && !v.trim().to_lowercase().starts_with("no")
    {
        return Some(Classification::new(
            Kind::AutoReply,
            E::Rfc3834,
            format!("Auto-Submitted: {v}"),
        ));
    }
    for h in AUTO_HEADERS {
        if let Some(v) = m.header(h) {
            return Some(Classification::new(
                Kind::AutoReply,
                E::AutoReplyHeader,
                format!("{h}: {v}"),
            ));
        }
    }
    let precedence = m.header("precedence").map(|v| v.trim().to_lowercase());
    if let Some(p) = &precedence
        && (p == "junk" || p == "auto_reply")
    {
        return Some(Classification::new(
            Kind::AutoReply,
            E::Precedence,
            format!("Precedence: {p}"),
        ));
    }
    None
}

/// Step 5: lists and bulk mail, and list managers' own replies.
fn list(m: &ParsedMail) -> Option<Classification> {
    use Evidence as E;
    let precedence = m.header("precedence").map(|v| v.trim().to_lowercase());
    for h in ["list-id", "x-mailing-list", "list-post"] {
        if let Some(v) = m.header(h) {
            return Some(Classification::new(
                Kind::List,
                E::ListHeader,
                format!("{h}: {v}"),
            ));
        }
    }
    if let Some(why) = list_manager(m) {
        return Some(Classification::new(Kind::List, E::ListManager, why));
    }
    if let Some(p) = &precedence
        && (p == "bulk" || p == "list")
    {
        return Some(Classification::new(
            Kind::List,
            E::Precedence,
            format!("Precedence: {p}"),
        ));
    }
    if m.header("list-unsubscribe").is_some() {
        return Some(Classification::new(
            Kind::List,
            E::ListHeader,
            "List-Unsubscribe present",
        ));
    }
    None
}

/// Step 7: last resort, with no header to go by: subjects and phrases.
fn by_words(m: &ParsedMail) -> Option<Classification> {
    use Evidence as E;
    let subject = bare_subject(&m.subject);
    let text = m.text.to_lowercase();
    if let Some(why) = feedback_loop(&m.subject, &text) {
        return Some(Classification::new(Kind::AutoReply, E::FeedbackLoop, why));
    }
    if let Some(why) = out_of_office_text(&m.subject, &text) {
        return Some(Classification::new(
            Kind::AutoReply,
            E::OutOfOfficeSubject,
            why,
        ));
    }
    if let Some(p) = starts_with_any(&subject, AUTO_REPLY_SUBJECTS) {
        let why = format!("out-of-office subject {p:?}");
        return Some(Classification::new(
            Kind::AutoReply,
            E::OutOfOfficeSubject,
            why,
        ));
    }
    if let Some(why) = notes_out_of_office(&m.subject) {
        return Some(Classification::new(
            Kind::AutoReply,
            E::OutOfOfficeSubject,
            why,
        ));
    }
    if let Some(p) = starts_with_any(&m.subject.trim().to_lowercase(), READ_RECEIPT_SUBJECTS)
        && (m.content_type == "application/ms-tnef"
            || m.attachments
                .iter()
                .any(|a| a.content_type == "application/ms-tnef")
            || text.contains("was read on"))
    {
        return Some(Classification::new(
            Kind::AutoReply,
            E::ReadReceipt,
            format!("read receipt ({p:?} and a receipt body)"),
        ));
    }
    if let Some(p) = contains_any(&subject, BOUNCE_SUBJECTS)
        && let Some(phrase) = contains_any(&text, BOUNCE_PHRASES)
    {
        return Some(Classification::bounce(
            E::FailureNotice,
            format!("failure-notice subject {p:?} and {phrase:?}"),
            delivery_of(m),
        ));
    }
    let full_subject = m.subject.to_lowercase();
    if (subject.starts_with("report domain:") && subject.contains("submitter:"))
        || (full_subject.contains("dmarc") && full_subject.contains("report"))
        || m.header("tls-report-domain").is_some()
    {
        return Some(Classification::new(
            Kind::AutoReply,
            E::DmarcReport,
            "DMARC/TLS report",
        ));
    }
    if let Some(p) = contains_any(&text, CHALLENGE_PHRASES)
        && (text.contains("click") || text.contains("verif"))
        && (text.contains("your message") || text.contains("your email"))
    {
        return Some(Classification::new(
            Kind::AutoReply,
            E::ChallengeResponse,
            format!("challenge-response request ({p:?})"),
        ));
    }
    None
}

#[cfg(test)]
mod tests;
