//! What a ticket's history records. Code decides on [`EventKind`], never
//! on text; each kind is stored in the `events` table's `what` column
//! under the name [`EventKind::name`] gives, which reports, `postdesk
//! show` and the JSON contract read, so a name never changes.

use std::borrow::Cow;
use std::fmt;

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A message arrived, and how it was classified.
    Received,
    /// How a message found its ticket (or did not).
    Threading,
    /// Which SLA policy and priority a new ticket got, and why.
    Policy,
    /// A status change that is not a reopening.
    Status,
    /// A resolved or closed ticket opened again.
    Reopened,
    /// A new ticket follows one closed beyond the reopen window.
    FollowUp,
    /// Mail kept without a ticket or an answer.
    Ignored,
    /// No acknowledgement, and why.
    NotAcknowledged,
    /// Where the acknowledgement goes, when not to the From address.
    AcknowledgementAddress,
    AcknowledgementQueued,
    AgentsNotified,
    /// An agent's notification held back by a limit, for their digest.
    NotificationHeld,
    /// Addresses a mail named that were not added to the ticket.
    AudienceUnchanged,
    /// Mail from an agent's address without proof that it is theirs.
    AgentNotProven,
    /// Agent mail that names no ticket.
    AgentMailOutsideTicket,
    NoteShared,
    /// An internal note by an agent.
    Note,
    /// An internal remark by a watcher (not an agent).
    Remark,
    Merged,
    PossibleBounce,
    Bounced,
    /// Automatic mail to an address stopped for a while (it bounced).
    Suppressed,
    DigestQueued,
    Priority,
    Sent,
    DeliveryDeferred,
    DeliveryFailed,
    /// An agent's overview command was answered.
    ListsSent,
    /// An agent was told the result of a command.
    AgentTold,
    NothingSentAtClosing,
    SurveyQueued,
    ClosingMailQueued,
    Assigned,
    /// An agent's command, as written.
    Command,
    /// An agent's reply went to the customer.
    Relayed,
    /// An agent's mail had nothing to relay.
    NothingRelayed,
    /// An agent wrote to the customer directly (not through us).
    AgentAnsweredDirectly,
    SenderMarkedAsSpam,
    /// An agent's reply kept back from the customer.
    HeldBack,
    SlaWarning,
    /// A satisfaction rating, by mail or by the survey's link.
    Rated,
    /// A person's data erased on request (on no ticket).
    PersonalDataErased,
    /// An escalation notice of the given level.
    Escalation(u32),
}

impl EventKind {
    /// The name stored in the `events` table.
    pub fn name(self) -> Cow<'static, str> {
        use EventKind::*;
        Cow::Borrowed(match self {
            Received => "received",
            Threading => "threading",
            Policy => "policy",
            Status => "status",
            Reopened => "reopened",
            FollowUp => "follow-up",
            Ignored => "ignored",
            NotAcknowledged => "not acknowledged",
            AcknowledgementAddress => "acknowledgement address",
            AcknowledgementQueued => "acknowledgement queued",
            AgentsNotified => "agents notified",
            NotificationHeld => "notification held",
            AudienceUnchanged => "audience unchanged",
            AgentNotProven => "agent not proven",
            AgentMailOutsideTicket => "agent mail outside a ticket",
            NoteShared => "note shared",
            Note => "note",
            Remark => "remark",
            Merged => "merged",
            PossibleBounce => "possible bounce",
            Bounced => "bounced",
            Suppressed => "suppressed",
            DigestQueued => "digest queued",
            Priority => "priority",
            Sent => "sent",
            DeliveryDeferred => "delivery deferred",
            DeliveryFailed => "delivery failed",
            ListsSent => "lists sent",
            AgentTold => "agent told",
            NothingSentAtClosing => "nothing sent at closing",
            SurveyQueued => "survey queued",
            ClosingMailQueued => "closing mail queued",
            Assigned => "assigned",
            Command => "command",
            Relayed => "relayed",
            NothingRelayed => "nothing relayed",
            AgentAnsweredDirectly => "agent answered directly",
            SenderMarkedAsSpam => "sender marked as spam",
            HeldBack => "held back",
            SlaWarning => "sla warning",
            Rated => "rated",
            PersonalDataErased => "personal data erased",
            Escalation(level) => return Cow::Owned(format!("escalation level {level}")),
        })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One entry of a ticket's history: its kind and what happened, in words
/// for the admin who reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub detail: String,
}

impl Event {
    pub fn new(kind: EventKind, detail: String) -> Self {
        Event { kind, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_stay_as_reports_read_them() {
        assert_eq!(EventKind::Reopened.name(), "reopened");
        assert_eq!(EventKind::NotAcknowledged.name(), "not acknowledged");
        assert_eq!(EventKind::Escalation(2).name(), "escalation level 2");
        assert_eq!(
            EventKind::AgentMailOutsideTicket.to_string(),
            "agent mail outside a ticket"
        );
    }
}
