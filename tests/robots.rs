//! Robots and broken mail gathered from public sources and the standards
//! (`POSTDESK_ROBOTS`, default `../shared/robots`; read at test time, never
//! copied here: their licences vary). Every robot must go unanswered and
//! every human control answered; every header the parsing set names must
//! read as its manifest says. Each test prints its figures and the misses,
//! and says SKIPPED when the set is absent.

mod common;

use common::answer::would_answer;
use postdesk::domain::parse::parse;
use serde_json::Value;
use std::path::PathBuf;

fn robots() -> Option<PathBuf> {
    let dir = std::env::var("POSTDESK_ROBOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/robots"));
    if dir.join("manifest.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: no robots set at {} (set POSTDESK_ROBOTS)",
            dir.display()
        );
        None
    }
}

fn manifest(path: PathBuf) -> Vec<Value> {
    serde_json::from_slice::<Value>(&std::fs::read(path).unwrap())
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn robots_go_unanswered_and_people_are_answered() {
    let Some(dir) = robots() else { return };
    let (mut robots, mut answered, mut people, mut people_answered) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    let mut per_category: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    for m in manifest(dir.join("manifest.json")) {
        let file = m["file"].as_str().unwrap();
        let raw = std::fs::read(dir.join(file)).unwrap();
        let (acked, why) = would_answer(&raw);
        let category = m["category"].as_str().unwrap_or("?").to_string();
        let entry = per_category.entry(category.clone()).or_default();
        entry.0 += 1;
        if m["must_not_autoreply"] == true {
            robots += 1;
            if acked {
                answered += 1;
                misses.push(format!("ANSWERED {file} ({why})"));
            } else {
                entry.1 += 1;
            }
        } else {
            people += 1;
            if acked {
                people_answered += 1;
                entry.1 += 1;
            } else {
                misses.push(format!("SILENT   {file} ({why})"));
            }
        }
    }
    for miss in &misses {
        eprintln!("{miss}");
    }
    for (c, (n, right)) in &per_category {
        eprintln!("  {c}: {right} of {n} right");
    }
    eprintln!(
        "robots set: robots answered {answered} of {robots} (target 0); \
         people answered {people_answered} of {people} (target all)"
    );
    assert_eq!(answered, 0);
    assert_eq!(people_answered, people);
}

#[test]
fn headers_from_the_wider_world_read_as_written() {
    let Some(dir) = robots().map(|d| d.join("parsing")) else {
        return;
    };
    if !dir.join("manifest.json").is_file() {
        eprintln!("SKIPPED: no parsing set at {}", dir.display());
        return;
    }
    let (mut checks, mut right) = (0, 0);
    let mut misses = Vec::new();
    let mut lost = Vec::new();
    for m in manifest(dir.join("manifest.json")) {
        let file = m["file"].as_str().unwrap();
        let raw = std::fs::read(dir.join(file)).unwrap();
        let mail = parse(&raw);
        let e = &m["expected"];
        let mut check = |what: &str, want: Option<&str>, got: Option<&str>| {
            let Some(want) = want else { return };
            checks += 1;
            if got == Some(want) {
                right += 1;
            } else {
                misses.push(format!("{file} {what}: want {want:?}, got {got:?}"));
            }
        };
        check(
            "subject",
            e["subject"].as_str(),
            Some(mail.subject.as_str()),
        );
        let from = mail.from.as_ref();
        // Addresses compare without case (we keep them lower-cased).
        let want = e["from_email"].as_str().map(str::to_lowercase);
        check("from", want.as_deref(), from.map(|a| a.email.as_str()));
        check(
            "name",
            e["from_name"].as_str(),
            from.and_then(|a| a.name.as_deref()),
        );
        // An address never loses its local part.
        if let Some(a) = from.filter(|a| a.email.starts_with('@')) {
            lost.push(format!("{file}: {}", a.email));
        }
    }
    for miss in &misses {
        eprintln!("{miss}");
    }
    let rate = 100.0 * right as f64 / checks.max(1) as f64;
    eprintln!("parsing set: {right} of {checks} header values read as written ({rate:.1}%)");
    assert!(lost.is_empty(), "addresses without a local part: {lost:#?}");
    assert!(rate >= 95.0, "below the floor of 95%");
}
