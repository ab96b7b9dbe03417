//! Talking to an OAuth2 provider, through the `oauth2` crate over reqwest
//! (rustls): the device authorization grant (RFC 8628) and the
//! authorization code grant with PKCE (RFC 7636) for `auth login`, and the
//! refresh grant. Each failure is sorted into "sign in again"
//! (the grant or the client was refused) and "try again later" (the
//! provider could not be reached or answered in a way that may pass).

use crate::config::{OAuthAccount, Provider};
use jiff::{SignedDuration, Timestamp};
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use std::time::Duration;

/// How long one request to the provider may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A token endpoint that does not say how long a token lasts: assume this.
const DEFAULT_LIFETIME: SignedDuration = SignedDuration::from_secs(3600);

/// Tokens as the provider gave them.
#[derive(Clone)]
pub struct Granted {
    pub access_token: String,
    pub expires_at: Timestamp,
    /// None when the provider kept the refresh token as it was.
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Granted")
            .field("expires_at", &self.expires_at)
            .field("rotated", &self.refresh_token.is_some())
            .finish()
    }
}

/// Why the provider gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The grant or the client was refused (`invalid_grant`: consent
    /// revoked, refresh token expired or already used; `invalid_client`):
    /// only a new sign-in helps.
    #[error("{0}")]
    Refused(String),
    /// The client or the configuration is wrong (`invalid_client`,
    /// `unauthorized_client`, `invalid_scope`, a bad URL or CA file): an
    /// admin has to act, but the grant itself may be fine, so it is not
    /// recorded as dead for every instance.
    #[error("{0}")]
    Misconfigured(String),
    /// The provider could not be reached, or failed: try again.
    #[error("{0}")]
    Unavailable(String),
}

/// How a token endpoint's error answer is taken.
#[derive(Clone, Copy)]
enum Class {
    Refused,
    Misconfigured,
    Unavailable,
}

type Client =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn bad(a: &OAuthAccount, what: &str, e: &dyn std::fmt::Display) -> ProviderError {
    ProviderError::Misconfigured(format!("oauth.{}.{what}: {e}", a.name))
}

/// The client, knowing the token endpoint (what a refresh needs).
fn client(a: &OAuthAccount) -> Result<Client, ProviderError> {
    let mut c = BasicClient::new(ClientId::new(a.client_id.clone()))
        .set_token_uri(TokenUrl::new(a.token_url.clone()).map_err(|e| bad(a, "token_url", &e))?);
    if let Some(s) = &a.client_secret {
        c = c.set_client_secret(ClientSecret::new(s.expose().to_string()));
    }
    Ok(c)
}

/// The HTTP client: no redirects (the oauth2 crate's advice: a redirect
/// could carry the client secret elsewhere), a timeout, the account's CA.
fn http(a: &OAuthAccount) -> Result<reqwest::Client, ProviderError> {
    crate::tls::install_crypto_provider();
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("postdesk/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &a.ca_file {
        let pem =
            std::fs::read(ca).map_err(|e| bad(a, "ca_file", &format!("{}: {e}", ca.display())))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| bad(a, "ca_file", &e))?;
        b = b.add_root_certificate(cert);
    }
    b.build()
        .map_err(|e| ProviderError::Unavailable(crate::error_chain(&e)))
}

fn granted(t: &BasicTokenResponse, now: Timestamp) -> Granted {
    let life = t
        .expires_in()
        .and_then(|d| SignedDuration::try_from(d).ok())
        .unwrap_or(DEFAULT_LIFETIME);
    Granted {
        access_token: t.access_token().secret().clone(),
        expires_at: now.checked_add(life).unwrap_or(now),
        refresh_token: t.refresh_token().map(|r| r.secret().clone()),
        scope: t
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
    }
}

/// Sorts an error of the token endpoint.
fn sorted<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    e: RequestTokenError<RE, T>,
    class: impl Fn(&T) -> Class,
) -> ProviderError {
    match &e {
        RequestTokenError::ServerResponse(r) => match class(r) {
            Class::Refused => ProviderError::Refused(server_words(r)),
            Class::Misconfigured => ProviderError::Misconfigured(server_words(r)),
            Class::Unavailable => ProviderError::Unavailable(server_words(r)),
        },
        RequestTokenError::Request(_) => ProviderError::Unavailable(format!(
            "cannot reach the provider: {}",
            crate::error_chain(&e)
        )),
        // Never echoed: a 2xx body may hold tokens.
        RequestTokenError::Parse(why, body) => ProviderError::Unavailable(format!(
            "the provider's answer ({} bytes) is not a token response: {}",
            body.len(),
            why.inner()
        )),
        RequestTokenError::Other(s) => ProviderError::Unavailable(s.clone()),
    }
}

/// `invalid_grant: AADSTS70000: ...` from an error response.
fn server_words<T: oauth2::ErrorResponse>(r: &T) -> String {
    // The error responses serialise as RFC 6749 §5.2 JSON.
    let v = serde_json::to_value(r).unwrap_or_default();
    let code = v.get("error").and_then(|e| e.as_str()).unwrap_or("error");
    match v.get("error_description").and_then(|d| d.as_str()) {
        Some(d) => format!("{code}: {}", d.lines().next().unwrap_or(d).trim()),
        None => code.to_string(),
    }
}

fn scopes(a: &OAuthAccount) -> impl Iterator<Item = Scope> + '_ {
    a.scopes.iter().map(|s| Scope::new(s.clone()))
}

