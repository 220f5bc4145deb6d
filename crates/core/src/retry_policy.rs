//! What happens after an attempt (spec §7): delivered, retried at some time, or failed
//! for good. Pure: the engine hands in the attempt's result and the clock's time.

use crate::backoff::Backoff;
use crate::delivery_failure::DeliveryFailure;
use crate::log::HttpResponse;
use crate::message::Message;
use crate::retry_after::{parse_retry_after, RETRY_AFTER_HEADERS};
use crate::UnixMillis;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The destination answered (any status).
    Response(HttpResponse),
    /// No HTTP answer: timeout, refused connection, DNS, TLS …
    NoResponse(DeliveryFailure),
}

impl AttemptResult {
    pub fn response(&self) -> Option<&HttpResponse> {
        match self {
            AttemptResult::Response(r) => Some(r),
            AttemptResult::NoResponse(_) => None,
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, AttemptResult::Response(r) if (200..300).contains(&r.status))
    }

    /// The error text logged for a failed attempt.
    pub fn error_text(&self) -> Option<String> {
        match self {
            AttemptResult::Response(r) if (200..300).contains(&r.status) => None,
            AttemptResult::Response(r) => {
                Some(format!("destination answered with status {}", r.status))
            }
            AttemptResult::NoResponse(failure) => Some(failure.to_string()),
        }
    }
}

/// The decision after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    /// Try again at this time.
    RetryAt(UnixMillis),
    /// No attempt left, or the destination said not to retry: to the DLQ.
    Failed,
}

/// Decides what follows an attempt of `message` (whose `retried` counts the attempts
/// made *before* this one).
pub fn next_step(
    message: &Message,
    result: &AttemptResult,
    now: UnixMillis,
    backoff: &Backoff,
) -> NextStep {
    if result.is_success() {
        return NextStep::Delivered;
    }
    if let AttemptResult::Response(r) = result {
        if is_non_retryable(r) {
            return NextStep::Failed;
        }
    }
    if message.retried >= message.max_retries {
        return NextStep::Failed;
    }
    // `retried` in the expression is 0 before the first retry (spec §7).
    let delay_ms = result
        .response()
        .and_then(|r| server_chosen_delay(r, now))
        .unwrap_or_else(|| match &message.retry_delay {
            Some(expr) => expr.delay_ms(message.retried),
            None => {
                u64::try_from(backoff.delay(message.retried + 1).as_millis()).unwrap_or(u64::MAX)
            }
        });
    NextStep::RetryAt(now.saturating_add(delay_ms))
}

/// 489 with `Upstash-NonRetryable-Error: true` stops retries at once (spec §7).
fn is_non_retryable(response: &HttpResponse) -> bool {
    response.status == 489
        && header(response, "upstash-nonretryable-error")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// `Retry-After` and its rate-limit cousins, in the order of spec §7.
fn server_chosen_delay(response: &HttpResponse, now: UnixMillis) -> Option<u64> {
    RETRY_AFTER_HEADERS
        .iter()
        .find_map(|name| header(response, name).and_then(|v| parse_retry_after(v, now)))
}

fn header<'a>(response: &'a HttpResponse, lower_name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(lower_name))
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
}
