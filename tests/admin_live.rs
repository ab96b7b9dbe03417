//! An admin's first hour, against the real Dovecot and Postfix: every
//! wrong setting met by `check --connect` is named with its fix and the
//! sysexits code README promises (75 to wait, 78 to change the
//! configuration); a missing configuration is 66; every template error
//! comes in one run; `postdesk init` writes a configuration that connects.

#[macro_use]
mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

/// A scratch directory holding one configuration.
struct Scratch {
    dir: tempfile::TempDir,
    env: MailEnv,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
            env: MailEnv::get(),
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// A configuration with this `[smtp]` body and this mailbox `imap`
    /// value (None: a mailbox fed by the MTA pipe only).
    fn write(&self, smtp: &str, imap: Option<&str>) -> std::path::PathBuf {
        let config = self.path("postdesk.toml");
        let imap = imap.map(|i| format!("imap = {i}\n")).unwrap_or_default();
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"sqlite://{}\"\n[smtp]\n{smtp}\n[[mailbox]]\nname = \"support\"\n\
                 address = \"support-admin@example.test\"\n{imap}",
                self.path("db.sqlite").display()
            ),
        )
        .unwrap();
        config
    }

    fn run(&self, config: &Path, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(args)
            .env("ADMIN_GOOD_PASSWORD", "secret")
            .env("ADMIN_WRONG_PASSWORD", "not-the-password")
            .env_remove("POSTDESK_LOG")
            .output()
            .unwrap()
    }

    /// The SMTP section that works.
    fn good_smtp(&self) -> String {
        format!(
            "host = \"localhost\"\nport = {}\nsecurity = \"starttls\"\nusername = \"support-admin@example.test\"\n\
             password_env = \"ADMIN_GOOD_PASSWORD\"\nca_file = \"{}\"\ntimeout = \"3s\"",
            self.env.smtp_port,
            self.env.ca.display()
        )
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `check --connect` in one wrong setting: its exit code and its FAIL line.
fn expect(s: &Scratch, smtp: &str, imap: Option<&str>, code: i32, says: &str) {
    let config = s.write(smtp, imap);
    let out = s.run(&config, &["check", "--connect"]);
    let all = text(&out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code} for:\n{all}"
    );
    let fail = all
        .lines()
        .find(|l| l.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("no FAIL line in:\n{all}"));
    assert!(fail.contains(says), "expected {says:?} in:\n{fail}");
    for raw in [
        "InvalidContentType",
        "no response: code",
        "os error",
        "Some(\"",
    ] {
        assert!(
            !fail.contains(raw),
            "library words {raw:?} leak into:\n{fail}"
        );
    }
}

#[test]
fn each_wrong_imap_setting_is_named_with_its_fix() {
    let s = Scratch::new();
    let smtp = s.good_smtp();
    let e = &s.env;
    let ca = e.ca.display();
    let imap = |host: &str, port: u16, security: &str, password: &str, ca_file: bool| {
        format!(
            "{{ host = \"{host}\", port = {port}, security = \"{security}\", username = \"support-admin@example.test\", \
             password_env = \"{password}\", timeout = \"2s\"{} }}",
            if ca_file {
                format!(", ca_file = \"{ca}\"")
            } else {
                String::new()
            }
        )
    };
    // TLS spoken to the plain-text port.
    expect(
        &s,
        &smtp,
        Some(&imap(
            "localhost",
            e.imap_port,
            "tls",
            "ADMIN_GOOD_PASSWORD",
            true,
        )),
        78,
        &format!(
            "localhost:{} does not speak TLS from the first byte: use security = \"starttls\" (or port 993 with security = \"tls\")",
            e.imap_port
        ),
    );
    // Plain text to the TLS port: the server waits for a TLS hello.
    expect(
        &s,
        &smtp,
        Some(&imap(
            "localhost",
            e.imaps_port,
            "starttls",
            "ADMIN_GOOD_PASSWORD",
            true,
        )),
        75,
        "sent no greeting within 2 s: if this port expects TLS from the first byte (as 993 does), use security = \"tls\"",
    );
    // A wrong password: the variable to check, and the server's words.
    expect(
        &s,
        &smtp,
        Some(&imap(
            "localhost",
            e.imaps_port,
            "tls",
            "ADMIN_WRONG_PASSWORD",
            true,
        )),
        78,
        &format!(
            "login refused for support-admin@example.test at localhost:{}: check the user name and the password in $ADMIN_WRONG_PASSWORD (the server said: Authentication failed.)",
            e.imaps_port
        ),
    );
    // A certificate for other names (Dovecot also listens on 127.0.0.2).
    expect(
        &s,
        &smtp,
        Some(&imap(
            "127.0.0.2",
            e.imaps_port,
            "tls",
            "ADMIN_GOOD_PASSWORD",
            true,
        )),
        78,
        "is not valid for the name \"127.0.0.2\": set host to a name the certificate holds",
    );
    // A private CA nobody told us about.
    expect(
        &s,
        &smtp,
        Some(&imap(
            "localhost",
            e.imaps_port,
            "tls",
            "ADMIN_GOOD_PASSWORD",
            false,
        )),
        78,
        "is signed by an authority postdesk does not trust: for a private or self-signed server set ca_file",
    );
    // Nothing listens there: wait (75), it may be down.
    let closed = free_port();
    expect(
        &s,
        &smtp,
        Some(&imap(
            "localhost",
            closed,
            "tls",
            "ADMIN_GOOD_PASSWORD",
            true,
        )),
        75,
        &format!(
            "localhost:{closed} refused the connection: is the IMAP server running there, and is {closed} its IMAP port?"
        ),
    );
}