/// A refresh with the stored refresh token.
pub async fn refresh(
    a: &OAuthAccount,
    refresh_token: &str,
    now: Timestamp,
) -> Result<Granted, ProviderError> {
    let c = client(a)?;
    let http = http(a)?;
    let refresh_token = RefreshToken::new(refresh_token.to_string());
    let mut req = c.exchange_refresh_token(&refresh_token);
    // Google keeps the scopes of the grant; Microsoft wants them named.
    if a.provider != Provider::Google {
        req = req.add_scopes(scopes(a));
    }
    let t = req.request_async(&http).await.map_err(|e| {
        sorted(e, |r| match r.error() {
            BasicErrorResponseType::InvalidGrant => Class::Refused,
            BasicErrorResponseType::InvalidClient
            | BasicErrorResponseType::UnauthorizedClient
            | BasicErrorResponseType::InvalidScope
            | BasicErrorResponseType::InvalidRequest
            | BasicErrorResponseType::UnsupportedGrantType => Class::Misconfigured,
            BasicErrorResponseType::Extension(_) => Class::Unavailable,
        })
    })?;
    Ok(granted(&t, now))
}

fn device_client(
    a: &OAuthAccount,
) -> Result<
    BasicClient<EndpointNotSet, EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet>,
    ProviderError,
> {
    let url = a
        .device_authorization_url
        .clone()
        .ok_or_else(|| bad(a, "device_authorization_url", &"is not set"))?;
    Ok(client(a)?.set_device_authorization_url(
        DeviceAuthorizationUrl::new(url).map_err(|e| bad(a, "device_authorization_url", &e))?,
    ))
}

type BrowserClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn browser_client(a: &OAuthAccount, redirect: &str) -> Result<BrowserClient, ProviderError> {
    let url = a
        .authorization_url
        .clone()
        .ok_or_else(|| bad(a, "authorization_url", &"is not set"))?;
    Ok(client(a)?
        .set_auth_uri(AuthUrl::new(url).map_err(|e| bad(a, "authorization_url", &e))?)
        .set_redirect_uri(
            RedirectUrl::new(redirect.to_string()).map_err(|e| bad(a, "redirect", &e))?,
        ))
}

/// The browser flow's first step: the address the user opens, the state
/// that must come back with the code, and the PKCE verifier.
pub struct Authorization {
    pub url: String,
    pub state: String,
    verifier: PkceCodeVerifier,
    redirect: String,
}

/// Builds the address to open; the provider sends the browser back to `redirect`.
pub fn authorization(a: &OAuthAccount, redirect: &str) -> Result<Authorization, ProviderError> {
    let c = browser_client(a, redirect)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = c
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes(a))
        .set_pkce_challenge(challenge);
    if a.provider == Provider::Google {
        // A refresh token, and again on a second sign-in.
        req = req
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent");
    }
    let (url, state) = req.url();
    Ok(Authorization {
        url: url.to_string(),
        state: state.secret().clone(),
        verifier,
        redirect: redirect.to_string(),
    })
}

/// The browser flow's last step: the code the provider sent back, for tokens.
pub async fn exchange_code(
    a: &OAuthAccount,
    auth: Authorization,
    code: &str,
    now: impl Fn() -> Timestamp,
) -> Result<Granted, ProviderError> {
    let c = browser_client(a, &auth.redirect)?;
    let http = http(a)?;
    let t = c
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(auth.verifier)
        .request_async(&http)
        .await
        .map_err(|e| sorted(e, |_| Class::Refused))?;
    Ok(granted(&t, now()))
}

/// What the user is asked to do to sign in.
pub struct DeviceCode {
    details: StandardDeviceAuthorizationResponse,
}

impl DeviceCode {
    pub fn verification_uri(&self) -> &str {
        self.details.verification_uri().as_str()
    }
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.details
            .verification_uri_complete()
            .map(|u| u.secret().as_str())
    }
    pub fn user_code(&self) -> &str {
        self.details.user_code().secret()
    }
    pub fn expires_in(&self) -> Duration {
        self.details.expires_in()
    }
}

/// Step 1 of the device grant: a code for the user to enter.
pub async fn device_code(a: &OAuthAccount) -> Result<DeviceCode, ProviderError> {
    let c = device_client(a)?;
    let http = http(a)?;
    let details: StandardDeviceAuthorizationResponse = c
        .exchange_device_code()
        .add_scopes(scopes(a))
        .request_async(&http)
        .await
        .map_err(|e| {
            sorted(e, |r| match r.error() {
                BasicErrorResponseType::Extension(_) => Class::Unavailable,
                _ => Class::Misconfigured,
            })
        })?;
    Ok(DeviceCode { details })
}

/// Step 2: polls the token endpoint at the interval the provider asks
/// (slower when it says `slow_down`) until the user approves, declines,
/// or the code expires.
pub async fn device_tokens(
    a: &OAuthAccount,
    code: &DeviceCode,
    now: impl Fn() -> Timestamp,
) -> Result<Granted, ProviderError> {
    let c = device_client(a)?;
    let http = http(a)?;
    let t = c
        .exchange_device_access_token(&code.details)
        .request_async(&http, tokio::time::sleep, Some(code.expires_in()))
        .await
        .map_err(|e| sorted(e, |_| Class::Refused))?;
    Ok(granted(&t, now()))
}
