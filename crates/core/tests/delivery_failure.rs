//! The text a tenant reads for an attempt without an HTTP answer: the log line's and
//! the callback's `error`. It is stored, so each kind keeps its wording.

use std::time::Duration;

use depesha_core::delivery_failure::DeliveryFailure;
use depesha_core::destination_policy::Refusal;
use depesha_core::retry_policy::AttemptResult;

#[test]
fn each_kind_of_failure_reads_as_it_is_stored() {
    let cases = [
        (
            DeliveryFailure::InvalidMethod("GE T".into()),
            "invalid method GE T",
        ),
        (
            DeliveryFailure::InvalidRequest("relative URL without a base".into()),
            "request to the destination failed: relative URL without a base",
        ),
        (
            DeliveryFailure::Refused(Refusal {
                host: "127.0.0.1".into(),
                reason: "loopback address".into(),
            }),
            "destination 127.0.0.1 is not allowed: loopback address; see allow_destinations",
        ),
        (
            DeliveryFailure::RefusedResolved(Refusal {
                host: "localhost".into(),
                reason: "it resolves to 127.0.0.1, a loopback address".into(),
            }),
            "could not connect to the destination: destination localhost is not allowed: it resolves to 127.0.0.1, a loopback address; see allow_destinations",
        ),
        (
            DeliveryFailure::Connect("Connection refused (os error 111)".into()),
            "could not connect to the destination: Connection refused (os error 111)",
        ),
        (
            DeliveryFailure::Timeout {
                after: Duration::from_millis(2500),
            },
            "the destination did not answer within 2.5s (timeout)",
        ),
        (
            DeliveryFailure::Timeout {
                after: Duration::from_secs(30),
            },
            "the destination did not answer within 30s (timeout)",
        ),
        (
            DeliveryFailure::Request("connection reset by peer".into()),
            "request to the destination failed: connection reset by peer",
        ),
    ];
    for (failure, text) in cases {
        assert_eq!(failure.to_string(), text, "{failure:?}");
    }
}

#[test]
fn a_failed_attempt_logs_the_failure_text() {
    let result = AttemptResult::NoResponse(DeliveryFailure::Timeout {
        after: Duration::from_secs(1),
    });
    assert_eq!(result.response(), None);
    assert!(!result.is_success());
    assert_eq!(
        result.error_text().as_deref(),
        Some("the destination did not answer within 1s (timeout)")
    );
}
