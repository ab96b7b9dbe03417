//! Delivery against a real Postfix that answers 4xx or 5xx on demand: a
//! temporary refusal is retried until it is accepted, a permanent one fails
//! the row once and says so in the log.

#[macro_use]
mod common;

on_both_databases!(
    a_4xx_is_retried_until_delivered,
    a_5xx_fails_the_row_and_is_logged
);

use common::*;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

fn row(s: &Setup) -> serde_json::Value {
    let rows = s.outbox();
    assert!(rows.len() <= 1, "{rows:#?}");
    rows.into_iter().next().unwrap_or(serde_json::Value::Null)
}

fn a_4xx_is_retried_until_delivered(db: Db) {
    let s = Setup::new("tempfail", db);
    let customer = s.addr("customer");
    s.env
        .set_recipient_access(&customer, Some("451 4.3.0 Try again later"));
    let d = s.start();
    s.write_to_support(
        &customer,
        "Deferred ack",
        &format!("t-{}@client.example", s.tag),
        "x",
    );
    let deferred = s.wait_for("a deferred attempt", WAIT, || {
        let r = row(&s);
        (r["status"] == "queued" && r["attempts"].as_i64().unwrap_or(0) >= 1).then_some(r)
    });
    let err = deferred
        .get("last_error")
        .and_then(|e| e.as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains("451") || err.to_lowercase().contains("try again"),
        "last_error: {err}"
    );
    assert_eq!(s.env.delivered(&s.user("customer")).len(), 0);

    s.env.set_recipient_access(&customer, None);
    let sent = s.wait_for("delivery after the refusal ends", WAIT, || {
        let r = row(&s);
        (r["status"] == "sent").then_some(r)
    });
    assert!(sent["attempts"].as_i64().unwrap() >= 2, "{sent}");
    let got = s.env.wait_delivered(&s.user("customer"), 1, WAIT);
    assert_eq!(got.len(), 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        s.env.delivered(&s.user("customer")).len(),
        1,
        "delivered twice"
    );
    assert!(d.log().contains("delivery deferred"), "{}", d.log());
}

fn a_5xx_fails_the_row_and_is_logged(db: Db) {
    let s = Setup::new("permfail", db);
    let customer = s.addr("customer");
    s.env
        .set_recipient_access(&customer, Some("550 5.1.1 No such user here"));
    let d = s.start();
    s.write_to_support(
        &customer,
        "Failed ack",
        &format!("p-{}@client.example", s.tag),
        "x",
    );
    let failed = s.wait_for("the failed row", WAIT, || {
        let r = row(&s);
        (r["status"] == "failed").then_some(r)
    });
    assert_eq!(failed["attempts"], 1, "a 5xx must not be retried: {failed}");
    assert!(
        failed["last_error"].as_str().unwrap().contains("550"),
        "{failed}"
    );
    s.wait_for("the log line", WAIT, || {
        d.log()
            .contains("delivery failed permanently")
            .then_some(())
    });
    let n = s.tickets()[0]["number"].as_i64().unwrap();
    let detail = s.json(&["tickets", "show", &n.to_string(), "--json"]);
    assert!(
        detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["what"] == "delivery failed")
    );
    s.env.set_recipient_access(&customer, None);
}
