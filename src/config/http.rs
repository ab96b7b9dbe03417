//! `[http]`: the optional listener for `/metrics`, `/healthz` and the
//! survey's rating links.

use super::reader::Node;
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Where to listen, e.g. `127.0.0.1:9187`.
    pub listen: SocketAddr,
    /// The address customers reach the listener at (behind a reverse
    /// proxy), without a trailing slash: surveys then carry rating links.
    pub public_url: Option<String>,
}

/// None when the table is absent (the listener is off) or wrong (a problem is recorded).
pub(super) fn read_http(n: &Node<'_>) -> Option<HttpConfig> {
    let listen = n
        .req_str("listen")
        .and_then(|s| match s.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                n.problem(
                    "listen",
                    format!(
                        r#"expected an IP address and port such as "127.0.0.1:9187", got {s:?}"#
                    ),
                );
                None
            }
        });
    let public_url = n.opt_str("public_url").and_then(|u| {
        let ok = (u.starts_with("https://") || u.starts_with("http://"))
            && !u.contains(char::is_whitespace);
        if !ok {
            n.problem(
                "public_url",
                format!(
                    r#"expected an address like "https://support.example.com/postdesk", got {u:?}"#
                ),
            );
        }
        ok.then(|| u.trim_end_matches('/').to_string())
    });
    n.finish();
    Some(HttpConfig {
        listen: listen?,
        public_url,
    })
}
