//! A stand-in OAuth2 authorization server for the tests, as strict as the
//! real ones where it matters: the device authorization grant (RFC 8628:
//! `authorization_pending`, `slow_down` when polled too fast,
//! `access_denied`, `expired_token`), the authorization code grant with
//! PKCE S256, refresh tokens that rotate (a spent one fails with
//! `invalid_grant`, as at Microsoft), revocation, and JWT access tokens
//! (HS256, the mail environment's key) that Dovecot validates itself.
//! It counts what happened, and keeps every token it issued so a test can
//! look for them where they must not be (logs, the database).

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Counts {
    pub device_codes: u32,
    pub polls: u32,
    pub slow_downs: u32,
    pub refreshes: u32,
    /// Refreshes refused: a spent (rotated), revoked or unknown token.
    pub invalid_grants: u32,
    pub codes_exchanged: u32,
}

struct Device {
    user_code: String,
    approved_as: Option<String>,
    denied: bool,
    last_poll: Option<Instant>,
    expires: Instant,
    scope: String,
}

#[derive(Default)]
struct Inner {
    devices: HashMap<String, Device>,
    /// Live refresh tokens: token → (email, scope).
    refresh: HashMap<String, (String, String)>,
    /// Authorization codes: code → (email, scope, challenge, redirect).
    codes: HashMap<String, (String, String, String, String)>,
    issued: Vec<String>,
    counts: Counts,
    next: u64,
}

struct Shared {
    key: Vec<u8>,
    kid: String,
    issuer: String,
    lifetime: Mutex<Duration>,
    inner: Mutex<Inner>,
    /// Who approves a browser sign-in.
    browser_user: Mutex<String>,
}

/// The running server; stops with the test process.
#[derive(Clone)]
pub struct OAuthServer {
    pub port: u16,
    shared: Arc<Shared>,
}

fn b64url(b: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(b)
}

impl OAuthServer {
    /// Starts on a free port, signing with the mail environment's key, with
    /// access tokens that live `lifetime`.
    pub fn start(mailenv_root: &Path, lifetime: Duration) -> OAuthServer {
        let env = std::fs::read_to_string(mailenv_root.join("env")).unwrap();
        let var = |k: &str| -> String {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} missing from the mail environment (restart it with the current scripts/mailenv.sh)"))
                .to_string()
        };
        let hex = std::fs::read_to_string(var("POSTDESK_MAILENV_OAUTH_KEY_HEX_FILE")).unwrap();
        let key = data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex.trim().as_bytes())
            .unwrap();
        OAuthServer::start_keyed(
            key,
            &var("POSTDESK_MAILENV_OAUTH_KID"),
            &var("POSTDESK_MAILENV_OAUTH_ISSUER"),
            lifetime,
        )
    }

    /// Starts with its own key, for tests without mail servers.
    pub fn start_keyed(key: Vec<u8>, kid: &str, issuer: &str, lifetime: Duration) -> OAuthServer {
        let shared = Arc::new(Shared {
            key,
            kid: kid.to_string(),
            issuer: issuer.to_string(),
            lifetime: Mutex::new(lifetime),
            inner: Mutex::default(),
            browser_user: Mutex::new(String::new()),
        });
        let app = axum::Router::new()
            .route("/device", post(device))
            .route("/token", post(token))
            .route("/authorize", get(authorize))
            .with_state(shared.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap().port()).unwrap();
                axum::serve(l, app).await.unwrap();
            });
        });
        OAuthServer {
            port: rx.recv().unwrap(),
            shared,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The `[oauth.NAME]` table for this server.
    pub fn account_toml(&self, name: &str, flow: &str) -> String {
        format!(
            r#"
[oauth.{name}]
provider = "custom"
client_id = "postdesk-test-client"
token_url = "{token}"
device_authorization_url = "{device}"
authorization_url = "{auth}"
flow = "{flow}"
scopes = ["mail"]
"#,
            token = self.url("/token"),
            device = self.url("/device"),
            auth = self.url("/authorize"),
        )
    }

    /// A valid access token for `email`, as the server would issue it.
    pub fn jwt(&self, email: &str, lifetime: Duration) -> String {
        self.shared.jwt(email, "mail", lifetime)
    }

    /// Tokens for `email` as a finished sign-in would give them:
    /// (access token, refresh token).
    pub fn grant(&self, email: &str) -> (String, String) {
        let mut i = self.shared.inner.lock().unwrap();
        let t = self.shared.tokens(&mut i, email, "mail");
        (
            t["access_token"].as_str().unwrap().to_string(),
            t["refresh_token"].as_str().unwrap().to_string(),
        )
    }

    /// The user approves the device code `user_code`, signing in as `email`.
    pub fn approve(&self, user_code: &str, email: &str) {
        let mut i = self.shared.inner.lock().unwrap();
        let d = i
            .devices
            .values_mut()
            .find(|d| d.user_code == user_code)
            .unwrap_or_else(|| panic!("no device code {user_code}"));
        d.approved_as = Some(email.to_string());
    }

    /// The user declines the device code.
    pub fn deny(&self, user_code: &str) {
        let mut i = self.shared.inner.lock().unwrap();
        if let Some(d) = i.devices.values_mut().find(|d| d.user_code == user_code) {
            d.denied = true;
        }
    }

    /// Who approves the next browser sign-in.
    pub fn browser_signs_in_as(&self, email: &str) {
        *self.shared.browser_user.lock().unwrap() = email.to_string();
    }

    /// Every refresh token of `email` stops working (consent revoked).
    pub fn revoke(&self, email: &str) {
        self.shared
            .inner
            .lock()
            .unwrap()
            .refresh
            .retain(|_, (e, _)| e != email);
    }

    pub fn set_lifetime(&self, lifetime: Duration) {
        *self.shared.lifetime.lock().unwrap() = lifetime;
    }

    pub fn counts<T>(&self, f: impl FnOnce(&Counts) -> T) -> T {
        f(&self.shared.inner.lock().unwrap().counts)
    }

    /// Every access and refresh token issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.shared.inner.lock().unwrap().issued.clone()
    }
}

