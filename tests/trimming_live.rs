//! Agents' replies composed the way Gmail, Outlook (plain text and HTML
//! only), Apple Mail on an iPhone and Thunderbird compose them, in English,
//! Greek and Polish, answering real notifications through real Dovecot and
//! Postfix: the customer receives exactly the agent's words — no quoted
//! notification, attribution, header block, device line or signature.
//! (Trimming does not touch the database, so these run on SQLite only.)

#[macro_use]
mod common;

use common::team::*;
use common::*;

/// What one mail client writes around the agent's words.
#[derive(Debug, Clone, Copy)]
enum Client {
    Gmail,
    OutlookText,
    OutlookHtml,
    AppleIphone,
    ThunderbirdBelow,
}

const CLIENTS: [Client; 5] = [
    Client::Gmail,
    Client::OutlookText,
    Client::OutlookHtml,
    Client::AppleIphone,
    Client::ThunderbirdBelow,
];

/// The strings a client localises, per language.
struct Locale {
    lang: &'static str,
    words: &'static str,
    customer_text: &'static str,
    gmail: &'static str,
    apple: &'static str,
    thunderbird: &'static str,
    iphone: &'static str,
    /// From, Sent, To, Subject.
    outlook: [&'static str; 4],
    sent: &'static str,
}

const EN: Locale = Locale {
    lang: "en",
    words: "Hi Jane,\nplease switch the printer off for ten seconds and try again.\n\nBest regards,\nAlice",
    customer_text: "The printer on floor 2 shows E42 since this morning.",
    gmail: "On Mon, 30 Nov 2026 at 14:46, {who} <{addr}> wrote:",
    apple: "On 30 Nov 2026, at 14:46, {who} <{addr}> wrote:",
    thunderbird: "On 30/11/2026 14:46, {who} wrote:",
    iphone: "Sent from my iPhone",
    outlook: ["From", "Sent", "To", "Subject"],
    sent: "Monday, November 30, 2026 2:46 PM",
};

const EL: Locale = Locale {
    lang: "el",
    words: "Καλησπέρα σας,\nπαρακαλώ απενεργοποιήστε τον εκτυπωτή για δέκα δευτερόλεπτα και δοκιμάστε ξανά.\n\nΜε εκτίμηση,\nΑλίκη",
    customer_text: "Ο εκτυπωτής στον 2ο όροφο δείχνει E42 από το πρωί.",
    gmail: "Στις Δευ 30 Νοε 2026 στις 2:46 μ.μ., ο/η {who} <{addr}> έγραψε:",
    apple: "Στις 30 Νοε 2026, στις 14:46, ο χρήστης {who} <{addr}> έγραψε:",
    thunderbird: "Στις 30/11/2026 14:46, ο/η {who} έγραψε:",
    iphone: "Εστάλη από το iPhone μου",
    outlook: ["Από", "Στάλθηκε", "Προς", "Θέμα"],
    sent: "Δευτέρα, 30 Νοεμβρίου 2026 2:46 μμ",
};

const PL: Locale = Locale {
    lang: "pl",
    words: "Dzień dobry,\nproszę wyłączyć drukarkę na dziesięć sekund i spróbować ponownie.\n\nPozdrawiam,\nAlicja",
    customer_text: "Drukarka na 2. piętrze od rana pokazuje błąd E42.",
    gmail: "pon., 30 lis 2026 o 14:46 {who} <{addr}> napisał(a):",
    apple: "Wiadomość napisana przez {who} <{addr}> w dniu 30.11.2026, o godz. 14:46:",
    thunderbird: "W dniu 30.11.2026 o 14:46, {who} pisze:",
    iphone: "Wysłane z iPhone'a",
    outlook: ["Od", "Wysłane", "Do", "Temat"],
    sent: "poniedziałek, 30 listopada 2026 14:46",
};

/// The whole reply `client` sends, and its Content-Type.
fn compose(client: Client, l: &Locale, note: &[u8], alice: &str) -> (String, &'static str) {
    let addr = address_in(&header(note, "Reply-To").unwrap());
    let who = header(note, "From")
        .unwrap()
        .split(" <")
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string();
    let attribution = |pattern: &str| pattern.replace("{who}", &who).replace("{addr}", &addr);
    let subject = postdesk::domain::parse::parse(note).subject;
    let text = body_of(note);
    let quote = quoted(note);
    let [from, sent, to, subj] = l.outlook;
    let plain = "text/plain; charset=utf-8";
    match client {
        // Above the quote, a blank line after the attribution.
        Client::Gmail => (
            format!("{}\n\n{}\n\n{quote}", l.words, attribution(l.gmail)),
            plain,
        ),
        // A line, a header block, the original unquoted.
        Client::OutlookText => (
            format!(
                "{}\n\n________________________________\n{from}: {who} <{addr}>\n{sent}: {}\n{to}: Alice <{alice}>\n{subj}: {subject}\n\n{text}",
                l.words, l.sent
            ),
            plain,
        ),
        // Outlook on the web, HTML only: the reply, a rule, divRplyFwdMsg.
        Client::OutlookHtml => {
            let html = |s: &str| {
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('\n', "<br>\n")
            };
            (
                format!(
                    "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head>\
                     <body dir=\"ltr\"><div style=\"font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt;\">{}</div>\
                     <div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\
                     <div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\" style=\"font-size:11pt\" color=\"#000000\">\
                     <b>{from}:</b> {}<br>\n<b>{sent}:</b> {}<br>\n<b>{to}:</b> Alice &lt;{alice}&gt;<br>\n<b>{subj}:</b> {}</font>\
                     <div>&nbsp;</div></div><div class=\"BodyFragment\"><font size=\"2\"><span style=\"font-size:11pt;\">\
                     <div class=\"PlainText\">{}</div></span></font></div></body></html>",
                    html(l.words),
                    html(&format!("{who} <{addr}>")),
                    l.sent,
                    html(&subject),
                    html(&text)
                ),
                "text/html; charset=utf-8",
            )
        }
        // Apple Mail on a phone: the device line, then the quote.
        Client::AppleIphone => (
            format!(
                "{}\n\n{}\n\n{}\n\n{quote}",
                l.words,
                l.iphone,
                attribution(l.apple)
            ),
            plain,
        ),
        // Below the quote, with a signature.
        Client::ThunderbirdBelow => (
            format!(
                "{}\n{quote}\n{}\n\n-- \nAlice Kowalska\nTest Support | +30 210 000 0000\n",
                attribution(l.thunderbird),
                l.words
            ),
            plain,
        ),
    }
}

fn clients_in(l: &Locale) {
    let s = setup_with(
        &format!("clients{}", l.lang),
        Db::Sqlite,
        &format!("language = \"{}\"", l.lang),
    );
    let _d = s.start();
    let alice = s.addr("alice");
    for client in CLIENTS {
        let subject = format!("E42 {client:?}");
        let (note, _) = customer_writes_about(&s, &subject, l.customer_text);
        let (body, content_type) = compose(client, l, &note, &alice);
        let reply_to = address_in(&header(&note, "Reply-To").unwrap());
        let raw = format!(
            "From: Alice <{alice}>\r\nTo: {reply_to}\r\nSubject: Re: {}\r\nMessage-ID: <{client:?}-{}@agent.example>\r\n\
             In-Reply-To: {}\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
            header(&note, "Subject").unwrap(),
            s.tag,
            header(&note, "Message-ID").unwrap(),
            body.replace('\n', "\r\n")
        );
        s.env.send(&alice, &[&reply_to], raw.as_bytes());
        let got = wait_mail(&s, "customer", &format!("the {client:?} answer"), |m| {
            m.lines().next().is_some_and(|l| l.contains(&subject))
                && m.contains("Alice (Test Support)")
        });
        let relayed = body_of(&got);
        let normalise = |t: &str| {
            t.lines()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            normalise(&relayed),
            normalise(l.words),
            "{} {client:?}: the customer got\n{relayed}\n--- from\n{body}",
            l.lang
        );
    }
}

#[test]
fn english_replies_of_five_clients_reach_the_customer_as_written() {
    clients_in(&EN);
}

#[test]
fn greek_replies_of_five_clients_reach_the_customer_as_written() {
    clients_in(&EL);
}

#[test]
fn polish_replies_of_five_clients_reach_the_customer_as_written() {
    clients_in(&PL);
}
