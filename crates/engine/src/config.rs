//! Tunables of the engine. Defaults are production values; tests shrink the backoff
//! unit and the retention times.

use std::time::Duration;

use depesha_core::backoff::Backoff;
use depesha_core::destination_policy::DestinationPolicy;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Requests in flight at once, over all users. As many more deliveries may be
    /// started and held in memory, prepared ahead of their due time or waiting for a
    /// free slot; beyond that, due messages wait in the store.
    pub max_in_flight: usize,
    /// Requests in flight at once to one destination (scheme, host and port), over
    /// all users: a destination that hangs holds no more slots than this.
    pub max_in_flight_per_destination: usize,
    /// Requests in flight at once for one user, over all destinations.
    pub max_in_flight_per_user: usize,
    /// How long opening a connection to a destination may take; the attempt's own
    /// timeout (`Upstash-Timeout`) covers the whole request.
    pub connect_timeout: Duration,
    /// The default retry backoff (spec §7), with its unit scalable for tests.
    pub backoff: Backoff,
    /// Timeout of an attempt whose message sets no `Upstash-Timeout`.
    pub default_timeout: Duration,
    /// How long a delivered message stays readable through `GET /v2/messages/{id}`.
    pub delivered_retention: Duration,
    /// How long DLQ entries are kept.
    pub dlq_retention: Duration,
    /// How long log entries are kept.
    pub log_retention: Duration,
    /// How much of a destination's response body is kept (DLQ, logs, callbacks).
    pub max_response_body: usize,
    /// How far ahead of now the dispatcher loads due messages into memory.
    pub lookahead: Duration,
    /// How often expired data is pruned.
    pub prune_interval: Duration,
    /// Which addresses deliveries may connect to; checked against the resolved
    /// addresses of every connection.
    pub destinations: DestinationPolicy,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_in_flight: 1024,
            max_in_flight_per_destination: 256,
            max_in_flight_per_user: 512,
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            default_timeout: Duration::from_secs(2 * 3600),
            delivered_retention: Duration::from_secs(3600),
            dlq_retention: Duration::from_secs(7 * 24 * 3600),
            log_retention: Duration::from_secs(7 * 24 * 3600),
            max_response_body: 256 * 1024,
            lookahead: Duration::from_millis(1000),
            prune_interval: Duration::from_secs(10),
            destinations: DestinationPolicy::allow_all(),
        }
    }
}
