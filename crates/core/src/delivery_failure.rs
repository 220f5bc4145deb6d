//! Why a delivery attempt got no HTTP answer. The engine says which kind of failure it
//! was; the text a tenant reads (the log line's `error`, a callback's `error`, the DLQ
//! entry's last error) is this type's `Display`, written in one place.

use std::time::Duration;

use crate::destination_policy::Refusal;

/// An attempt that ended without an HTTP answer. It counts as an attempt, and is
/// retried like a 5xx answer (spec §7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryFailure {
    /// The stored method is not an HTTP method.
    #[error("invalid method {0}")]
    InvalidMethod(String),
    /// The HTTP client could not build a request from the message (its URL, mostly):
    /// the cause as the client gives it.
    #[error("request to the destination failed: {0}")]
    InvalidRequest(String),
    /// The destination policy refuses the literal address in the URL, checked before
    /// sending (the message may have been accepted before the policy changed).
    #[error("{0}")]
    Refused(Refusal),
    /// The URL's name resolves only to addresses the destination policy refuses
    /// (found while connecting, so the text says so as it always has).
    #[error("could not connect to the destination: {0}")]
    RefusedResolved(Refusal),
    /// No connection opened: refused, unreachable, a name that does not resolve, a
    /// failed TLS handshake, or the connect timeout ran out. The innermost cause, as
    /// the client gives it.
    #[error("could not connect to the destination: {0}")]
    Connect(String),
    /// The connection opened but no answer came within the attempt's timeout.
    #[error("the destination did not answer within {}s (timeout)", .after.as_secs_f64())]
    Timeout { after: Duration },
    /// The request failed once the connection was open (reset, malformed answer …).
    #[error("request to the destination failed: {0}")]
    Request(String),
}
