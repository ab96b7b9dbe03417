//! `postdesk auth login NAME` and `postdesk auth status`: signing an OAuth2
//! account in, and how every account stands.
//!
//! Two ways to sign in. The device flow (RFC 8628; Microsoft, and custom
//! providers by default) prints an address and a code to enter there, on
//! any device, and waits. The browser flow (Google, which refuses the
//! device flow for mail) prints an address to open; the provider sends
//! the browser back to a port on this machine that `auth login` listens
//! on (RFC 8252 loopback redirect). When the browser runs elsewhere that
//! page does not load, and the admin pastes its address here instead.

use super::{CliResult, Failure, exit, when};
use crate::clock::Clock;
use crate::config::{Config, Flow, OAuthAccount};
use crate::oauth::provider::{self, Granted, ProviderError};
use crate::oauth::{Authority, OAuthError};
use std::io::Write;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// The accounts, for a command (no health to report to).
pub(super) fn authority(config: &Config, store: crate::store::Store) -> Authority {
    Authority::of(
        config,
        store,
        Arc::new(crate::clock::SystemClock),
        crate::instance::instance_name(),
        None,
    )
}

fn provider_failure(name: &str, e: ProviderError) -> Failure {
    match e {
        ProviderError::Refused(why) | ProviderError::Misconfigured(why) => Failure::new(
            exit::CONFIG,
            format!("{name}: the provider refused the sign-in: {why}"),
        ),
        ProviderError::Unavailable(why) => Failure::new(exit::TEMPFAIL, format!("{name}: {why}")),
    }
}

/// `auth login NAME`.
pub async fn login(config: &Config, store: crate::store::Store, name: &str) -> CliResult {
    let Some(account) = config.oauth.get(name).cloned() else {
        let known: Vec<&str> = config.oauth.keys().map(String::as_str).collect();
        return Err(Failure::new(
            exit::USAGE,
            if known.is_empty() {
                format!("no [oauth.{name}] account in the configuration")
            } else {
                format!(
                    "no [oauth.{name}] account; configured: {}",
                    known.join(", ")
                )
            },
        ));
    };
    let authority = authority(config, store);
    let users: Vec<String> = users_of(config, name);
    println!(
        "Signing in the OAuth2 account {name} ({}){}.",
        account.provider.as_str(),
        if users.is_empty() {
            String::new()
        } else {
            format!(": sign in as {}", users.join(" or "))
        }
    );
    let granted = match account.flow {
        Flow::Device => device(&account).await,
        Flow::Browser => browser(&account).await,
    }
    .map_err(|e| provider_failure(name, e))?;
    if granted.refresh_token.is_none() {
        return Err(Failure::new(
            exit::CONFIG,
            format!(
                "{name}: the provider gave no refresh token, so the daemon could not renew access after {}; add the scope that asks for one (offline_access at Microsoft)",
                granted.expires_at
            ),
        ));
    }
    authority
        .signed_in(name, &granted)
        .await
        .map_err(oauth_failure)?;
    println!(
        "Signed in: {name}. The access token is good until {}; the daemon renews it before then{}.",
        when::show(granted.expires_at, &jiff::tz::TimeZone::system()),
        if authority.seals() {
            " (tokens are sealed in the database)"
        } else {
            ". Tokens are kept unsealed in the database: set [database] secret_key_env to seal them"
        }
    );
    Ok(exit::OK)
}

/// The user names the account logs in as (to say whom to sign in as).
fn users_of(config: &Config, account: &str) -> Vec<String> {
    let mut users: Vec<String> = config
        .mailboxes
        .iter()
        .filter_map(|m| m.imap.as_ref())
        .chain(std::iter::once(&config.smtp))
        .filter(|s| s.oauth.as_deref() == Some(account))
        .filter_map(|s| s.username.clone())
        .collect();
    users.sort();
    users.dedup();
    users
}

fn oauth_failure(e: OAuthError) -> Failure {
    Failure::new(
        if e.needs_admin() {
            exit::CONFIG
        } else {
            exit::TEMPFAIL
        },
        e.to_string(),
    )
}

async fn device(a: &OAuthAccount) -> Result<Granted, ProviderError> {
    let code = provider::device_code(a).await?;
    println!("  1. Open   {}", code.verification_uri());
    println!("  2. Enter  {}", code.user_code());
    if let Some(complete) = code.verification_uri_complete() {
        println!("  (or open  {complete})");
    }
    println!(
        "Waiting for the approval (the code expires in {} min)...",
        code.expires_in().as_secs().div_ceil(60)
    );
    let _ = std::io::stdout().flush();
    provider::device_tokens(a, &code, || crate::clock::SystemClock.now()).await
}

async fn browser(a: &OAuthAccount) -> Result<Granted, ProviderError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| ProviderError::Unavailable(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| ProviderError::Unavailable(e.to_string()))?
        .port();
    let redirect = format!("http://127.0.0.1:{port}/");
    let auth = provider::authorization(a, &redirect)?;
    println!("  1. Open this address in a browser and allow access:");
    println!("     {}", auth.url);
    println!("  2. The browser is then sent to {redirect}. If the browser runs on this");
    println!("     machine, that completes the sign-in. If not, that page does not load:");
    println!("     copy its address from the browser's address bar and paste it here.");
    println!("Waiting for the approval...");
    let _ = std::io::stdout().flush();
    let code = tokio::select! {
        c = redirected(&listener, &auth.state) => c,
        c = pasted(&auth.state) => c,
        _ = tokio::time::sleep(std::time::Duration::from_secs(15 * 60)) => {
            Err(ProviderError::Refused("no answer within 15 minutes".into()))
        }
    }?;
    provider::exchange_code(a, auth, &code, || crate::clock::SystemClock.now()).await
}

