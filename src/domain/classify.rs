//! Classification: is this mail from a person we should answer, or from a
//! machine (our own mail coming back, a bounce, an auto-reply, a list)? The
//! answer decides whether anything is ever sent in return, so every rule errs
//! towards silence, and each result carries the evidence that decided it.

use super::model::Kind;
use super::parse::ParsedMail;

/// Header added to everything we send; its value is the sending mailbox's address.
pub const LOOP_HEADER: &str = "X-Postdesk-Loop";

/// What classification needs to know about us.
#[derive(Debug, Clone, Copy)]
pub struct Us<'a> {
    /// Our mailbox addresses, lower-cased.
    pub addresses: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub kind: Kind,
    /// The evidence, e.g. `Auto-Submitted: auto-replied`.
    pub reason: String,
}

impl Classification {
    fn new(kind: Kind, reason: impl Into<String>) -> Self {
        Classification {
            kind,
            reason: reason.into(),
        }
    }
}

/// Local parts of senders that never read replies.
const ROBOT_LOCAL_PARTS: &[&str] = &["mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"];
const NOREPLY_LOCAL_PARTS: &[&str] = &[
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
];

/// Is `local` (the part before `@`) a no-reply address?
pub fn is_noreply(local: &str) -> bool {
    let l = local.to_lowercase();
    let base = l.split('+').next().unwrap_or(&l);
    NOREPLY_LOCAL_PARTS.iter().any(|p| {
        base == *p || base.starts_with(&format!("{p}-")) || base.ends_with(&format!("-{p}"))
    })
}

/// Is `addr` one of our addresses, or a `+token` form of one?
pub fn is_ours(addr: &str, us: &Us<'_>) -> bool {
    let addr = addr.to_lowercase();
    us.addresses.iter().any(|a| {
        if *a == addr {
            return true;
        }
        // support+anything@domain is ours too
        let (local, domain) = a.split_once('@').unwrap_or((a, ""));
        addr.strip_suffix(&format!("@{domain}")).is_some_and(|l| {
            l.strip_prefix(local)
                .is_some_and(|rest| rest.starts_with('+'))
        })
    })
}

pub fn classify(m: &ParsedMail, us: &Us<'_>) -> Classification {
    // Our own mail coming back.
    if let Some(v) = m.header(LOOP_HEADER) {
        return Classification::new(Kind::Loop, format!("{LOOP_HEADER}: {v}"));
    }
    if let Some(from) = &m.from
        && is_ours(&from.email, us)
    {
        return Classification::new(Kind::Loop, format!("From our own address {}", from.email));
    }

    // Bounces and delivery reports.
    let report_type = m
        .content_type_params
        .iter()
        .find(|(k, _)| k == "report-type")
        .map(|(_, v)| v.to_lowercase());
    if m.content_type == "multipart/report" {
        let rt = report_type.unwrap_or_default();
        return match rt.as_str() {
            "delivery-status" | "" => {
                Classification::new(Kind::Bounce, format!("multipart/report; report-type={rt}"))
            }
            _ => Classification::new(
                Kind::AutoReply,
                format!("multipart/report; report-type={rt}"),
            ),
        };
    }
    if let Some(rp) = m.header("return-path")
        && rp
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .is_empty()
    {
        return Classification::new(Kind::Bounce, "empty Return-Path <>");
    }
    if let Some(from) = &m.from {
        let local = from.local_part().to_lowercase();
        if ROBOT_LOCAL_PARTS.contains(&local.as_str()) {
            return Classification::new(Kind::Bounce, format!("From {}", from.email));
        }
    }

    // Auto-replies (RFC 3834 and the common non-standard markers).
    if let Some(v) = m.header("auto-submitted")
        && !v.trim().to_lowercase().starts_with("no")
    {
        return Classification::new(Kind::AutoReply, format!("Auto-Submitted: {v}"));
    }
    for h in [
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "x-auto-reply",
    ] {
        if let Some(v) = m.header(h) {
            return Classification::new(Kind::AutoReply, format!("{h}: {v}"));
        }
    }
    let precedence = m.header("precedence").map(|v| v.trim().to_lowercase());
    if let Some(p) = &precedence
        && (p == "junk" || p == "auto_reply")
    {
        return Classification::new(Kind::AutoReply, format!("Precedence: {p}"));
    }

    // Lists and bulk mail.
    if let Some(v) = m.header("list-id") {
        return Classification::new(Kind::List, format!("List-Id: {v}"));
    }
    if let Some(p) = &precedence
        && (p == "bulk" || p == "list")
    {
        return Classification::new(Kind::List, format!("Precedence: {p}"));
    }
    if m.header("list-unsubscribe").is_some() {
        return Classification::new(Kind::List, "List-Unsubscribe present");
    }

    Classification::new(Kind::Customer, "no automatic markers")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse::parse;

    fn kind(headers: &str) -> Kind {
        let raw = format!("{headers}Subject: hi\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n");
        let us = ["support@example.com".to_string()];
        classify(&parse(raw.as_bytes()), &Us { addresses: &us }).kind
    }

    #[test]
    fn customers() {
        assert_eq!(kind("From: jane@example.org\r\n"), Kind::Customer);
        assert_eq!(
            kind("From: jane@example.org\r\nAuto-Submitted: no\r\n"),
            Kind::Customer
        );
        // a weak sign alone is not enough
        assert_eq!(
            kind("From: jane@example.org\r\nX-Auto-Response-Suppress: All\r\n"),
            Kind::Customer
        );
    }

    #[test]
    fn machines() {
        assert_eq!(
            kind("From: jane@example.org\r\nAuto-Submitted: auto-replied\r\n"),
            Kind::AutoReply
        );
        assert_eq!(
            kind("From: jane@example.org\r\nX-Autoreply: yes\r\n"),
            Kind::AutoReply
        );
        assert_eq!(
            kind("From: jane@example.org\r\nPrecedence: junk\r\n"),
            Kind::AutoReply
        );
        assert_eq!(
            kind("From: jane@example.org\r\nPrecedence: bulk\r\n"),
            Kind::List
        );
        assert_eq!(
            kind("From: jane@example.org\r\nList-Id: <l.example.org>\r\n"),
            Kind::List
        );
        assert_eq!(kind("From: MAILER-DAEMON@example.org\r\n"), Kind::Bounce);
        assert_eq!(kind("From: postmaster@example.org\r\n"), Kind::Bounce);
        assert_eq!(
            kind("Return-Path: <>\r\nFrom: jane@example.org\r\n"),
            Kind::Bounce
        );
        assert_eq!(
            kind(
                "From: x@example.org\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"
            ),
            Kind::Bounce
        );
    }

    #[test]
    fn our_own_mail() {
        assert_eq!(kind("From: support@example.com\r\n"), Kind::Loop);
        assert_eq!(kind("From: Support@Example.com\r\n"), Kind::Loop);
        assert_eq!(kind("From: support+12-abc@example.com\r\n"), Kind::Loop);
        assert_eq!(
            kind("From: jane@example.org\r\nX-Postdesk-Loop: support@example.com\r\n"),
            Kind::Loop
        );
        assert_eq!(kind("From: supportive@example.com\r\n"), Kind::Customer);
    }

    #[test]
    fn noreply_senders() {
        assert!(is_noreply("noreply"));
        assert!(is_noreply("No-Reply"));
        assert!(is_noreply("billing-noreply"));
        assert!(is_noreply("noreply+abc"));
        assert!(!is_noreply("norbert"));
    }
}
