//! Which language a customer reads: the one they write in. Content-Language
//! when it names a language we have templates for, else the language of
//! their own words (the quote of our mail below them does not count),
//! detected only among those languages and only when the detector is
//! sure; else what we remembered of them; else the mailbox's default. A
//! mailbox can force one language instead. Pure.

/// Languages with templates; the first is the last resort.
pub const LANGUAGES: &[&str] = &["en", "el", "pl"];

/// What the choice can rest on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    /// The mailbox's `force_language`.
    pub forced: Option<&'a str>,
    pub content_language: Option<&'a str>,
    /// The language of the customer's own words ([`detect`] on the text).
    pub text_language: Option<&'static str>,
    /// What we remembered of this customer.
    pub remembered: Option<&'a str>,
    /// The mailbox's `language`.
    pub default: Option<&'a str>,
}

/// Where the chosen language came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Forced,
    ContentLanguage,
    Text,
    Remembered,
    Default,
}

impl Source {
    /// The message itself says which language its writer uses: worth
    /// remembering for the next mail to them.
    pub fn from_message(self) -> bool {
        matches!(self, Source::ContentLanguage | Source::Text)
    }
}

/// `el-GR`, `pl, en;q=0.5`, `EL` → the first language we ship among them.
pub fn shipped(tag: &str) -> Option<&'static str> {
    tag.split(',').find_map(|part| {
        let primary = part
            .split([';', '-', '_'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        LANGUAGES.iter().copied().find(|l| *l == primary)
    })
}

/// The detector reads at most this many characters of the writer's own
/// words, from their start: far more than it needs to be sure, while its
/// cost grows with every character (a long message cost more to detect
/// than to store).
const SAMPLE_CHARS: usize = 2000;

/// A long text's opening of this many bytes is trimmed first: when the
/// writer's own words in it are twice the sample, the rest of the text
/// cannot change the sample.
const OPENING_BYTES: usize = 12 * 1024;

/// The writer's own words in `text` (see [`trim`](super::trim)), enough of
/// them for the sample. Trimming costs more than anything else per line,
/// and a long text is mostly read for nothing: when its opening holds
/// plenty of the writer's own words, only the opening is trimmed. The
/// passes of the trimming that look ahead (an original below a header
/// block, a footer) can only change lines at the end of the opening, after
/// the sample; a quote at the top leaves too few own words in the opening,
/// and the whole text is trimmed.
fn own_words(text: &str) -> String {
    let known = super::trim::Known::default();
    if text.len() > OPENING_BYTES {
        let mut end = OPENING_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let end = text[..end].rfind('\n').unwrap_or(end);
        let own = super::trim::trim(&text[..end], &known).text;
        if own.chars().count() >= 2 * SAMPLE_CHARS {
            return own;
        }
    }
    super::trim::trim(text, &known).text
}

/// The language of `text` when the detector is confident of it, among the
/// languages we ship. Too little text says nothing.
pub fn detect(text: &str) -> Option<&'static str> {
    use whatlang::Lang;
    let own = own_words(text);
    let letters = own.chars().filter(|c| c.is_alphabetic()).count();
    if letters < 12 {
        return None;
    }
    let sample = match own.char_indices().nth(SAMPLE_CHARS) {
        Some((end, _)) => &own[..end],
        None => &own,
    };
    let detector = whatlang::Detector::with_allowlist(vec![Lang::Eng, Lang::Ell, Lang::Pol]);
    let info = detector.detect(sample)?;
    if !info.is_reliable() && info.confidence() < 0.5 {
        return None;
    }
    match info.lang() {
        Lang::Eng => Some("en"),
        Lang::Ell => Some("el"),
        Lang::Pol => Some("pl"),
        _ => None,
    }
}

/// The language to write to this customer in, and what it rests on.
pub fn choose(e: &Evidence<'_>) -> (&'static str, Source) {
    if let Some(l) = e.forced.and_then(shipped) {
        return (l, Source::Forced);
    }
    if let Some(l) = e.content_language.and_then(shipped) {
        return (l, Source::ContentLanguage);
    }
    if let Some(l) = e.text_language {
        return (l, Source::Text);
    }
    if let Some(l) = e.remembered.and_then(shipped) {
        return (l, Source::Remembered);
    }
    (
        e.default.and_then(shipped).unwrap_or(LANGUAGES[0]),
        Source::Default,
    )
}