impl Shared {
    fn jwt(&self, email: &str, scope: &str, lifetime: Duration) -> String {
        let now = postdesk::clock::Clock::now(&postdesk::clock::SystemClock).as_second() as u64;
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": self.kid});
        let mut jti = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut jti).unwrap();
        let claims = json!({
            "iss": self.issuer, "sub": email, "email": email, "scope": scope,
            "iat": now, "exp": now + lifetime.as_secs(), "jti": data_encoding::HEXLOWER.encode(&jti),
        });
        let signing = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.key);
        let sig = ring::hmac::sign(&key, signing.as_bytes());
        format!("{signing}.{}", b64url(sig.as_ref()))
    }

    fn random(&self, i: &mut Inner, what: &str) -> String {
        i.next += 1;
        let mut b = [0u8; 12];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).unwrap();
        format!("{what}-{}-{}", i.next, data_encoding::HEXLOWER.encode(&b))
    }

    /// A token response for `email`, with a new refresh token.
    fn tokens(&self, i: &mut Inner, email: &str, scope: &str) -> Value {
        let lifetime = *self.lifetime.lock().unwrap();
        let access = self.jwt(email, scope, lifetime);
        let refresh = self.random(i, "rt");
        i.refresh
            .insert(refresh.clone(), (email.to_string(), scope.to_string()));
        i.issued.push(access.clone());
        i.issued.push(refresh.clone());
        json!({
            "token_type": "Bearer", "access_token": access, "refresh_token": refresh,
            "expires_in": lifetime.as_secs(), "scope": scope,
        })
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": code, "error_description": format!("test server: {code}")})),
    )
        .into_response()
}

async fn device(State(s): State<Arc<Shared>>, Form(f): Form<HashMap<String, String>>) -> Response {
    if f.get("client_id").map(String::as_str) != Some("postdesk-test-client") {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let mut i = s.inner.lock().unwrap();
    i.counts.device_codes += 1;
    let device_code = s.random(&mut i, "dc");
    let user_code = format!("CODE-{}", i.next);
    i.devices.insert(
        device_code.clone(),
        Device {
            user_code: user_code.clone(),
            approved_as: None,
            denied: false,
            last_poll: None,
            expires: Instant::now() + Duration::from_secs(300),
            scope: f.get("scope").cloned().unwrap_or_default(),
        },
    );
    axum::Json(json!({
        "device_code": device_code, "user_code": user_code,
        "verification_uri": format!("http://127.0.0.1/device-login"),
        "expires_in": 300, "interval": 1,
    }))
    .into_response()
}

async fn token(State(s): State<Arc<Shared>>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut i = s.inner.lock().unwrap();
    match f.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            i.counts.polls += 1;
            let code = f.get("device_code").cloned().unwrap_or_default();
            let Some(d) = i.devices.get_mut(&code) else {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let now = Instant::now();
            let too_fast = d
                .last_poll
                .is_some_and(|l| now - l < Duration::from_millis(900));
            d.last_poll = Some(now);
            if now > d.expires {
                return error(StatusCode::BAD_REQUEST, "expired_token");
            }
            if d.denied {
                return error(StatusCode::BAD_REQUEST, "access_denied");
            }
            if too_fast {
                i.counts.slow_downs += 1;
                return error(StatusCode::BAD_REQUEST, "slow_down");
            }
            match d.approved_as.clone() {
                None => error(StatusCode::BAD_REQUEST, "authorization_pending"),
                Some(email) => {
                    let scope = d.scope.clone();
                    i.devices.remove(&code);
                    axum::Json(s.tokens(&mut i, &email, &scope)).into_response()
                }
            }
        }
        Some("refresh_token") => {
            i.counts.refreshes += 1;
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            // Rotation: the token is spent by this use.
            match i.refresh.remove(&rt) {
                Some((email, scope)) => {
                    axum::Json(s.tokens(&mut i, &email, &scope)).into_response()
                }
                None => {
                    i.counts.invalid_grants += 1;
                    error(StatusCode::BAD_REQUEST, "invalid_grant")
                }
            }
        }
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            let Some((email, scope, challenge, redirect)) = i.codes.remove(&code) else {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
            if b64url(digest.as_ref()) != challenge || f.get("redirect_uri") != Some(&redirect) {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            i.counts.codes_exchanged += 1;
            axum::Json(s.tokens(&mut i, &email, &scope)).into_response()
        }
        _ => error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

/// The user's browser at the authorization endpoint: approved at once as
/// [`OAuthServer::browser_signs_in_as`], sent back to the redirect.
async fn authorize(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    if q.get("code_challenge_method").map(String::as_str) != Some("S256")
        || !redirect.starts_with("http://127.0.0.1:")
    {
        return (
            StatusCode::BAD_REQUEST,
            "PKCE S256 and a loopback redirect are required",
        )
            .into_response();
    }
    let email = s.browser_user.lock().unwrap().clone();
    let mut i = s.inner.lock().unwrap();
    let code = s.random(&mut i, "ac");
    i.codes.insert(
        code.clone(),
        (
            email,
            q.get("scope").cloned().unwrap_or_default(),
            q.get("code_challenge").cloned().unwrap_or_default(),
            redirect.clone(),
        ),
    );
    let state = q.get("state").cloned().unwrap_or_default();
    Redirect::to(&format!("{redirect}?code={code}&state={state}")).into_response()
}