#[test]
fn each_wrong_smtp_setting_is_named_with_its_fix() {
    let s = Scratch::new();
    let e = &s.env;
    let smtp = |security: &str, password: &str, ca_file: bool| {
        format!(
            "host = \"localhost\"\nport = {}\nsecurity = \"{security}\"\nusername = \"support-admin@example.test\"\n\
             password_env = \"{password}\"\ntimeout = \"3s\"\n{}",
            e.smtp_port,
            if ca_file {
                format!("ca_file = \"{}\"", e.ca.display())
            } else {
                String::new()
            }
        )
    };
    expect(
        &s,
        &smtp("tls", "ADMIN_GOOD_PASSWORD", true),
        None,
        78,
        &format!(
            "localhost:{} does not speak TLS from the first byte: use security = \"starttls\" (or port 465 with security = \"tls\")",
            e.smtp_port
        ),
    );
    // Postfix offers AUTH only after STARTTLS (smtpd_tls_auth_only).
    expect(
        &s,
        &smtp("none", "ADMIN_GOOD_PASSWORD", true),
        None,
        78,
        &format!(
            "localhost:{} offers no login before STARTTLS: use security = \"starttls\"",
            e.smtp_port
        ),
    );
    expect(
        &s,
        &smtp("starttls", "ADMIN_WRONG_PASSWORD", true),
        None,
        78,
        "check the user name and the password in $ADMIN_WRONG_PASSWORD (the server said: 535 5.7.8",
    );
    expect(
        &s,
        &smtp("starttls", "ADMIN_GOOD_PASSWORD", false),
        None,
        78,
        "is signed by an authority postdesk does not trust",
    );
    // TLS from the first byte (the SMTPS port): the certificate and the
    // login are checked there too.
    let smtps = |password: &str, ca_file: bool| {
        smtp("tls", password, ca_file).replace(
            &format!("port = {}\n", e.smtp_port),
            &format!("port = {}\n", e.smtps_port),
        )
    };
    expect(
        &s,
        &smtps("ADMIN_GOOD_PASSWORD", false),
        None,
        78,
        "is signed by an authority postdesk does not trust",
    );
    expect(
        &s,
        &smtps("ADMIN_WRONG_PASSWORD", true),
        None,
        78,
        "check the user name and the password in $ADMIN_WRONG_PASSWORD (the server said: 535 5.7.8",
    );
    let config = s.write(&smtps("ADMIN_GOOD_PASSWORD", true), None);
    let out = s.run(&config, &["check", "--connect"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // And all well: exit 0, no FAIL.
    let config = s.write(&s.good_smtp(), None);
    let out = s.run(&config, &["check", "--connect"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn exit_codes_follow_sysexits_on_every_path() {
    let s = Scratch::new();
    // No configuration file: missing input, with the way out.
    let out = s.run(&s.path("nowhere.toml"), &["check"]);
    assert_eq!(out.status.code(), Some(66), "{}", text(&out));
    assert!(text(&out).contains("postdesk init"), "{}", text(&out));
    // A file with a mistake: configuration error, the mailbox by its name.
    let bad = s.path("bad.toml");
    std::fs::write(
        &bad,
        "[database]\nurl = \"sqlite://x.db\"\n[smtp]\nhost = \"localhost\"\nsecurity = \"none\"\n\
         [[mailbox]]\nname = \"helpdesk\"\naddress = \"help@example.test\"\npoll_intervl = \"1m\"\n",
    )
    .unwrap();
    let out = s.run(&bad, &["check"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        text(&out).contains(
            "mailbox \"helpdesk\".poll_intervl: unknown key (did you mean \"poll_interval\"?)"
        ),
        "{}",
        text(&out)
    );
    // The database cannot be reached: temporary.
    let pg = s.path("pg.toml");
    std::fs::write(
        &pg,
        format!(
            "[database]\nurl = \"postgres://postgres@127.0.0.1:{}/postgres\"\nconnect_timeout = \"1s\"\n\
             [smtp]\nhost = \"localhost\"\nsecurity = \"none\"\n[[mailbox]]\nname = \"support\"\naddress = \"s@example.test\"\n",
            free_port()
        ),
    )
    .unwrap();
    let out = s.run(&pg, &["tickets", "list"]);
    assert_eq!(out.status.code(), Some(75), "{}", text(&out));
    assert!(
        text(&out).contains("Connection refused"),
        "the cause, not only a pool timeout: {}",
        text(&out)
    );
    // A server that is not there: temporary too.
    let closed = free_port();
    let config = s.write(
        &format!("host = \"localhost\"\nport = {closed}\nsecurity = \"none\"\ntimeout = \"2s\""),
        None,
    );
    let out = s.run(&config, &["check", "--connect"]);
    assert_eq!(out.status.code(), Some(75), "{}", text(&out));
    // A mistyped flag: usage.
    let out = s.run(&config, &["tickets", "list", "--stauts", "open"]);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn every_template_error_comes_in_one_run_with_the_unknown_name() {
    let s = Scratch::new();
    let tpl = s.path("tpl");
    std::fs::create_dir_all(tpl.join("el")).unwrap();
    std::fs::create_dir_all(tpl.join("pl")).unwrap();
    // A syntax error in Greek must not hide the Polish mistakes.
    std::fs::write(
        tpl.join("el/ack.txt"),
        "Subject: {{ ticket.subject \n\nΓεια\n",
    )
    .unwrap();
    std::fs::write(
        tpl.join("pl/ack.txt"),
        "Subject: Re: {{ ticket.subjet }}\n\nDzień dobry,\n{{ tiket.tag }}\n",
    )
    .unwrap();
    let config = s.write(&s.good_smtp(), None);
    let text_of = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("templates_dir = \"tpl\"\n{text_of}")).unwrap();
    let out = s.run(&config, &["check"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(78), "{all}");
    assert!(all.contains("templates: 3 problems"), "{all}");
    assert!(all.contains("template el/ack.txt: syntax error"), "{all}");
    assert!(
        all.contains(
            "template pl/ack.txt: undefined variable ticket.subjet (did you mean ticket.subject?)"
        ),
        "{all}"
    );
    assert!(
        all.contains("template pl/ack.txt: undefined variable tiket.tag (did you mean ticket?)"),
        "{all}"
    );
}

#[test]
fn init_writes_a_configuration_that_connects() {
    let s = Scratch::new();
    let e = &s.env;
    let config = s.path("postdesk.toml");
    let tag = run_tag();
    let address = format!("help-{tag}@example.test");
    let imap_port = e.imap_port.to_string();
    let smtp_port = e.smtp_port.to_string();
    let ca = e.ca.display().to_string();
    let database = format!("sqlite://{}", s.path("db.sqlite").display());
    let init = |extra: &[&str]| {
        let mut args = vec![
            "init",
            "--address",
            &address,
            "--imap-host",
            "localhost",
            "--imap-port",
            &imap_port,
            "--imap-security",
            "starttls",
            "--smtp-port",
            &smtp_port,
            "--ca-file",
            &ca,
            "--database",
            &database,
            "--password-env",
            "ADMIN_GOOD_PASSWORD",
            "--agent",
            "ann@example.test",
        ];
        args.extend_from_slice(extra);
        s.run(&config, &args)
    };
    let out = init(&[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains(&format!(
            "ok   mailbox help-{tag}: localhost:{imap_port} folder INBOX"
        )),
        "{all}"
    );
    assert!(
        all.contains(&format!("ok   smtp localhost:{smtp_port}")),
        "{all}"
    );
    assert!(all.contains("next: `postdesk --config"), "{all}");
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("password_env = \"ADMIN_GOOD_PASSWORD\""));
    assert!(!written.contains("secret"), "no password in the file");
    // The file stands on its own.
    let out = s.run(&config, &["check", "--connect"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // It is not overwritten by accident...
    let out = init(&[]);
    assert_eq!(out.status.code(), Some(73), "{}", text(&out));
    assert!(text(&out).contains("use --force"));
    // ...and without a terminal a missing answer is named.
    let other = s.path("other.toml");
    let out = s.run(&other, &["init", "--imap-host", "localhost"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        text(&out).contains("--address is required"),
        "{}",
        text(&out)
    );
}
