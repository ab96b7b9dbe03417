//! Real-world mail that nobody on the team wrote (`POSTDESK_CORPUS`, default
//! `../shared/corpus`; read at test time, never copied here). Each test prints
//! its figures and fails below its target; it says SKIPPED when the corpus
//! is absent.

mod common;

use common::answer::would_answer;
use serde_json::Value;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var("POSTDESK_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("autoreply/manifest.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: no corpus at {} (set POSTDESK_CORPUS)",
            dir.display()
        );
        None
    }
}

fn manifest(dir: &std::path::Path, set: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(set).join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn automatic_mail_is_never_answered_and_people_are() {
    let Some(dir) = corpus() else { return };
    let m = manifest(&dir, "autoreply");
    let (mut must_not, mut must_not_answered, mut controls, mut controls_answered) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for msg in m["messages"].as_array().unwrap() {
        let file = msg["file"].as_str().unwrap();
        let raw = std::fs::read(dir.join(file)).unwrap();
        let (answered, why) = would_answer(&raw);
        let subject = msg["subject_decoded"].as_str().unwrap_or_default();
        if msg["must_not_autoreply"] == true {
            must_not += 1;
            if answered {
                must_not_answered += 1;
                misses.push(format!(
                    "ANSWERED {file} [{}] {subject:?} ({why})",
                    msg["category"]
                ));
            }
        } else if msg["must_autoreply"] == true {
            controls += 1;
            if answered {
                controls_answered += 1;
            } else {
                misses.push(format!("SILENT   {file} {subject:?} ({why})"));
            }
        }
    }
    for miss in &misses {
        eprintln!("{miss}");
    }
    let rate = 100.0 * controls_answered as f64 / controls as f64;
    eprintln!(
        "autoreply corpus: must-not-answer answered {must_not_answered} of {must_not} (target 0); \
         human controls answered {controls_answered} of {controls} = {rate:.1}% (target >= 95%)"
    );
    assert_eq!(must_not_answered, 0);
    assert!(rate >= 95.0);
}

/// The real pipeline over the corpus threads: pairwise precision and recall
/// of "these two messages are in one ticket" against the archive's threads.
#[test]
fn threads_hold_together_and_strangers_stay_apart() {
    let Some(dir) = corpus() else { return };
    let m = manifest(&dir, "threads");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config_text = format!(
        "[database]\nurl = \"sqlite://{}\"\n[smtp]\nhost = \"127.0.0.1\"\nport = 1\nsecurity = \"none\"\n\
         [limits]\nacks_per_hour = 100000\nauto_per_recipient = 100000\n\
         [[mailbox]]\nname = \"support\"\naddress = \"support@example.com\"\nlist_mail = \"ticket\"\n",
        tmp.path().join("t.db").display()
    );
    let config = std::sync::Arc::new(
        postdesk::config::Config::parse(&config_text, &tmp.path().join("p.toml")).unwrap(),
    );
    // (file, truth, ticket)
    let mut placed: Vec<(String, String, Option<i64>)> = Vec::new();
    rt.block_on(async {
        let store = postdesk::store::Store::connect(&config.database)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let key = store.token_key().await.unwrap();
        let pipeline = postdesk::ingest::Pipeline::new(
            config.clone(),
            store,
            std::sync::Arc::new(postdesk::templates::Templates::load(None).unwrap()),
            key,
            std::sync::Arc::new(postdesk::clock::SystemClock),
            std::sync::Arc::new(tokio::sync::Notify::new()),
            std::sync::Arc::new(tokio::sync::Notify::new()),
        );
        let mailbox = config.mailbox("support").unwrap().clone();
        let mut feed: Vec<(String, String)> = Vec::new();
        for t in m["threads"].as_array().unwrap() {
            let mut msgs: Vec<&Value> = t["messages"].as_array().unwrap().iter().collect();
            msgs.sort_by_key(|x| x["order"].as_i64().unwrap());
            for msg in msgs {
                feed.push((
                    msg["file"].as_str().unwrap().into(),
                    t["thread_id"].as_str().unwrap().into(),
                ));
            }
        }
        for n in m["singleton_negatives"].as_array().unwrap() {
            feed.push((
                n["file"].as_str().unwrap().into(),
                n["thread_id"].as_str().unwrap().into(),
            ));
        }
        for (file, truth) in feed {
            let raw = std::fs::read(dir.join(&file)).unwrap();
            let incoming = postdesk::ingest::Incoming::new(
                &raw,
                postdesk::ingest::Arrival::DateHeader,
                postdesk::ingest::Source::Direct,
            );
            let o = pipeline.ingest(&mailbox, incoming).await.unwrap();
            placed.push((file, truth, o.ticket));
        }
    });
    let db = format!("sqlite://{}", tmp.path().join("t.db").display());
    let rules: Vec<String> = [
        "reply token", "In-Reply-To", "References", "an ID earlier mail referred to", "subject tag", "Thread-Index",
        "sender and subject",
    ]
    .iter()
    .map(|r| {
        let n = common::count(&db, &format!("SELECT COUNT(*) FROM events WHERE what = 'threading' AND detail LIKE 'threaded by {r} %'"));
        format!("{r}: {n}")
    })
    .collect();
    eprintln!("threaded by rule: {}", rules.join(", "));
    let (mut tp, mut fp, mut fn_) = (0u32, 0u32, 0u32);
    for (i, a) in placed.iter().enumerate() {
        for b in &placed[i + 1..] {
            let same_truth = a.1 == b.1;
            let same_ticket = a.2.is_some() && a.2 == b.2;
            match (same_truth, same_ticket) {
                (true, true) => tp += 1,
                (false, true) => {
                    fp += 1;
                    eprintln!(
                        "MERGED  {} ({}) with {} ({}) in #{:?}",
                        a.0, a.1, b.0, b.1, a.2
                    );
                }
                (true, false) => {
                    fn_ += 1;
                    eprintln!("SPLIT   {} #{:?} / {} #{:?} ({})", a.0, a.2, b.0, b.2, a.1);
                }
                (false, false) => {}
            }
        }
    }
    let precision = f64::from(tp) / f64::from((tp + fp).max(1));
    let recall = f64::from(tp) / f64::from((tp + fn_).max(1));
    eprintln!(
        "thread corpus: {} messages, pairwise precision {precision:.4} ({tp} of {} pairs joined were right), \
         recall {recall:.4} ({tp} of {} true pairs joined)",
        placed.len(),
        tp + fp,
        tp + fn_
    );
    // Every message of a real thread is in a ticket. A singleton negative
    // (list spam) may be set aside as spam instead: the list's own filter
    // said so (X-Spam-Status: Yes); it must only never join another ticket.
    let unplaced: Vec<&str> = placed
        .iter()
        .filter(|p| p.2.is_none() && !p.1.starts_with('N'))
        .map(|p| p.0.as_str())
        .collect();
    assert!(
        unplaced.is_empty(),
        "thread messages without a ticket: {unplaced:?}"
    );
    assert!(precision >= 0.99, "precision {precision}");
    assert!(recall >= 0.95, "recall {recall}");
}
