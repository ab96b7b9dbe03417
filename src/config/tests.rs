use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/postdesk/postdesk.toml"))
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(|p| p.to_string()).collect()
        }
        Err(e) => panic!("expected problems, got {e}"),
        Ok(_) => panic!("expected problems, got a valid config"),
    }
}

const MINIMAL: &str = r#"
[database]
url = "sqlite://test.db"
[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
[[mailbox]]
name = "support"
address = "Support@Example.com"
"#;

#[test]
fn the_example_parses() {
    // SAFETY: tests in this module only read these variables.
    unsafe {
        std::env::set_var("POSTDESK_SMTP_PASSWORD", "x");
        std::env::set_var("POSTDESK_IMAP_PASSWORD", "y");
    }
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"))
        .unwrap();
    let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.mailboxes.len(), 1);
    assert_eq!(
        c.mailboxes[0].after_ingest,
        AfterIngest::Move("Processed".into())
    );
    assert_eq!(c.agents.len(), 2);
    assert_eq!(c.sla["standard"].escalation.len(), 2);
    assert_eq!(c.sla["standard"].warn_before, Some(Share::Percent(80)));
    assert_eq!(c.calendars["office"].hours.days[0].len(), 2);
    assert_eq!(c.smtp.password.as_ref().unwrap().expose(), "x");
    assert_eq!(format!("{:?}", c.smtp.password), "Some(Secret(***))");
    assert_eq!(c.database.url, "sqlite:///etc/postdesk/postdesk.db");
    assert_eq!(c.http.unwrap().listen.to_string(), "127.0.0.1:9187");
}

#[test]
fn defaults_fill_a_minimal_config() {
    let c = parse(MINIMAL).unwrap();
    let m = &c.mailboxes[0];
    assert_eq!(m.address, "support@example.com");
    assert_eq!(m.folder, "INBOX");
    assert!(m.imap.is_none());
    assert_eq!(m.after_ingest, AfterIngest::Seen);
    assert_eq!(
        c.policy(&m.sla).first_response,
        crate::domain::sla::Span::hours(24)
    );
    assert_eq!(c.threading.tag_prefix, "#");
    assert_eq!(c.limits.acks_per_hour, 3);
}

