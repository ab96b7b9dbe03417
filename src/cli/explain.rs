//! `postdesk explain FILE`: how one message would be read, classified,
//! threaded and decided, without storing it.

use super::{CliResult, Failure, exit};
use crate::ingest::Pipeline;

pub async fn run(
    pipeline: &Pipeline,
    mailbox: &str,
    file: &std::path::Path,
    json: bool,
) -> CliResult {
    let config = &pipeline.config;
    let Some(mb) = config.mailbox(mailbox).cloned() else {
        let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "--mailbox: no mailbox named {mailbox:?} (configured: {})",
                names.join(", ")
            ),
        ));
    };
    let raw = std::fs::read(file).map_err(|e| {
        Failure::new(
            exit::exit_for_io(&e),
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    let e = pipeline.explain(&mb, &raw).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&e).expect("serialisable")
        );
        return Ok(exit::OK);
    }
    println!("message   <{}>", e.message_id);
    println!("from      {}", e.from.as_deref().unwrap_or("- (no sender)"));
    println!("subject   {}", e.subject);
    if !e.flags.is_empty() {
        println!("parsing   {}", e.flags.join(", "));
    }
    println!(
        "kind      {} (evidence: {}) {}",
        e.kind, e.evidence, e.reason
    );
    println!("threading {}", e.threading);
    if let Some(p) = &e.proof {
        println!("sender    proven by {p}");
    }
    if let Some(a) = &e.agent {
        println!("agent     {a}");
    }
    println!(
        "decision  {}{}",
        e.action,
        e.acknowledge
            .as_ref()
            .map(|a| format!(", acknowledged to {a} (limits and suppressions not counted)"))
            .unwrap_or_else(|| ", not acknowledged".into())
    );
    for (what, why) in &e.events {
        println!("  {what}: {why}");
    }
    println!("(nothing was stored)");
    Ok(exit::OK)
}
