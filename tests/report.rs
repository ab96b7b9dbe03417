//! `postdesk report` on a real database: the numbers in JSON, the text
//! form, and the HTML page loaded in headless Chromium with its charts.

#[macro_use]
mod common;

use common::Db;
use common::cli::Cli;
use serde_json::Value;
use std::process::Command;

on_both_databases!(the_report_counts_what_happened);

fn ingest_three(c: &Cli) {
    for (i, at) in [
        "2026-11-20T09:15:00Z",
        "2026-11-20T09:45:00Z",
        "2026-11-21T14:05:00Z",
    ]
    .iter()
    .enumerate()
    {
        let raw = format!(
            "From: Customer {i} <c{i}@example.org>\r\nTo: support@example.com\r\nSubject: Question {i}\r\n\
             Message-ID: <rep{i}@example.org>\r\n\r\nHello\r\n"
        );
        let f = c.file(&format!("m{i}.eml"), raw.as_bytes());
        c.ingest(&["--received-at", at], &[&f]);
    }
}

fn report(c: &Cli, format: &str) -> String {
    let out = c.run(
        &[
            "report",
            "--since",
            "2026-11-01T00:00:00Z",
            "--format",
            format,
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn the_report_counts_what_happened(db: Db) {
    let c = Cli::new(db);
    ingest_three(&c);
    let r: Value = serde_json::from_str(&report(&c, "json")).unwrap();
    let m = &r["mailboxes"][0];
    assert_eq!(m["name"], "support");
    assert_eq!(m["opened"], 3);
    assert_eq!(m["resolved"], 0);
    assert_eq!(m["busiest_hours"][9], 2, "{m}");
    assert_eq!(m["busiest_hours"][14], 1);
    let days = m["days"].as_array().unwrap();
    let day = |d: &str| {
        days.iter().find(|x| x["date"] == d).unwrap()["opened"]
            .as_i64()
            .unwrap()
    };
    assert_eq!((day("2026-11-20"), day("2026-11-21")), (2, 1));
    assert_eq!(
        m["sla_compliance_percent"],
        Value::Null,
        "no clock has stopped yet"
    );
    let text = report(&c, "text");
    assert!(text.contains("tickets opened 3  resolved 0"), "{text}");
    assert!(
        text.contains("busiest hours: 09:00 (2), 14:00 (1)"),
        "{text}"
    );
    let bad = c.run(&["report", "--since", "last tuesday"], None);
    assert_eq!(bad.status.code(), Some(64));
}

/// A headless browser: Debian's chromium (scripts/test.sh installs it).
fn browser() -> &'static str {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("a headless browser (Debian: apt install chromium; scripts/test.sh installs it)")
}

#[test]
fn the_html_report_loads_in_a_browser_with_axes_totals_and_names() {
    let c = Cli::with_config(
        Db::Sqlite,
        "",
        "[[mailbox]]\nname = \"sales\"\naddress = \"sales@example.com\"\ndisplay_name = \"Sales team\"\n\
         [[agent]]\nemail = \"alice@example.com\"\nname = \"Alice Martin\"\n",
    );
    ingest_three(&c);
    // Alice took ticket 1 (the report reads what the store holds).
    common::exec(
        &c.url,
        "UPDATE tickets SET assignee = 'alice@example.com' WHERE number = 1",
    );
    let html = report(&c, "html");
    let page = c.dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let profile = c.dir.path().join("profile");
    let run = |extra: &[&str]| {
        Command::new(browser())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap()
    };
    let dom = run(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<h1>postdesk report</h1>"));
    // The period's totals first.
    let totals = dom.find("id=\"totals\"").expect("totals at the top");
    assert!(totals < dom.find("<h1>Mailboxes</h1>").unwrap());
    assert!(
        dom.contains(r#"<div class="value">3</div><div class="what">tickets opened</div>"#),
        "{dom}"
    );
    // Charts with data have round ticks and named axes.
    for id in ["volume-m0", "hours-m0"] {
        assert!(
            dom.contains(&format!("<svg id=\"{id}\"")),
            "chart {id} missing in the loaded page"
        );
    }
    assert!(dom.contains("class=\"bar\""), "no bars drawn");
    assert!(dom.contains(">tickets</text>"), "no y-axis name");
    assert!(dom.contains(">day (month-day)</text>"), "no x-axis name");
    for tick in [">0</text>", ">1</text>", ">2</text>"] {
        assert!(dom.contains(tick), "no tick {tick}");
    }
    // Empty charts are one line, not an empty frame.
    assert!(
        dom.contains(r#"<p class="empty" id="response-m0">No ticket had its first answer in this period.</p>"#),
        "{dom}"
    );
    assert!(dom.contains(r#"<p class="empty" id="sla-m0">"#));
    assert!(!dom.contains("<svg id=\"response-m0\""));
    // A mailbox without data: its name and one line.
    assert!(dom.contains(
        "<h2>Sales team <small>sales</small></h2><p class=\"empty\">No tickets or customer mail in this period.</p>"
    ));
    // Agents by name.
    assert!(dom.contains("<h2>Alice Martin <small>alice@example.com</small></h2>"));
    assert!(html.contains("@media print"));

    // Looked at on a desktop and on a phone; printed to PDF.
    for (name, size) in [("desktop", "1280,2200"), ("phone", "390,3200")] {
        let shot = c.dir.path().join(format!("report-{name}.png"));
        let out = run(&[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={size}"),
        ]);
        let png = std::fs::read(&shot).unwrap_or_else(|_| {
            panic!(
                "no {name} screenshot: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "a blank {name} page? {} bytes",
            png.len()
        );
        if let Ok(dir) = std::env::var("POSTDESK_REPORT_SHOTS") {
            std::fs::copy(
                &shot,
                std::path::Path::new(&dir).join(format!("report-{name}.png")),
            )
            .unwrap();
        }
    }
    let pdf = c.dir.path().join("report.pdf");
    let out = run(&[
        &format!("--print-to-pdf={}", pdf.display()),
        "--no-pdf-header-footer",
    ]);
    let bytes = std::fs::read(&pdf)
        .unwrap_or_else(|_| panic!("no PDF: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(bytes.starts_with(b"%PDF") && bytes.len() > 5_000);
}
