//! The vocabulary of the domain: ticket status and priority, message kinds and
//! directions, the outcome of an ingest, the kinds of outbound mail. Each has
//! one spelling, used in the database, the CLI and the JSON contract.

use std::fmt;

macro_rules! spelled_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // In JSON as in the database: its spelling.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

spelled_enum!(
    /// Where a ticket stands.
    Status { Open => "open", Pending => "pending", Resolved => "resolved", Closed => "closed" }
);

spelled_enum!(
    Priority { Low => "low", Normal => "normal", High => "high", Urgent => "urgent" }
);

spelled_enum!(
    /// What a message is, as far as answering it goes.
    Kind {
        Customer => "customer",
        Agent => "agent",
        AutoReply => "autoreply",
        Bounce => "bounce",
        List => "list",
        Loop => "loop",
        Spam => "spam",
    }
);

spelled_enum!(
    Direction { In => "in", Out => "out" }
);

spelled_enum!(
    /// How someone takes part in a ticket. Customers and the people they
    /// copied in form the audience that relayed answers go to; agents and
    /// watchers (people told of escalations who are not agents) are internal.
    Role { Customer => "customer", Cc => "cc", Agent => "agent", Watcher => "watcher" }
);

impl Role {
    /// Hears the ticket's answers (relayed agent replies go to them).
    pub fn is_audience(self) -> bool {
        matches!(self, Role::Customer | Role::Cc)
    }
}

spelled_enum!(
    /// What ingest did with a message.
    Action { Created => "created", Appended => "appended", Duplicate => "duplicate", Ignored => "ignored" }
);

spelled_enum!(
    /// Why we send a mail; also the template's event name.
    OutKind {
        Ack => "ack",
        AgentNotify => "agent_notify",
        AgentReply => "agent_reply",
        SlaWarning => "sla_warning",
        Escalation => "escalation",
        Closed => "closed",
        Survey => "survey",
        CommandResult => "command_result",
        Digest => "digest",
        OAuthFailed => "oauth_failed",
    }
);

/// Whether a stored message carries a person's words: a customer's or an
/// agent's mail coming in, or an agent's answer relayed out. Everything
/// else (acknowledgements, notifications, warnings, robots' mail) is
/// automatic. `direction` and `kind` as stored.
pub fn written_by_a_person(direction: &str, kind: &str) -> bool {
    match Direction::parse(direction) {
        Some(Direction::In) => matches!(Kind::parse(kind), Some(Kind::Customer | Kind::Agent)),
        Some(Direction::Out) => OutKind::parse(kind) == Some(OutKind::AgentReply),
        None => false,
    }
}

spelled_enum!(
    /// Delivery state of an outbox row.
    OutStatus { Queued => "queued", Sent => "sent", Failed => "failed", Bounced => "bounced" }
);

impl Kind {
    /// Mail written by a machine: stored, never answered, never a reply that moves a clock.
    pub fn is_automatic(self) -> bool {
        matches!(
            self,
            Kind::AutoReply | Kind::Bounce | Kind::List | Kind::Loop | Kind::Spam
        )
    }
}

/// An email address with an optional display name. The address is lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub email: String,
    pub name: Option<String>,
}

impl Address {
    pub fn new(email: &str, name: Option<&str>) -> Self {
        Address {
            email: email.trim().to_lowercase(),
            name: name
                .map(|n| n.trim().trim_matches('"').trim().to_string())
                .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(email.trim())),
        }
    }

    pub fn local_part(&self) -> &str {
        self.email
            .rsplit_once('@')
            .map_or(self.email.as_str(), |(l, _)| l)
    }

    pub fn domain(&self) -> &str {
        self.email.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Does `s` look like an address we can write to (`local@domain.tld`)?
pub fn looks_like_address(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !s.contains(['<', '>', ',', '"'])
        }
        None => false,
    }
}

/// Marks on a stored message.
pub mod flags {
    /// The message could not be parsed as RFC 5322 (or had no usable header).
    pub const MALFORMED: &str = "malformed";
    /// No Message-ID: it was given one made from the SHA-256 of its bytes.
    pub const NO_MESSAGE_ID: &str = "no-message-id";
    /// Raw 8-bit bytes in the header.
    pub const EIGHT_BIT_HEADERS: &str = "8bit-headers";
    /// Larger than `limits.max_message_size`: only its header was read.
    pub const TOO_LARGE: &str = "too-large";
    /// No sender address: nobody to answer.
    pub const NO_SENDER: &str = "no-sender";
    /// The MIME parser gave up on it (only the raw bytes are kept).
    pub const PARSER_FAILED: &str = "parser-failed";
    /// Blank lines stood before its first header; they were skipped.
    pub const LEADING_BLANK_LINES: &str = "leading-blank-lines";
    /// The parser lost the sender's local part (a quoted or encoded one
    /// read as a name): the address was read from the raw header as written.
    pub const ADDRESS_REPAIRED: &str = "address-repaired";
    /// An encoded-word stands in the sender's local part (RFC 2047 forbids
    /// it; a known spoofing trick): kept raw, it matches nobody.
    pub const ENCODED_LOCAL_PART: &str = "encoded-local-part";
    /// The sender has a local part and no domain (`Moderator <moderator>`):
    /// known, but nobody can be answered there.
    pub const BARE_LOCAL_PART: &str = "bare-local-part";
    /// A raw 8-bit header was decoded by detecting its charset.
    pub const CHARSET_DETECTED: &str = "charset-detected";
}
