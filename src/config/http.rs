//! `[http]`: the optional listener for `/metrics` and `/healthz`.

use super::reader::Node;
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Where to listen, e.g. `127.0.0.1:9187`.
    pub listen: SocketAddr,
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
    n.finish();
    Some(HttpConfig { listen: listen? })
}