/// The code of the first request to the loopback listener that carries
/// this sign-in's state. Anything else (a favicon, a stray local process,
/// an answer to another sign-in) is turned away and the wait goes on; a
/// connection that sends nothing is dropped after a few seconds.
async fn redirected(
    listener: &tokio::net::TcpListener,
    state: &str,
) -> Result<String, ProviderError> {
    loop {
        let (mut conn, _) = listener
            .accept()
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        let head =
            match tokio::time::timeout(std::time::Duration::from_secs(5), request_head(&mut conn))
                .await
            {
                Ok(h) => h,
                Err(_) => continue,
            };
        let target = head
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or("");
        let answer = code_from(&format!("http://127.0.0.1{target}"), state);
        let ours = target.contains(&format!("state={state}"));
        let (status, body) = match &answer {
            Ok(_) => ("200 OK", "postdesk: signed in; you may close this window."),
            Err(_) if ours => (
                "200 OK",
                "postdesk: the sign-in was not allowed; see the terminal.",
            ),
            Err(_) if target.contains("code=") || target.contains("error=") => (
                "400 Bad Request",
                "postdesk: this answer is not for the sign-in under way.",
            ),
            Err(_) => ("404 Not Found", ""),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = conn.write_all(reply.as_bytes()).await;
        match answer {
            Ok(code) => return Ok(code),
            // The provider's refusal of this very sign-in ends it.
            Err(e) if ours => return Err(e),
            Err(_) => continue,
        }
    }
}

/// The request line and headers of one HTTP request (at most 16 KiB).
async fn request_head(conn: &mut tokio::net::TcpStream) -> String {
    let mut buf = vec![0u8; 16 * 1024];
    let mut len = 0;
    while len < buf.len() {
        match conn.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// The code of an address pasted on standard input.
async fn pasted(state: &str) -> Result<String, ProviderError> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(l)) if l.contains("code=") || l.contains("error=") => {
                return code_from(l.trim(), state);
            }
            Ok(Some(l)) if l.trim().is_empty() => continue,
            Ok(Some(_)) => println!(
                "That is not the address the browser was sent to (it has code= in it); paste it again:"
            ),
            // No terminal: only the listener can answer.
            Ok(None) | Err(_) => return std::future::pending().await,
        }
    }
}

/// The code from the redirected address, once its state is ours.
fn code_from(address: &str, state: &str) -> Result<String, ProviderError> {
    let url = reqwest::Url::parse(address)
        .map_err(|e| ProviderError::Refused(format!("not an address: {e}")))?;
    let q = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    if q("state").as_deref() != Some(state) {
        return Err(ProviderError::Refused(
            "the answer is not for this sign-in (its state differs): start again".into(),
        ));
    }
    if let Some(error) = q("error") {
        let why = q("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        // Words from the address are shown in a terminal: no control characters.
        let shown: String = format!("{error}{why}")
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        return Err(ProviderError::Refused(shown));
    }
    q("code").ok_or_else(|| ProviderError::Refused("the answer has no code".into()))
}

/// `auth status [--json]`.
pub async fn status(
    config: &Config,
    store: crate::store::Store,
    tz: &jiff::tz::TimeZone,
    json: bool,
) -> CliResult {
    let authority = authority(config, store);
    let all = authority.status().await.map_err(oauth_failure)?;
    if json {
        super::show::print_json(&all);
        return Ok(exit::OK);
    }
    if all.is_empty() {
        println!("no [oauth.NAME] accounts are configured");
        return Ok(exit::OK);
    }
    println!(
        "{:<16} {:<8} {:<21} {:<21} NOTE",
        "ACCOUNT", "STATE", "TOKEN EXPIRES", "LAST REFRESH"
    );
    for s in &all {
        let note = match (&s.error, s.sealed) {
            (Some(e), _) => e.clone(),
            (None, true) => "sealed".into(),
            (None, false) => "unsealed (set [database] secret_key_env)".into(),
        };
        println!(
            "{:<16} {:<8} {:<21} {:<21} {note}",
            s.name,
            s.state,
            s.access_expires_at
                .map_or("-".into(), |t| when::show(t, tz)),
            s.last_refresh_at.map_or("-".into(), |t| when::show(t, tz)),
        );
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_comes_back_only_with_our_state() {
        let ok = "http://127.0.0.1:4711/?state=s1&code=4%2F0Ab&scope=mail";
        assert_eq!(code_from(ok, "s1").unwrap(), "4/0Ab");
        assert!(code_from(ok, "s2").is_err());
        let denied = "http://127.0.0.1:4711/?error=access_denied&state=s1";
        assert_eq!(
            code_from(denied, "s1"),
            Err(ProviderError::Refused("access_denied".into()))
        );
        // A stranger's "error" without our state does not end the sign-in.
        assert!(matches!(
            code_from("http://127.0.0.1:4711/?error=access_denied", "s1"),
            Err(ProviderError::Refused(w)) if w.contains("state differs")
        ));
        let escapes = "http://127.0.0.1:4711/?error=x&error_description=%1b%5b2Jgone&state=s1";
        assert_eq!(
            code_from(escapes, "s1"),
            Err(ProviderError::Refused("x: [2Jgone".into()))
        );
    }
}
