use super::*;
use crate::domain::phrase::Phrase;

#[test]
fn builtins_pass_the_check_overrides_get() {
    // Loading without a directory skips the check: it must hold here.
    let t = Templates::load(None).unwrap();
    let errors = t.check();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn builtins_render_in_every_language() {
    let t = Templates::load(None).unwrap();
    // The deadline reads with its preposition, in the case it takes.
    let due = [
        ("en", "Friday 27 November 2026, 09:15 UTC"),
        ("el", "έως την Παρασκευή 27 Νοεμβρίου 2026, 09:15 UTC"),
        ("pl", "do piątku, 27 listopada 2026 r., godz. 09:15 UTC"),
    ];
    for (lang, when) in due {
        let r = t.render(lang, "ack", &Vars::sample()).unwrap();
        assert!(r.subject.starts_with("[#42] "), "{lang}: {}", r.subject);
        assert!(r.body.contains("[#42]"));
        assert!(r.body.contains(when), "{lang}: {}", r.body);
    }
    // Greek and Polish greetings carry no name: a name in the nominative
    // after "Γεια σας", or bare after "Dzień dobry", reads wrong.
    for (lang, event, greeting) in [
        ("el", "ack", "Γεια σας,\n\nΣας ευχαριστούμε"),
        ("el", "survey", "Γεια σας,\n\nΤο αίτημά"),
        ("pl", "ack", "Dzień dobry,\n\ndziękujemy"),
        ("pl", "closed", "Dzień dobry,\n\nTwoje"),
    ] {
        let r = t.render(lang, event, &Vars::sample()).unwrap();
        assert!(r.body.starts_with(greeting), "{lang} {event}: {}", r.body);
    }
    let r = t.render("el", "escalation", &Vars::sample()).unwrap();
    assert!(
        r.body.contains("(πελάτης: Jane Doe <jane@example.org>)")
            && r.body.contains("Κλιμάκωση: επίπεδο 1"),
        "{}",
        r.body
    );
    // A language we have no template for falls back to English, dates too.
    let r = t.render("de", "ack", &Vars::sample()).unwrap();
    assert!(r.body.contains("Friday 27 November 2026"), "{}", r.body);
}

/// Every template in every language, with every sample: (lang, event,
/// rendered).
fn everything(t: &Templates) -> Vec<(String, String, Rendered)> {
    let mut out = Vec::new();
    let langs = LANGUAGES.iter().chain(VARIANTS.iter().map(|(v, _)| v));
    for lang in langs {
        for event in OutKind::NAMES.iter().chain(AGENT_TEMPLATES) {
            for v in Vars::samples() {
                let r = t.render(lang, event, &v).unwrap();
                out.push((lang.to_string(), event.to_string(), r));
            }
        }
    }
    out
}

/// English words that have no business in a Greek or Polish mail.
const ENGLISH: &[&str] = &[
    "the",
    "and",
    "of",
    "your",
    "you",
    "is",
    "was",
    "by",
    "for",
    "with",
    "from",
    "this",
    "that",
    "not",
    "ticket",
    "customer",
    "open",
    "pending",
    "resolved",
    "closed",
    "low",
    "normal",
    "high",
    "urgent",
    "assigned",
    "internal",
    "note",
    "reply",
    "answer",
    "due",
    "left",
    "overdue",
    "first",
    "next",
    "response",
    "resolution",
    "waiting",
    "agents",
    "command",
    "mean",
    "nothing",
    "sent",
    "done",
    "marked",
    "merged",
    "unnamed",
    "working",
    "time",
    "ago",
    "level",
    "priority",
];

#[test]
fn no_english_leaks_into_greek_or_polish_mail() {
    let t = Templates::load(None).unwrap();
    let sample = Vars::sample();
    // What the sample ticket's people wrote is theirs, and command
    // syntax is the same in every language.
    let theirs = [
        sample.ticket.subject.as_str(),
        sample.message.text.as_str(),
        "Jane Doe",
        "Refund",
        "photo.jpg (image/jpeg, 120 KB)",
        "printer",
    ];
    let syntax =
        regex::Regex::new(r"#priority low[^)\n]*urgent|#[a-z]+|[\w.+-]+@[\w.-]+|https?://\S+")
            .unwrap();
    let mut leaks = Vec::new();
    for (lang, event, r) in everything(&t) {
        if lang == "en" {
            continue;
        }
        let mut text = format!("{}\n{}", r.subject, r.body);
        for s in theirs {
            text = text.replace(s, " ");
        }
        let text = syntax.replace_all(&text, " ");
        for word in text.split(|c: char| !c.is_alphabetic()) {
            if ENGLISH.contains(&word.to_lowercase().as_str()) {
                leaks.push(format!("{lang}/{event}: {word:?} in {text}"));
            }
        }
    }
    leaks.sort();
    leaks.dedup();
    assert!(
        leaks.is_empty(),
        "English in el/pl mail:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn lines_are_wrapped_at_76_columns() {
    let t = Templates::load(None).unwrap();
    let mut long = Vec::new();
    for (lang, event, r) in everything(&t) {
        for line in r.body.lines() {
            // A link or an address cannot be broken.
            if line.chars().count() > 76 && !line.contains("://") && !line.contains('@') {
                long.push(format!("{lang}/{event}: {line}"));
            }
        }
    }
    long.sort();
    long.dedup();
    assert!(
        long.is_empty(),
        "lines over 76 columns:\n{}",
        long.join("\n")
    );
}

#[test]
fn formal_polish_addresses_customers_as_panstwo() {
    let t = Templates::load(None).unwrap();
    for event in CUSTOMER_TEMPLATES.iter().filter(|e| !e.starts_with('_')) {
        let formal = t.render("pl-formal", event, &Vars::sample()).unwrap();
        let plain = t.render("pl", event, &Vars::sample()).unwrap();
        assert_ne!(formal, plain, "{event}");
        let all = format!("{}\n{}", formal.subject, formal.body);
        assert!(
            !all.contains("Twoj") && !all.contains("Ci "),
            "{event}: {all}"
        );
    }
    let ack = t.render("pl-formal", "ack", &Vars::sample()).unwrap();
    assert!(ack.body.contains("chcą Państwo"), "{}", ack.body);
    // Mail to agents has no formal set: it falls back to Polish.
    let n = t
        .render("pl-formal", "agent_notify", &Vars::sample())
        .unwrap();
    assert_eq!(n, t.render("pl", "agent_notify", &Vars::sample()).unwrap());
}

#[test]
fn receipts_values_and_durations_are_in_the_readers_language() {
    let t = Templates::load(None).unwrap();
    let mut v = Vars::sample();
    v.event = "command_result".into();
    v.raw.applied = vec![Phrase::new("receipt.status").with("status", "pending")];
    v.raw.not_understood = vec![
        Phrase::new("unknown.did_you_mean")
            .with("line", "#clsoe")
            .with("command", "#close"),
    ];
    v.raw.held = None;
    let r = t.render("el", "command_result", &v).unwrap();
    assert!(
        r.body
            .contains("κατάσταση: σε αναμονή απάντησης του πελάτη"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("#clsoe (μήπως εννοείτε #close;)"),
        "{}",
        r.body
    );
    let r = t.render("pl", "command_result", &v).unwrap();
    assert!(
        r.body.contains("status: oczekujące na odpowiedź klienta"),
        "{}",
        r.body
    );
    assert!(r.body.contains("priorytet: normalny"), "{}", r.body);
    let mut v = Vars::sample();
    v.event = "escalation".into();
    v.raw.sla_late = Some(jiff::SignedDuration::from_secs(1));
    let r = t.render("el", "escalation", &v).unwrap();
    assert!(r.subject.contains("1 δευτ."), "{}", r.subject);
    let r = t.render("pl", "escalation", &v).unwrap();
    assert!(
        r.subject.contains("Termin przekroczony o 1 s"),
        "{}",
        r.subject
    );
    let mut v = Vars::sample();
    v.event = "sla_warning".into();
    v.raw.sla_remaining = Some(jiff::SignedDuration::from_secs(30 * 3600 + 5 * 60));
    v.raw.working_time = true;
    let flat = |r: Rendered| r.body.split_whitespace().collect::<Vec<_>>().join(" ");
    let r = flat(t.render("pl", "sla_warning", &v).unwrap());
    assert!(r.contains("30 godz. 5 min czasu pracy"), "{r}");
    let r = flat(t.render("en", "sla_warning", &v).unwrap());
    assert!(r.contains("30h 5m of working time"), "{r}");
}

#[test]
fn overrides_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("en")).unwrap();
    std::fs::write(
        dir.path().join("en/ack.txt"),
        "Subject: hi {{ ticket.nope }}\nbody",
    )
    .unwrap();
    let errs = Templates::load(Some(dir.path())).unwrap_err();
    assert!(errs[0].to_string().contains("en/ack.txt"), "{}", errs[0]);
    std::fs::write(dir.path().join("en/ack.txt"), "no subject line\n").unwrap();
    assert!(Templates::load(Some(dir.path())).is_err());
    std::fs::write(
        dir.path().join("en/ack.txt"),
        "Subject: {{ ticket.tag }} thanks\n\nWe got it.\n",
    )
    .unwrap();
    let t = Templates::load(Some(dir.path())).unwrap();
    let r = t.render("en", "ack", &Vars::sample()).unwrap();
    assert_eq!(r.subject, "[#42] thanks");
    assert_eq!(r.body, "We got it.\n");
}

#[test]
fn every_mail_the_daemon_sends_has_a_template_in_every_language() {
    let t = Templates::load(None).unwrap();
    for event in [
        "ack",
        "agent_notify",
        "agent_reply",
        "command_result",
        "sla_warning",
        "escalation",
    ] {
        for lang in LANGUAGES {
            assert!(
                t.env.get_template(&name(lang, event)).is_ok(),
                "{lang}/{event}"
            );
        }
    }
}
