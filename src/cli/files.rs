//! The original bytes for the admin: `messages show ID [--raw]` (a stored
//! mail, to open in a mail client) and `tickets show N --attachments DIR`
//! (a ticket's files saved with safe, unique names: no path from a
//! stranger's file name is ever followed, no file is overwritten).

use super::{CliResult, Failure, exit};
use crate::clock::Clock;
use crate::domain::files::{safe_name, unique_name};
use crate::domain::parse::{files_of, parse, strip_angles};
use crate::store::Store;
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

/// `messages show ID`: the stored mail, its bytes with `--raw`.
pub async fn message(store: &Store, id: &str, raw: bool, json: bool) -> CliResult {
    let id = strip_angles(id.trim());
    let Some(bytes) = store.raw_message(id).await? else {
        return Err(Failure::new(exit::NOINPUT, format!("no message <{id}>")));
    };
    if raw {
        let mut out = std::io::stdout().lock();
        out.write_all(&bytes)
            .and_then(|_| out.flush())
            .map_err(|e| Failure::new(exit::exit_for_io(&e), format!("cannot write: {e}")))?;
        return Ok(exit::OK);
    }
    let mail = parse(&bytes);
    let files: Vec<serde_json::Value> = files_of(&bytes)
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name, "content_type": f.content_type, "size": f.bytes.len(),
                "inline": f.content_id.is_some(),
            })
        })
        .collect();
    if json {
        let v = serde_json::json!({
            "message_id": id,
            "from": mail.from.as_ref().map(|a| &a.email),
            "subject": mail.subject,
            "size": bytes.len(),
            "attachments": files,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("serialisable")
        );
        return Ok(exit::OK);
    }
    println!("Message <{id}>, {} bytes", bytes.len());
    println!(
        "  from {}",
        mail.from.as_ref().map_or("-", |a| a.email.as_str())
    );
    println!("  subject {}", mail.subject);
    for f in &files {
        println!(
            "  file {} ({}, {} bytes)",
            f["name"], f["content_type"], f["size"]
        );
    }
    println!("\n{}", mail.text);
    Ok(exit::OK)
}

/// Saves every file of ticket `number`'s messages into `dir` (created if
/// missing); prints each path written.
pub async fn save_attachments(
    store: &Store,
    clock: &dyn Clock,
    number: i64,
    dir: &Path,
) -> CliResult {
    if store.ticket_detail(number, clock.now()).await?.is_none() {
        return Err(Failure::new(exit::NOINPUT, format!("no ticket #{number}")));
    }
    let raws = store.ticket_raws(number).await?;
    let fail = |e: std::io::Error, what: &Path| {
        Failure::new(exit::exit_for_io(&e), format!("{}: {e}", what.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(e, dir))?;
    let mut taken: HashSet<String> = std::fs::read_dir(dir)
        .map_err(|e| fail(e, dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_lowercase())
        .collect();
    let mut saved = 0;
    for raw in raws {
        for f in files_of(&raw) {
            let name = unique_name(&safe_name(&f.name), &taken);
            let path = dir.join(&name);
            // create_new: never overwrite, even a file that appeared meanwhile.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| fail(e, &path))?;
            file.write_all(&f.bytes).map_err(|e| fail(e, &path))?;
            taken.insert(name.to_lowercase());
            println!("{}", path.display());
            saved += 1;
        }
    }
    if saved == 0 {
        eprintln!("ticket #{number} has no attachments");
    }
    Ok(exit::OK)
}
