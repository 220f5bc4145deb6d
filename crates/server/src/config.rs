//! What the server needs to know to run. The `depesha` binary builds it from flags,
//! a TOML file and `DEPESHA_*` variables; tests build it directly.

use std::time::Duration;

use depesha_core::destination_policy::DestinationPolicy;
use depesha_core::keys::SigningKeys;
use depesha_core::publish::PublishLimits;
use depesha_engine::EngineConfig;

/// One tenant: a token and what it sees (spec Appendix B).
#[derive(Debug, Clone)]
pub struct UserConfig {
    /// Stable id under which the user's data is stored. Changing a token keeps the data.
    pub id: String,
    pub token: String,
    /// Fixed signing keys (the dev users); `None` → generated on first start, then kept.
    pub keys: Option<SigningKeys>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub users: Vec<UserConfig>,
    /// Largest request body accepted (publish body, batch JSON).
    pub max_body_bytes: usize,
    pub limits: PublishLimits,
    /// How long a deduplication id (or content hash) suppresses repeats, in ms.
    pub dedup_window_ms: u64,
    pub engine: EngineConfig,
    /// What one client connection may hold and for how long.
    pub connections: ConnectionLimits,
}

/// Bounds on client connections, so that clients that send slowly, send half a
/// request or never send at all cannot keep the server's sockets and file handles
/// from everybody else (see `docs/security-connections.md`).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// The whole request head (request line and headers) must arrive within this
    /// long, counted from the connection's start or from the first byte of the head.
    pub header_timeout: Duration,
    /// The whole request body must arrive within this long after its head; a body
    /// still incomplete then is answered 408 and its connection closed.
    pub body_timeout: Duration,
    /// A kept-alive connection with no request under way is closed after this long.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the kernel's listen backlog.
    pub max_connections: usize,
    /// Largest request head (request line and headers) answered with a JSON error
    /// rather than refused by the HTTP parser itself.
    pub max_header_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_header_bytes: 64 * 1024,
        }
    }
}

impl ServerConfig {
    /// Defaults for everything but the users. The store is not the server's concern:
    /// whoever starts it (the `depesha` binary, a test) opens one and hands it over.
    pub fn new(users: Vec<UserConfig>) -> Self {
        ServerConfig {
            users,
            max_body_bytes: 10 * 1024 * 1024,
            limits: PublishLimits::default(),
            dedup_window_ms: 10 * 60 * 1000,
            engine: EngineConfig::default(),
            connections: ConnectionLimits::default(),
        }
    }

    /// Where deliveries may go. One setting, two readers: publishing refuses URLs the
    /// policy refuses (400), and the engine checks every connection against it.
    pub fn set_destination_policy(&mut self, policy: DestinationPolicy) {
        self.limits.destinations = policy.clone();
        self.engine.destinations = policy;
    }
}
