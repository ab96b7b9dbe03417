//! The parts of a stored message that travel on: files for a relayed
//! reply or an agent's notification, and a message's own HTML body.

use super::{guarded_parse, no_nul, strip_angles};
use mail_parser::MimeHeaders;

/// The files attached to a message, with their bytes (for relaying an
/// agent's reply with its attachments): embedded images of a signature
/// are not files the customer should get.
pub fn attachments_of(raw: &[u8]) -> Vec<crate::domain::compose::OutAttachment> {
    let Some(msg) = guarded_parse(raw) else {
        return Vec::new();
    };
    msg.attachments()
        .filter(|p| p.message().is_none())
        .filter(|p| {
            !(p.content_id().is_some()
                && p.content_disposition()
                    .is_none_or(|d| d.ctype() == "inline"))
        })
        .map(|p| out_attachment(p, false))
        .collect()
}

/// Every file of a customer's mail, bytes unchanged, the images its HTML
/// shows included with their Content-ID (for the agents' notifications).
pub fn files_of(raw: &[u8]) -> Vec<crate::domain::compose::OutAttachment> {
    files_and_html(raw).0
}

/// The HTML body of a message, when it has one of its own.
pub fn html_of(raw: &[u8]) -> Option<String> {
    files_and_html(raw).1
}

/// Both of the above from one reading of the message: what a
/// notification shows agents of a customer's mail.
pub fn files_and_html(raw: &[u8]) -> (Vec<crate::domain::compose::OutAttachment>, Option<String>) {
    let Some(msg) = guarded_parse(raw) else {
        return (Vec::new(), None);
    };
    let files = msg
        .attachments()
        .filter(|p| p.message().is_none())
        .map(|p| out_attachment(p, true))
        .collect();
    let own_html = msg.html_body_count() > 0 && msg.html_part(0).is_some_and(|p| p.is_text_html());
    let html = own_html
        .then(|| msg.body_html(0).map(|h| no_nul(&h)))
        .flatten();
    (files, html)
}

fn out_attachment(
    p: &mail_parser::MessagePart<'_>,
    keep_cid: bool,
) -> crate::domain::compose::OutAttachment {
    crate::domain::compose::OutAttachment {
        content_id: keep_cid
            .then(|| p.content_id().map(|c| strip_angles(c).to_string()))
            .flatten(),
        content_type: p
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(s) => format!("{}/{}", ct.ctype(), s),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into()),
        // A stranger's name: only its last part, made safe to save.
        name: crate::domain::files::safe_name(p.attachment_name().unwrap_or_default()),
        bytes: p.contents().to_vec(),
    }
}
