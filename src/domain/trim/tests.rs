use super::*;

const NOTE: &str = "New ticket [#7] from Jane Doe <jane@example.org>:\n\nHello,\nthe printer on floor 2 shows error E42 since this morning and nothing prints.\nJane\n\n--\nStatus open, priority normal.\nFirst answer due Tuesday 1 December 2026, 16:42 EET.\nReply to this mail to answer the customer; your reply goes out from the support address.\n";

fn known() -> Known<'static> {
    Known {
        texts: vec![NOTE],
        earlier: vec![],
    }
}

fn t(s: &str) -> String {
    trim(s, &known()).text
}

#[test]
fn top_posted_replies_of_every_client() {
    let quoted: String = NOTE.lines().map(|l| format!("> {l}\n")).collect();
    let cases = [
        // Gmail, Thunderbird, Apple Mail: attribution, then "> " lines.
        format!(
            "Hi Jane,\nplease restart it.\n\nOn Mon, 30 Nov 2026 at 14:46, Jane Doe via Support <support+7-abc@example.com> wrote:\n{quoted}"
        ),
        // The attribution wrapped over two lines, without a colon on the first.
        format!(
            "Hi Jane,\nplease restart it.\n\nOn Mon, 30 Nov 2026 at 14:46, Jane Doe via Support\n<support+7-abc@example.com> wrote:\n\n{quoted}"
        ),
        // Outlook: a header block and the original unmarked and re-wrapped.
        format!(
            "Hi Jane,\nplease restart it.\n\n________________________________\nFrom: Jane Doe via Support <support+7-abc@example.com>\nSent: Monday, November 30, 2026 2:46 PM\nTo: Alice <alice@example.com>\nSubject: [#7] Printer\n\n{}",
            NOTE.replace("since this morning and", "since this\nmorning and")
        ),
        // Outlook in Polish and Greek.
        format!(
            "Hi Jane,\nplease restart it.\n\nOd: Jane Doe via Support <support+7-abc@example.com>\nWysłano: poniedziałek, 30 listopada 2026 14:46\nDo: Alice\nTemat: [#7] Printer\n\n{NOTE}"
        ),
        format!(
            "Hi Jane,\nplease restart it.\n\nΑπό: Jane Doe via Support <support+7-abc@example.com>\nΣτάλθηκε: Δευτέρα, 30 Νοεμβρίου 2026 2:46 μμ\nΠρος: Alice\nΘέμα: [#7] Printer\n\n{NOTE}"
        ),
        // A separator.
        format!("Hi Jane,\nplease restart it.\n\n-----Original Message-----\n{NOTE}"),
        format!("Hi Jane,\nplease restart it.\n\n-------- Message d'origine --------\n{NOTE}"),
        // A device line and a signature.
        format!(
            "Hi Jane,\nplease restart it.\n\nSent from my iPhone\n\nOn 30 Nov 2026, at 14:46, Support <support@example.com> wrote:\n{quoted}"
        ),
        format!(
            "Hi Jane,\nplease restart it.\n\n-- \nAlice Smith\nalice@example.com | +30 210 000 0000\n\nOn 30/11/2026 14:46, Support wrote:\n{quoted}"
        ),
        // No marks at all: the client pasted the notification unquoted.
        format!("Hi Jane,\nplease restart it.\n\n{NOTE}"),
        // Date first (Gmail in some locales), German "schrieb".
        format!(
            "Hi Jane,\nplease restart it.\n\n2026-11-30 14:46 GMT+02:00 Support <support@example.com>:\n{quoted}"
        ),
        format!(
            "Hi Jane,\nplease restart it.\n\nAm 30.11.2026 um 14:46 schrieb Support <support@example.com>:\n{quoted}"
        ),
        format!(
            "Hi Jane,\nplease restart it.\n\nDnia 30.11.2026 o 14:46 Support <support@example.com> napisał(a):\n{quoted}"
        ),
        // The quote deleted, its first line left behind.
        "Hi Jane,\nplease restart it.\n\nOn Mon, 30 Nov 2026 at 14:46, Support <support+7-abc@example.com> wrote:\n\n".to_string(),
        "Hi Jane,\nplease restart it.\n\nOn Mon, 30 Nov 2026 at 14:46, Support\n<support+7-abc@example.com> wrote:".to_string(),
    ];
    for c in cases {
        assert_eq!(t(&c), "Hi Jane,\nplease restart it.", "{c}");
    }
}

#[test]
fn bottom_posted_and_interleaved_words_are_kept() {
    let quoted: String = NOTE.lines().map(|l| format!("> {l}\n")).collect();
    // Below the quote (mutt, many Thunderbird users).
    let below = format!(
        "On 30/11 14:46, Jane Doe via Support wrote:\n{quoted}\nHi Jane,\nplease restart it.\n\nAlice\n"
    );
    assert_eq!(t(&below), "Hi Jane,\nplease restart it.\n\nAlice");
    // Between quoted blocks.
    let between = "On 30/11 14:46, Support wrote:\n> Hello,\n> the printer on floor 2 shows error E42 since this morning and nothing prints.\n\nDoes it show E42 right after switching on?\n\n> Jane\n> --\n> Status open, priority normal.\n\nI will call you at three.\n";
    assert_eq!(
        t(between),
        "Does it show E42 right after switching on?\n\nI will call you at three."
    );
    // A reply that begins with the attribution relays what comes after.
    let inline = format!(
        "On Mon, 30 Nov 2026 at 14:46, Support <support@example.com> wrote:\n{quoted}\nYes, E42 means the fuser."
    );
    assert_eq!(t(&inline), "Yes, E42 means the fuser.");
}