/// The template set for customers of a mailbox: the formal variant of the
/// language when the mailbox asks for one and it exists (`pl-formal`).
pub fn for_customers(lang: &str, formal: bool, variants: &[(&str, &str)]) -> String {
    if formal
        && let Some((v, _)) = variants
            .iter()
            .find(|(v, base)| *base == lang && v.ends_with("-formal"))
    {
        return v.to_string();
    }
    lang.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> (&'static str, Source) {
        choose(&Evidence {
            text_language: detect(t),
            default: Some("en"),
            ..Evidence::default()
        })
    }

    #[test]
    fn the_customers_own_words_decide() {
        assert_eq!(
            text("Καλησπέρα σας, το δέμα μου δεν έφτασε ακόμα. Μπορείτε να με βοηθήσετε;"),
            ("el", Source::Text)
        );
        assert_eq!(
            text("Dzień dobry, moja paczka jeszcze nie dotarła. Czy mogą Państwo sprawdzić?"),
            ("pl", Source::Text)
        );
        assert_eq!(
            text("Hello, my parcel has not arrived yet. Could you check it for me please?"),
            ("en", Source::Text)
        );
        // Polish without its diacritics, as typed on a phone, is still Polish.
        assert_eq!(
            text("Dzien dobry, zamowilem buty w zeszlym tygodniu i nadal nie dotarly do mnie."),
            ("pl", Source::Text)
        );
    }

    #[test]
    fn a_quote_of_our_english_mail_does_not_make_a_greek_customer_english() {
        let mail = "Ευχαριστώ πολύ, περιμένω νέα σας για την επιστροφή.\n\n\
            On Mon, 30 Nov 2026 at 14:46, Support <support@example.com> wrote:\n\
            > Thank you for your message. We have opened ticket [#42] for it and\n\
            > will answer by Tuesday 1 December 2026, 16:42 EET at the latest.\n\
            > If you want to add something, reply to this mail.\n";
        assert_eq!(text(mail), ("el", Source::Text));
    }

    #[test]
    fn a_long_text_is_read_from_its_start() {
        let polish = "Dzień dobry, zamówienie numer 1234 nie dotarło jeszcze do mnie. \
                      Proszę sprawdzić, co się z nim dzieje, bo czekam już dwa tygodnie. ";
        let english = "The parcel was handed over to the courier on Monday morning. ";
        let long_polish = polish.repeat(40);
        assert!(long_polish.chars().count() > super::SAMPLE_CHARS);
        assert_eq!(detect(&long_polish), Some("pl"));
        // What follows the sample (here pasted English) is not read.
        let pasted = format!("{long_polish}\n\n{}", english.repeat(400));
        assert_eq!(detect(&pasted), Some("pl"));
        // Multi-byte characters are cut at a character's boundary.
        let greek = "Καλημέρα σας, η παραγγελία μου δεν έχει φτάσει ακόμα. ".repeat(80);
        assert_eq!(detect(&greek), Some("el"));
    }

    #[test]
    fn a_long_text_gives_the_same_own_words_from_its_opening() {
        let polish = "Dzień dobry, zamówienie numer 1234 nie dotarło jeszcze do mnie.\n";
        let english = "The parcel was handed over to the courier on Monday morning.\n";
        let quoted: String = english.lines().map(|l| format!("> {l}\n")).collect();
        let attribution = "On Mon, 30 Nov 2026 at 14:46, Support <support@example.com> wrote:\n";
        let full = |t: &str| crate::domain::trim::trim(t, &Default::default()).text;
        // Bottom-posted below a quote longer than the opening: the whole
        // text is trimmed, and the answer is what is read.
        let bottom = format!("{attribution}{}\n{}", quoted.repeat(400), polish.repeat(10));
        assert!(bottom.len() > super::OPENING_BYTES);
        assert_eq!(own_words(&bottom), full(&bottom));
        assert_eq!(detect(&bottom), Some("pl"));
        // Plenty written first: the sample is the same as from the whole text.
        let top = format!(
            "{}\n{attribution}{}",
            polish.repeat(400),
            quoted.repeat(400)
        );
        let sample = |t: &str| t.chars().take(super::SAMPLE_CHARS).collect::<String>();
        assert!(own_words(&top).len() < full(&top).len());
        assert_eq!(sample(&own_words(&top)), sample(&full(&top)));
        // Interleaved: own words, a quote, own words, well past the opening.
        let mixed = format!("{}{attribution}{}", polish.repeat(60), quoted.repeat(10)).repeat(6);
        assert_eq!(sample(&own_words(&mixed)), sample(&full(&mixed)));
    }

    #[test]
    fn too_little_text_falls_back_to_memory_then_default() {
        let e = Evidence {
            text_language: detect("ok 5"),
            remembered: Some("pl"),
            default: Some("el"),
            ..Evidence::default()
        };
        assert_eq!(choose(&e), ("pl", Source::Remembered));
        let e = Evidence {
            remembered: None,
            ..e
        };
        assert_eq!(choose(&e), ("el", Source::Default));
    }

    #[test]
    fn content_language_then_forced() {
        let e = Evidence {
            content_language: Some("el-GR"),
            text_language: detect(
                "Hello, my parcel has not arrived yet. Could you check it for me please?",
            ),
            ..Evidence::default()
        };
        assert_eq!(choose(&e), ("el", Source::ContentLanguage));
        // A language we ship no templates for says nothing.
        let e2 = Evidence {
            content_language: Some("de-DE"),
            ..e
        };
        assert_eq!(choose(&e2), ("en", Source::Text));
        let e3 = Evidence {
            forced: Some("pl"),
            ..e
        };
        assert_eq!(choose(&e3), ("pl", Source::Forced));
        assert_eq!(shipped("de, pl;q=0.8"), Some("pl"));
    }

    #[test]
    fn formal_variants() {
        let v = &[("pl-formal", "pl")];
        assert_eq!(for_customers("pl", true, v), "pl-formal");
        assert_eq!(for_customers("pl", false, v), "pl");
        assert_eq!(for_customers("el", true, v), "el");
    }
}
