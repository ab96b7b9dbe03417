//! Returned mail. Every mail we send carries a signed envelope sender
//! (`support+b-NONCE-MAC@domain`, VERP) where the mailbox allows it, so a
//! bounce that comes back to one proves which of our mails it returns. A
//! bounce is acted on only on such evidence (or, for a mailbox without
//! VERP, a real delivery status notification naming our mail): the mail
//! is marked bounced, and only the recipients a real DSN names as failed
//! are suppressed. Anything else — a plain `MAILER-DAEMON` message that
//! quotes one of our Message-IDs — is kept on the ticket and changes nothing.

use super::Pipeline;
use crate::config::MailboxConfig;
use crate::domain::classify::Classification;
use crate::domain::decide::BouncePlan;
use crate::domain::event::EventKind;
use crate::domain::model::Kind;
use crate::domain::parse::ParsedMail;
use crate::domain::token;
use crate::store::{ReturnedMail, StoreError, Tx};
use jiff::Timestamp;

impl Pipeline {
    /// For a bounce: the mail it returns, when it came back to a valid
    /// signed envelope sender of ours.
    pub(super) async fn returned_mail(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        mail: &ParsedMail,
        kind: Kind,
    ) -> Result<Option<ReturnedMail>, StoreError> {
        if kind != Kind::Bounce {
            return Ok(None);
        }
        let recipients = mail.recipient_addresses();
        for t in token::verp_tokens_in(&recipients, mailbox.local_part(), mailbox.domain()) {
            if self.key.verify_verp(t).is_none() {
                tracing::warn!(message_id = %mail.message_id, token = t, "bounce to a forged envelope sender: ignored");
                continue;
            }
            let env_from = token::reply_address(mailbox.local_part(), mailbox.domain(), t);
            if let Some(r) = tx.outbox_by_env_from(&env_from).await? {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Applies what a bounce may do: marks the mail it returns bounced and
    /// suppresses the recipients a real DSN names as failed — only when
    /// `plan` is trusted. Records what it did, or why it did nothing.
    pub(super) async fn apply_bounce(
        &self,
        tx: &mut Tx,
        ticket: Option<i64>,
        mail: &ParsedMail,
        class: &Classification,
        plan: &BouncePlan,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if !plan.trusted {
            let about = if plan.returned_ids.is_empty() {
                "no Message-ID of ours named".to_string()
            } else {
                format!("names <{}>", plan.returned_ids.join(">, <"))
            };
            tx.add_event(
                ticket,
                Some(&mail.message_id),
                now,
                EventKind::PossibleBounce,
                &format!("{about}; {}", plan.evidence),
            );
            return Ok(());
        }
        let mut bounced = 0;
        for (id, recipients) in tx.mark_bounced(&plan.returned_ids).await? {
            bounced += 1;
            tx.add_event(
                ticket,
                Some(&id),
                now,
                EventKind::Bounced,
                &format!("to {} ({})", recipients.join(", "), plan.evidence),
            );
            let Some(until) = plan.suppress_until else {
                continue;
            };
            for r in recipients.iter().filter(|r| plan.failed.contains(r)) {
                let why = format!("permanent bounce of <{id}>: {}", class.reason);
                tx.suppress(r, until, &why, now).await?;
                let detail = format!("{r}: no automatic mail until {until}");
                tx.add_event(
                    ticket,
                    Some(&mail.message_id),
                    now,
                    EventKind::Suppressed,
                    &detail,
                );
            }
        }
        if bounced > 0 {
            crate::ops::metrics::bounced(bounced);
        }
        Ok(())
    }
}