#[test]
fn five_mistakes_are_five_problems() {
    let text = r#"
[database]
url = "mysql://nope"
[smtp]
host = "127.0.0.1"
port = "abc"
security = "ssl"
[[mailbox]]
name = "support"
address = "support@example.com"
poll_interval = "soon"
colour = "blue"
"#;
    let p = problems(text);
    assert_eq!(p.len(), 5, "{p:#?}");
    assert!(p.contains(&r#"database.url: expected "sqlite://FILE" or "postgres://USER@HOST/DB", got "mysql://nope""#.to_string()));
    assert!(p.contains(&r#"smtp.port: expected an integer 1-65535, got "abc""#.to_string()));
    assert!(
        p.contains(&r#"smtp.security: expected one of tls, starttls, none, got "ssl""#.to_string())
    );
    assert!(p.iter().any(|x| {
        x.starts_with(r#"mailbox "support".poll_interval: expected a duration like "90s""#)
    }));
    assert!(p.contains(&"mailbox \"support\".colour: unknown key".to_string()));
}

#[test]
fn imap_port_problem_names_its_path() {
    let text = format!("{MINIMAL}imap = {{ host = \"h\", port = \"abc\" }}\n");
    assert_eq!(
        problems(&text),
        vec![r#"mailbox "support".imap.port: expected an integer 1-65535, got "abc""#]
    );
}

#[test]
fn secrets_never_inline_and_missing_env_is_named() {
    let text =
        format!("{MINIMAL}imap = {{ host = \"h\", username = \"u\", password = \"hunter2\" }}\n");
    let p = problems(&text);
    assert!(
        p[0].starts_with(
            "mailbox \"support\".imap.password: secrets are not read from the config file"
        ),
        "{p:?}"
    );
    assert!(!p.iter().any(|x| x.contains("hunter2")));
    let text = format!(
        "{MINIMAL}imap = {{ host = \"h\", username = \"u\", password_env = \"POSTDESK_TEST_UNSET_VAR\" }}\n"
    );
    assert_eq!(
        problems(&text),
        vec![
            "mailbox \"support\".imap.password_env: environment variable POSTDESK_TEST_UNSET_VAR is not set"
        ]
    );
}

#[test]
fn cross_references_are_checked() {
    let text = format!(
        "{MINIMAL}sla = \"gold\"\nagents = [\"carol@example.com\"]\n[sla.standard]\ncalendar = \"nowhere\"\nwarn_before = \"30h\"\n[[sla.standard.escalation]]\nafter = \"breach\"\nnotify = []\n"
    );
    let p = problems(&text);
    assert!(
        p.iter().any(|x| x.starts_with(
            "mailbox \"support\".sla: expected the name of an [sla.NAME] policy (standard)"
        )),
        "{p:#?}"
    );
    assert!(p.iter().any(|x| {
        x.starts_with(
            "mailbox \"support\".agents[0]: \"carol@example.com\" is not an [[agent]] email",
        )
    }));
    assert!(p.iter().any(|x| x.starts_with("sla.standard.calendar:")));
    assert!(p.iter().any(|x| x.starts_with("sla.standard.warn_before: must be shorter than first_response")));
    assert!(p.iter().any(|x| {
        x.starts_with("sla.standard.escalation[0].notify: expected at least one recipient")
    }));
}

#[test]
fn calendars_and_agents_are_validated() {
    let text = format!(
        "{MINIMAL}[[agent]]\nemail = \"a@example.com\"\ntimezone = \"Mars/Olympus\"\n[calendar.office]\ntimezone = \"Europe/Athens\"\nhours = {{ mon-fri = \"09:00-13:00,12:00-18:00\" }}\nholidays = [\"25/12/2026\"]\n"
    );
    let p = problems(&text);
    assert!(
        p.iter()
            .any(|x| x.starts_with("agent \"a@example.com\".timezone: expected an IANA time zone")),
        "{p:#?}"
    );
    assert!(
        p.iter()
            .any(|x| x.starts_with("calendar.office.hours.mon-fri:") && x.contains("overlaps"))
    );
    assert!(
        p.iter()
            .any(|x| x.starts_with("calendar.office.holidays[0]:"))
    );
}

#[test]
fn duplicates_and_missing_sections() {
    let text = "[[mailbox]]\nname = \"a\"\naddress = \"a@x.example\"\n[[mailbox]]\nname = \"a\"\naddress = \"a@x.example\"\n";
    let p = problems(text);
    assert!(
        p.contains(&"database: is required (a table with url)".to_string()),
        "{p:#?}"
    );
    assert!(p.iter().any(|x| x.starts_with("smtp: is required")));
    assert!(
        p.iter()
            .any(|x| x.starts_with("mailbox[1].name: \"a\" is used twice"))
    );
    assert!(p.iter().any(|x| x.starts_with("mailbox[1].address:")));
}

#[test]
fn syntax_errors_name_the_file() {
    let e = parse("[database\nurl = 1").unwrap_err();
    assert!(
        e.to_string().starts_with("/etc/postdesk/postdesk.toml:"),
        "{e}"
    );
}

#[test]
fn the_http_listener_is_off_by_default_and_checked_when_on() {
    assert!(parse(MINIMAL).unwrap().http.is_none());
    let bad = format!("{MINIMAL}\n[http]\nlisten = \"localhost\"\nport = 1\n");
    let p = problems(&bad);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p.iter().any(|l| l.contains("http.listen: expected an IP address and port such as \"127.0.0.1:9187\", got \"localhost\"")), "{p:?}");
    assert!(p.iter().any(|l| l.contains("http.port")), "{p:?}");
    let bad_url = format!(
        "{MINIMAL}\n[http]\nlisten = \"127.0.0.1:1\"\npublic_url = \"support.example.com\"\n"
    );
    let p = problems(&bad_url);
    assert!(
        p[0].contains("http.public_url: expected an address like"),
        "{p:?}"
    );
    let good = format!(
        "{MINIMAL}\n[http]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://h.example.com/pd/\"\n"
    );
    let c = parse(&good).unwrap();
    assert_eq!(
        c.http.unwrap().public_url.as_deref(),
        Some("https://h.example.com/pd")
    );
}

#[test]
fn an_unknown_key_says_what_it_probably_meant() {
    let text = MINIMAL.replace("[database]", "smpt_host = \"x\"\n\n[database]");
    let p = problems(&text);
    assert!(
        p.iter().any(|l| l.contains("smpt_host: unknown key")),
        "{p:?}"
    );
    let text = format!("{MINIMAL}\n[sla.standard]\nfirst_response = \"4h\"\nwarn_befor = \"1h\"\n");
    let p = problems(&text);
    assert!(
        p.iter()
            .any(|l| l
                .contains(r#"sla.standard.warn_befor: unknown key (did you mean "warn_before"?)"#)),
        "{p:?}"
    );
    let p = problems(&MINIMAL.replace("[smtp]", "[smpt]"));
    assert!(
        p.iter()
            .any(|l| l.contains(r#"smpt: unknown key (did you mean "smtp"?)"#)),
        "{p:?}"
    );
}

#[test]
fn retention_ages_are_checked() {
    let p = problems(&format!(
        "{MINIMAL}retention = {{ raw = \"soon\", text = \"12h\", keep = \"1y\" }}\n"
    ));
    assert!(
        p.iter().any(|x| x.starts_with(
            "mailbox \"support\".retention.raw: expected an age like \"90d\", \"6mo\" or \"2y\""
        )),
        "{p:#?}"
    );
    assert!(
        p.iter()
            .any(|x| x.starts_with("mailbox \"support\".retention.text:")),
        "{p:#?}"
    );
    assert!(
        p.iter()
            .any(|x| x.starts_with("mailbox \"support\".retention.keep: unknown key")),
        "{p:#?}"
    );
    let ok = parse(&format!(
        "{MINIMAL}retention = {{ raw = \"90d\", text = \"2y\" }}\n"
    ))
    .unwrap();
    assert_eq!(ok.mailboxes[0].retention.text.unwrap().get_years(), 2);
}

const OAUTH: &str = r#"
[database]
url = "sqlite://test.db"
[smtp]
host = "smtp.office365.com"
username = "support@example.com"
auth = "oauth2"
oauth = "acme"
[[mailbox]]
name = "support"
address = "support@example.com"
imap = { host = "outlook.office365.com", security = "tls", username = "support@example.com", auth = "oauth2", oauth = "acme" }
[oauth.acme]
provider = "microsoft"
tenant = "contoso.onmicrosoft.com"
client_id = "00000000-0000-0000-0000-000000000000"
"#;

#[test]
fn an_oauth2_account_gets_its_providers_endpoints_and_scopes() {
    let c = parse(OAUTH).unwrap_or_else(|e| panic!("{e}"));
    let a = &c.oauth["acme"];
    assert_eq!(a.provider, Provider::Microsoft);
    assert_eq!(a.flow, Flow::Device);
    assert_eq!(
        a.device_authorization_url.as_deref(),
        Some("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode")
    );
    assert_eq!(
        a.token_url,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(a.scopes, MICROSOFT_SCOPES.map(String::from).to_vec());
    assert_eq!(c.smtp.oauth.as_deref(), Some("acme"));
    assert_eq!(
        c.mailboxes[0].imap.as_ref().unwrap().oauth.as_deref(),
        Some("acme")
    );
    assert!(c.smtp.password.is_none());
}

#[test]
fn google_signs_in_by_browser_and_needs_its_client_secret() {
    let text = OAUTH.replace(
        "provider = \"microsoft\"\ntenant = \"contoso.onmicrosoft.com\"\n",
        "provider = \"google\"\n",
    );
    assert_eq!(
        problems(&text),
        vec![
            "oauth.acme.client_secret_env: is required with provider = \"google\": Google's token endpoint asks a desktop client for its secret too"
        ]
    );
    // SAFETY: tests in this module only read these variables.
    unsafe { std::env::set_var("POSTDESK_TEST_GOOGLE_SECRET", "s") };
    let c = parse(&format!(
        "{text}client_secret_env = \"POSTDESK_TEST_GOOGLE_SECRET\"\n"
    ))
    .unwrap();
    assert_eq!(c.oauth["acme"].flow, Flow::Browser);
    assert_eq!(c.oauth["acme"].scopes, vec!["https://mail.google.com/"]);
}

#[test]
fn oauth2_mistakes_are_named_with_their_keys() {
    let wrong_name = OAUTH.replace("oauth = \"acme\" }", "oauth = \"acmee\" }");
    assert_eq!(
        problems(&wrong_name),
        vec!["mailbox \"support\".imap.oauth: no [oauth.acmee] account (configured: acme)"]
    );
    let with_password = OAUTH.replace(
        "auth = \"oauth2\"\noauth",
        "auth = \"oauth2\"\npassword_env = \"X\"\noauth",
    );
    assert!(
        problems(&with_password)
            .iter()
            .any(|p| p.starts_with("smtp.auth: is \"oauth2\": remove password_env")),
        "{:?}",
        problems(&with_password)
    );
    let no_account = OAUTH.replace(
        "auth = \"oauth2\"\noauth = \"acme\"\n",
        "auth = \"oauth2\"\n",
    );
    assert!(
        problems(&no_account).contains(
            &"smtp.oauth: is required with auth = \"oauth2\": the name of an [oauth.NAME] account"
                .to_string()
        )
    );
    let custom = OAUTH.replace(
        "provider = \"microsoft\"\ntenant = \"contoso.onmicrosoft.com\"\n",
        "provider = \"custom\"\ntoken_url = \"http://idp.example.com/token\"\n",
    );
    assert_eq!(
        problems(&custom),
        vec![
            "oauth.acme.device_authorization_url: is required with provider = \"custom\" (or set flow = \"browser\" and authorization_url)",
            "oauth.acme.scopes: is required with provider = \"custom\" (the scopes IMAP and SMTP need)",
            "oauth.acme.token_url: expected an https:// URL (http:// only to 127.0.0.1 or localhost), got \"http://idp.example.com/token\"",
        ]
    );
    let typo = OAUTH.replace("client_id", "clientid");
    assert_eq!(
        problems(&typo),
        vec![
            "oauth.acme.client_id: is required (a string)",
            "oauth.acme.clientid: unknown key (did you mean \"client_id\"?)",
        ]
    );
}

#[test]
fn an_oauth_endpoint_is_parsed_not_matched_as_text() {
    let custom = |url: &str| {
        OAUTH.replace(
            "provider = \"microsoft\"\ntenant = \"contoso.onmicrosoft.com\"\n",
            &format!(
                "provider = \"custom\"\nscopes = [\"mail\"]\ndevice_authorization_url = \"https://idp.example.com/device\"\ntoken_url = \"{url}\"\n"
            ),
        )
    };
    for ok in [
        "http://127.0.0.1:8080/token",
        "http://localhost/token",
        "http://[::1]:9/t",
        "https://idp.example.com/token",
    ] {
        assert!(parse(&custom(ok)).is_ok(), "{ok}");
    }
    for bad in [
        "http://localhost:@evil.example/token",
        "http://127.0.0.1.evil.example/token",
        "http://localhost.evil.example/token",
        "https://user:pw@idp.example.com/token",
        "ftp://idp.example.com/token",
    ] {
        let p = problems(&custom(bad));
        assert_eq!(p.len(), 1, "{bad}: {p:?}");
        assert!(
            p[0].starts_with("oauth.acme.token_url: expected"),
            "{bad}: {p:?}"
        );
    }
}

#[test]
fn a_short_sealing_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "hunter2\n").unwrap();
    let text = OAUTH.replace(
        "url = \"sqlite://test.db\"",
        &format!(
            "url = \"sqlite://test.db\"\nsecret_key_file = \"{}\"",
            key.display()
        ),
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("database.secret_key_file: the secret in"),
        "{p:?}"
    );
    assert!(p[0].contains("at least 32 characters"), "{p:?}");
    std::fs::write(&key, "kQ2w9Yc7VbT1mN4pXr8sZ0aLd3FgHj6E\n").unwrap();
    assert!(parse(&text).is_ok());
}