#[test]
fn html_renderings_and_old_quote_styles_are_read() {
    // Supercite (Emacs) quotes carry the writer's initials.
    assert_eq!(
        t("Yes, the fuser.\n\nJD> the printer shows E42\nJD> since this morning\n"),
        "Yes, the fuser."
    );
    // An HTML reply rendered to text: a signature sharing its line with
    // a bold header block, and the link notes of the cut quote.
    assert_eq!(
        t(
            "Hi\nthere\nBob **From: **jane@example.org\n**To: **support@example.com\n**Sent: **Friday, July 22, 2011 6:20:01 PM\n**Subject: **Hello\nHello"
        ),
        "Hi\nthere\nBob"
    );
    assert_eq!(
        t(
            "See [the guide][1].\n\nOn Mon, 30 Nov 2026, Jane <[jane@example.org][2]> wrote:\n> Hello\n\n[1]: https://example.com/guide\n[2]: mailto:jane@example.org"
        ),
        "See [the guide][1].\n\n[1]: https://example.com/guide"
    );
    // Hotmail's block opens with Date:, not From:.
    assert_eq!(
        t(
            "Fine, thanks.\n\nDate: Thu, 26 Jun 2014 13:53:45 +0400\nSubject: Test message\nFrom: jane@example.org\nTo: alex@example.com\nHello! How are you?"
        ),
        "Fine, thanks."
    );
    // Gmail's tracking mark is nobody's words.
    assert_eq!(t("Thanks!\n\u{1427}\n"), "Thanks!");
}

#[test]
fn the_writers_own_words_stay_intact() {
    for own in [
        "Hi,\n\nIt fails because of X.\nOn Monday we fix it.\n-- not a signature",
        "Il faut redémarrer l'imprimante.\nIl y a une mise à jour.",
        "From what I see, the fuser is broken.\nDate: tomorrow works for me.",
        "Call me at 3.\nOn Monday I am away: ask Bob.",
    ] {
        let r = trim(own, &known());
        assert_eq!(r.text, own.trim_end(), "{own}");
        assert!(!r.doubtful());
    }
    // A "wrote:" in the writer's own sentence is not an attribution.
    let s = "She wrote: the printer is fine now.";
    assert_eq!(t(s), s);
}

#[test]
fn nothing_but_the_quote_leaves_nothing() {
    let quoted: String = NOTE.lines().map(|l| format!("> {l}\n")).collect();
    let r = trim(
        &format!("On 30/11 14:46, Support wrote:\n{quoted}"),
        &known(),
    );
    assert_eq!(r.text, "");
    assert!(r.cut.quoted > 3 && r.cut.attribution == 1);
}

#[test]
fn a_guess_that_cuts_more_than_it_keeps_is_doubtful() {
    // A header-like line of the writer's own, above text that is no
    // known mail: the pattern would cut it all.
    let r = trim(
        "Ok.\n\nFrom: our warehouse team\nTo: the courier\nThe parcel left on Monday.\nIt should arrive on Thursday.\nTracking number 12345.\n",
        &known(),
    );
    assert!(r.doubtful(), "{r:?}");
}

#[test]
fn a_signature_is_learned_from_earlier_mails() {
    let earlier = [
        "Restart it, please.\n\nAlice Smith\nSupport Team, Example Ltd\n+30 210 000 0000",
        "It is fixed.\n\nAlice Smith\nSupport Team, Example Ltd\n+30 210 000 0000",
    ];
    let k = Known {
        texts: vec![NOTE],
        earlier: earlier.to_vec(),
    };
    let r = trim(
        "Your refund is on its way.\n\nAlice Smith\nSupport Team, Example Ltd\n+30 210 000 0000\n",
        &k,
    );
    assert_eq!(r.text, "Your refund is on its way.");
    assert_eq!(r.cut.signature, 3);
}

#[test]
fn device_lines_and_footers_go() {
    let r = t("Restarting it now.\n\nWysłane z mojego iPhone'a");
    assert_eq!(r, "Restarting it now.");
    let r = t("Restarting it now.\n\nGet Outlook for Android");
    assert_eq!(r, "Restarting it now.");
    let r = t("Restarting it now.\n__\nExample Ltd, 1 Main Street, Athens\nwww.example.com");
    assert_eq!(r, "Restarting it now.");
}

#[test]
fn device_lines_fit_in_the_opening_that_is_read() {
    assert!(DEVICE_LINES.iter().all(|p| p.chars().count() < DEVICE_HEAD));
    assert!(device_line("Sent from my iPhone"));
    assert!(device_line("  ΣΤΆΛΘΗΚΕ ΑΠΌ ΤΟ iPhone μου"));
    assert!(device_line("Wysłane z mojego Galaxy"));
    assert!(!device_line(&format!("Sent from my {}", "x".repeat(120))));
    assert!(!device_line("I sent from my office yesterday"));
}
