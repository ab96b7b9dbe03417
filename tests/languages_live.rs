//! Every reader in their own language, against real Dovecot and Postfix: a
//! Greek customer of an English-default mailbox is answered in Greek (the
//! acknowledgement, the relayed answer's closing note), while its English
//! agents read English; Polish agents of a Greek mailbox read Polish
//! notifications and receipts, and a Polish customer of a formal mailbox is
//! addressed as "Państwo".

#[macro_use]
mod common;

use common::team::*;
use common::*;

on_both_databases!(
    a_greek_customer_of_an_english_mailbox_is_answered_in_greek,
    polish_agents_of_a_greek_mailbox_read_polish
);

/// A subject as mail clients write non-ASCII ones (RFC 2047).
fn encoded(subject: &str) -> String {
    format!(
        "=?UTF-8?B?{}?=",
        data_encoding::BASE64.encode(subject.as_bytes())
    )
}

/// A proof of an agent's mail a trusted server added (see the setup's [auth]).
const DKIM_PASS: &str =
    "Authentication-Results: mx.postdesk.test; dkim=pass header.d=example.test\r\n";

fn a_greek_customer_of_an_english_mailbox_is_answered_in_greek(db: Db) {
    let s = setup_with(
        "lang-el",
        db,
        "language = \"en\"\nclosing_mail = true\ntimezone = \"Europe/Athens\"",
    );
    let _d = s.start();
    let (note, _) = customer_writes_about(
        &s,
        &encoded("Παραγγελία 5512"),
        "Καλησπέρα σας, παρήγγειλα ένα ζευγάρι παπούτσια την προηγούμενη εβδομάδα \
         και δεν έχει φτάσει ακόμα. Μπορείτε να ελέγξετε τι συμβαίνει;",
    );
    // The agent reads the mailbox's language: English.
    let note = readable(&note);
    assert!(note.contains("New ticket"), "{note}");
    let ack = readable(&wait_mail(&s, "customer", "a Greek acknowledgement", |m| {
        m.contains("Παραγγελία 5512") && m.contains("Γεια σας")
    }));
    for greek in ["Σας ευχαριστούμε", "έως την"] {
        assert!(ack.contains(greek), "{greek:?} missing:\n{ack}");
    }
    // The customers' zone is the mailbox's: Athens.
    assert!(ack.contains(" EET"), "{ack}");
    assert!(
        !ack.contains("Thank you") && !ack.contains("Hello"),
        "{ack}"
    );
    // Alice answers and closes: the answer goes out with a Greek closing note.
    let raw = mails_where(&s, "alice", |m| m.contains("Παραγγελία 5512"))
        .pop()
        .unwrap();
    alice_replies(
        &s,
        &raw,
        "#close\nΤο δέμα σας στάλθηκε σήμερα με ταχυμεταφορά.",
        DKIM_PASS,
    );
    let answer = body_of(&wait_mail(&s, "customer", "the relayed answer", |m| {
        m.contains("στάλθηκε σήμερα")
    }));
    assert!(answer.contains("Σημειώσαμε το αίτημά σας"), "{answer}");
    assert!(!answer.contains("We have marked"), "{answer}");
    // Alice's receipt is in English, its values too.
    let receipt = readable(&find(&s, "alice", "Done"));
    assert!(receipt.contains("status: closed"), "{receipt}");
}

fn polish_agents_of_a_greek_mailbox_read_polish(db: Db) {
    let s = team(
        "lang-pl",
        db,
        "language = \"el\"\nformal = true",
        "language = \"pl\"",
    );
    let _d = s.start();
    let (note, _) = customer_writes_about(
        &s,
        &encoded("Zwrot butów"),
        "Dzień dobry, chciałbym zwrócić buty zamówione w zeszłym tygodniu, \
         ponieważ rozmiar jest za mały. Jak mogę to zrobić?",
    );
    let note = readable(&note);
    for polish in [
        "Nowe zgłoszenie",
        "Status: otwarte, priorytet: normalny",
        "Termin pierwszej odpowiedzi: ",
    ] {
        assert!(note.contains(polish), "{polish:?} missing:\n{note}");
    }
    assert!(
        !note.contains("Νέο αίτημα") && !note.contains("New ticket"),
        "{note}"
    );
    // The customer wrote Polish to a formal mailbox: "Państwo", not "Ty".
    let ack = body_of(&wait_mail(
        &s,
        "customer",
        "a formal Polish acknowledgement",
        |m| m.contains("Zwrot but"),
    ));
    assert!(ack.contains("chcą Państwo"), "{ack}");
    assert!(
        !ack.contains("Γεια σας") && !ack.contains("chcesz"),
        "{ack}"
    );
    // A mistyped command: the receipt explains in Polish.
    let raw = mails_where(&s, "alice", |m| m.contains("Zwrot but"))
        .pop()
        .unwrap();
    alice_replies(&s, &raw, "#asign bob\nJuż sprawdzam.", DKIM_PASS);
    let receipt = readable(&find_with(
        &s,
        "alice",
        "Nie rozpoznano",
        "czy chodziło o #assign?",
    ));
    assert!(receipt.contains("do klienta nic nie wysłano"), "{receipt}");
    assert!(!receipt.contains("did you mean"), "{receipt}");
}
