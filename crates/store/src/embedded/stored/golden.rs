//! Golden bytes: the exact encoding of one value of every record type, with every
//! optional part present. A change to a record type — or to a domain type that leaks
//! through a conversion — fails here, instead of silently changing the file format.
//! If the change is meant, it is a new record type and a new format version (see
//! `upgrade/`), not a new constant here.

use std::collections::BTreeMap;

use depesha_core::dlq::DlqEntry;
use depesha_core::flow_control::FlowControl;
use depesha_core::flow_key::FlowKey;
use depesha_core::keys::SigningKeys;
use depesha_core::log::{HttpResponse, LogEntry, LogState};
use depesha_core::message::{CallbackSpec, DeliveryOptions, Message, MessageState, Origin};
use depesha_core::queue::{Queue, QueueItem, QueuePosition};
use depesha_core::redact::Redaction;
use depesha_core::retry_delay::RetryDelay;
use depesha_core::schedule::Schedule;
use depesha_core::url_group::{Endpoint, UrlGroup};

use super::super::codec::{decode, decode_log, decode_message, encode, encode_log, encode_message};
use super::log::LogStateV1;
use super::message::{MessageStateV1, OriginV1};
use super::{DedupClaim, Record};
use crate::{Guard, Unit, Write};

fn headers() -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([("X-A".to_string(), vec!["1".to_string(), "2".to_string()])])
}

fn flow() -> FlowControl {
    FlowControl {
        key: "k".into(),
        parallelism: Some(2),
        rate: Some(3),
        period_secs: 4,
    }
}

fn callback(url: &str, inner: Option<Box<CallbackSpec>>) -> CallbackSpec {
    CallbackSpec {
        url: url.into(),
        options: DeliveryOptions {
            method: Some("PUT".into()),
            headers: headers(),
            retries: Some(5),
            retry_delay: Some(RetryDelay::parse("1000").expect("delay")),
            timeout_ms: Some(6),
            delay_ms: Some(7),
            flow_control: Some(flow()),
            callback: inner.clone(),
            failure_callback: inner,
        },
    }
}

fn message() -> Message {
    Message {
        id: "m".into(),
        user: "u".into(),
        url: "https://e/".into(),
        topic_name: Some("t".into()),
        endpoint_name: Some("e".into()),
        queue_name: Some("q".into()),
        schedule_id: Some("s".into()),
        method: "POST".into(),
        headers: headers(),
        body: b"hi".to_vec(),
        max_retries: 3,
        retried: 1,
        retry_delay: Some(RetryDelay::parse("pow(2, retried)").expect("delay")),
        timeout_ms: Some(1000),
        not_before: 10,
        created_at: 9,
        due: 300,
        callback: Some(callback(
            "https://c/",
            Some(Box::new(callback("https://cc/", None))),
        )),
        failure_callback: Some(callback("https://f/", None)),
        caller_ip: Some("127.0.0.1".into()),
        labels: vec!["l".into()],
        redaction: Redaction {
            body: true,
            all_headers: false,
            headers: vec!["X-A".into()],
        },
        flow_control: Some(flow()),
        dedup_id: Some("d".into()),
        origin: Origin::FailureCallback {
            source_message_id: "src".into(),
        },
        state: MessageState::Waiting,
        queue_item: Some(QueueItem {
            queue: "q".into(),
            position: QueuePosition {
                enqueued_at: 11,
                seq: 12,
            },
        }),
        expires_at: Some(400),
    }
}

fn response() -> HttpResponse {
    HttpResponse {
        status: 500,
        headers: headers(),
        body: b"no".to_vec(),
    }
}

fn log_entry() -> LogEntry {
    LogEntry {
        seq: 7,
        time: 1000,
        user: "u".into(),
        message_id: "m".into(),
        state: LogState::CancelRequested,
        url: "https://e/".into(),
        method: "POST".into(),
        topic_name: Some("t".into()),
        endpoint_name: Some("e".into()),
        queue_name: Some("q".into()),
        schedule_id: Some("s".into()),
        labels: vec!["l".into()],
        flow_control_key: Some("k".into()),
        caller_ip: Some("::1".into()),
        max_retries: 3,
        retry_delay_expr: Some("1000".into()),
        timeout_ms: Some(5),
        callback: Some("https://c/".into()),
        failure_callback: Some("https://f/".into()),
        header: Some(headers()),
        body: Some(b"b".to_vec()),
        response: Some(response()),
        error: Some("e".into()),
        next_delivery_time: Some(2000),
    }
}

fn dlq_entry() -> DlqEntry {
    DlqEntry {
        dlq_id: "100-1".into(),
        message: message(),
        response: Some(response()),
        error: Some("boom".into()),
        failed_at: 100,
        expires_at: 200,
    }
}

fn group() -> UrlGroup {
    UrlGroup {
        user: "u".into(),
        name: "g".into(),
        created_at: 1,
        updated_at: 2,
        endpoints: vec![
            Endpoint {
                name: Some("a".into()),
                url: "https://a/".into(),
            },
            Endpoint {
                name: None,
                url: "https://b/".into(),
            },
        ],
        default_headers: vec![("H".into(), "v".into())],
    }
}

fn queue() -> Queue {
    Queue {
        user: "u".into(),
        name: "q".into(),
        created_at: 1,
        updated_at: 2,
        parallelism: 3,
        paused: true,
    }
}

fn flow_key() -> FlowKey {
    FlowKey {
        user: "u".into(),
        key: "k".into(),
        parallelism: Some(1),
        rate: Some(2),
        period_secs: 3,
        paused: true,
        pinned_parallelism: false,
        pinned_rate: true,
        updated_at: 4,
    }
}

fn schedule() -> Schedule {
    Schedule {
        user: "u".into(),
        id: "s".into(),
        cron: "* * * * *".into(),
        destination: "https://d/".into(),
        headers: vec![("H".into(), "v".into())],
        body: b"b".to_vec(),
        queue_name: Some("q".into()),
        caller_ip: Some("::1".into()),
        created_at: 1,
        paused: false,
        last_schedule_time: Some(2),
        next_schedule_time: 3,
        last_message_ids: vec!["m".into()],
        last_results: vec![("m".into(), true)],
        error: Some("e".into()),
    }
}

/// One unit of every guard and write.
fn units() -> Vec<Unit> {
    let position = QueuePosition {
        enqueued_at: 1,
        seq: 2,
    };
    let u = || "u".to_string();
    let guards = [
        Guard::ClaimDedup {
            user: u(),
            key: "d".into(),
            message_ids: vec!["m".into()],
            expires_at: 5,
        },
        Guard::TakePendingMessage {
            user: u(),
            id: "m".into(),
        },
        Guard::MessageAt {
            user: u(),
            id: "m".into(),
            retried: 2,
        },
        Guard::TakeDlq {
            user: u(),
            dlq_id: "100-1".into(),
        },
        Guard::ScheduleAt {
            user: u(),
            id: "s".into(),
            next_schedule_time: 3,
        },
    ];
    let writes = vec![
        Write::PutMessage(message()),
        Write::DeleteMessage {
            user: u(),
            id: "m".into(),
        },
        Write::PutDlq(dlq_entry()),
        Write::AppendLog(log_entry()),
        Write::PutKeys {
            user: u(),
            keys: keys(),
        },
        Write::PutGroup(group()),
        Write::DeleteGroup {
            user: u(),
            name: "g".into(),
        },
        Write::PutQueue(queue()),
        Write::DeleteQueue {
            user: u(),
            name: "q".into(),
        },
        Write::PutQueueItem {
            user: u(),
            queue: "q".into(),
            position,
            holder: "m".into(),
        },
        Write::DeleteQueueItem {
            user: u(),
            queue: "q".into(),
            position,
        },
        Write::FillQueue {
            user: u(),
            queue: "q".into(),
            now: 9,
        },
        Write::PutFlowKey(flow_key()),
        Write::ReleaseWaiting {
            user: u(),
            key: "k".into(),
            count: 300,
            now: 9,
        },
        Write::PutSchedule(schedule()),
        Write::DeleteSchedule {
            user: u(),
            id: "s".into(),
        },
        Write::RecordScheduleResult {
            user: u(),
            schedule_id: "s".into(),
            message_id: "m".into(),
            delivered: true,
        },
    ];
    let mut units: Vec<Unit> = guards
        .into_iter()
        .map(|guard| Unit::guarded(guard, Vec::new()))
        .collect();
    units.push(Unit::new(writes));
    units
}

fn keys() -> SigningKeys {
    SigningKeys {
        current: "sig_a".into(),
        next: "sig_b".into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `value` encodes as `golden` (hex) and decodes back to itself.
fn pinned<T: Record + PartialEq + std::fmt::Debug>(value: T, golden: &str) {
    let bytes = encode(&value).expect("encode");
    assert_eq!(hex(&bytes), golden, "{value:?}");
    assert_eq!(decode::<T>(&bytes).expect("decode"), value);
}

#[test]
fn a_message_is_its_header_then_a_message_v1() {
    let (_, bytes) = encode_message(&message()).expect("encode");
    assert_eq!(hex(&bytes), MESSAGE);
    assert_eq!(decode_message(&bytes).expect("decode"), message());
}

#[test]
fn a_log_entry_is_its_time_then_a_log_entry_v1() {
    let bytes = encode_log(&log_entry()).expect("encode");
    assert_eq!(hex(&bytes), LOG);
    assert_eq!(decode_log(&bytes).expect("decode"), log_entry());
}

#[test]
fn plain_records_are_pinned() {
    pinned(dlq_entry(), DLQ);
    pinned(keys(), KEYS);
    pinned(group(), GROUP);
    pinned(queue(), QUEUE);
    pinned(flow_key(), FLOW_KEY);
    pinned(schedule(), SCHEDULE);
    pinned::<DedupClaim>((vec!["m".into()], 5), DEDUP);
}

#[test]
fn a_journal_payload_is_pinned() {
    pinned(units(), UNITS);
}

/// A stored enum's variant is written as its number, so the order of the variants is
/// part of the format; the values above show only one variant of each.
#[test]
fn stored_enum_variants_keep_their_numbers() {
    fn number<T: serde::Serialize>(value: T) -> u8 {
        postcard::to_allocvec(&value).expect("encode")[0]
    }
    use LogStateV1 as L;
    use MessageStateV1 as M;
    let states = [M::Pending, M::Delivered, M::Queued, M::Waiting].map(number);
    assert_eq!(states, [0, 1, 2, 3]);
    let log_states = [
        L::Created,
        L::Active,
        L::Retry,
        L::Error,
        L::Delivered,
        L::Failed,
        L::CancelRequested,
        L::Canceled,
    ]
    .map(number);
    assert_eq!(log_states, [0, 1, 2, 3, 4, 5, 6, 7]);
    let source = || "m".to_string();
    let origins = [
        OriginV1::Publish,
        OriginV1::Callback {
            source_message_id: source(),
        },
        OriginV1::FailureCallback {
            source_message_id: source(),
        },
    ]
    .map(number);
    assert_eq!(origins, [0, 1, 2]);
}

// The bytes, as format 3 wrote the same values (checked against the domain types'
// own encoding when these were written).
const MESSAGE: &str = concat!(
    "020300000001000000000000012c010000000000000190016d01750a68747470733a2f2f652f0101",
    "7401016501017101017304504f53540103582d4102013101320268690301010f706f7728322c2072",
    "6574726965642901e8070a09ac02010a68747470733a2f2f632f01035055540103582d4102013101",
    "3201050104313030300106010701016b0102010304010b68747470733a2f2f63632f010350555401",
    "03582d41020131013201050104313030300106010701016b01020103040000010b68747470733a2f",
    "2f63632f01035055540103582d41020131013201050104313030300106010701016b010201030400",
    "00010a68747470733a2f2f662f01035055540103582d410201310132010501043130303001060107",
    "01016b0102010304000001093132372e302e302e3101016c01000103582d4101016b010201030401",
    "01640203737263030101710b0c019003",
);
const LOG: &str = concat!(
    "00000000000003e807e8070175016d060a68747470733a2f2f652f04504f53540101740101650101",
    "7101017301016c01016b01033a3a31030104313030300105010a68747470733a2f2f632f010a6874",
    "7470733a2f2f662f010103582d41020131013201016201f4030103582d410201310132026e6f0101",
    "6501d00f",
);
const DLQ: &str = concat!(
    "053130302d31016d01750a68747470733a2f2f652f01017401016501017101017304504f53540103",
    "582d4102013101320268690301010f706f7728322c20726574726965642901e8070a09ac02010a68",
    "747470733a2f2f632f01035055540103582d41020131013201050104313030300106010701016b01",
    "02010304010b68747470733a2f2f63632f01035055540103582d4102013101320105010431303030",
    "0106010701016b01020103040000010b68747470733a2f2f63632f01035055540103582d41020131",
    "013201050104313030300106010701016b01020103040000010a68747470733a2f2f662f01035055",
    "540103582d41020131013201050104313030300106010701016b0102010304000001093132372e30",
    "2e302e3101016c01000103582d4101016b01020103040101640203737263030101710b0c01900301",
    "f4030103582d410201310132026e6f0104626f6f6d64c801",
);
const KEYS: &str = "057369675f61057369675f62";
const GROUP: &str = "017501670102020101610a68747470733a2f2f612f000a68747470733a2f2f622f0101480176";
const QUEUE: &str = "0175017101020301";
const FLOW_KEY: &str = "0175016b010101020301000104";
const SCHEDULE: &str = concat!(
    "01750173092a202a202a202a202a0a68747470733a2f2f642f0101480176016201017101033a3a31",
    "010001020301016d01016d01010165",
);
const DEDUP: &str = "01016d05";
const UNITS: &str = concat!(
    "0601000175016401016d050001010175016d0001020175016d020001030175053130302d31000104",
    "017501730300001100016d01750a68747470733a2f2f652f01017401016501017101017304504f53",
    "540103582d4102013101320268690301010f706f7728322c20726574726965642901e8070a09ac02",
    "010a68747470733a2f2f632f01035055540103582d41020131013201050104313030300106010701",
    "016b0102010304010b68747470733a2f2f63632f01035055540103582d4102013101320105010431",
    "3030300106010701016b01020103040000010b68747470733a2f2f63632f01035055540103582d41",
    "020131013201050104313030300106010701016b01020103040000010a68747470733a2f2f662f01",
    "035055540103582d41020131013201050104313030300106010701016b0102010304000001093132",
    "372e302e302e3101016c01000103582d4101016b01020103040101640203737263030101710b0c01",
    "9003010175016d02053130302d31016d01750a68747470733a2f2f652f0101740101650101710101",
    "7304504f53540103582d4102013101320268690301010f706f7728322c20726574726965642901e8",
    "070a09ac02010a68747470733a2f2f632f01035055540103582d4102013101320105010431303030",
    "0106010701016b0102010304010b68747470733a2f2f63632f01035055540103582d410201310132",
    "01050104313030300106010701016b01020103040000010b68747470733a2f2f63632f0103505554",
    "0103582d41020131013201050104313030300106010701016b01020103040000010a68747470733a",
    "2f2f662f01035055540103582d41020131013201050104313030300106010701016b010201030400",
    "0001093132372e302e302e3101016c01000103582d4101016b010201030401016402037372630301",
    "01710b0c01900301f4030103582d410201310132026e6f0104626f6f6d64c8010307e8070175016d",
    "060a68747470733a2f2f652f04504f535401017401016501017101017301016c01016b01033a3a31",
    "030104313030300105010a68747470733a2f2f632f010a68747470733a2f2f662f010103582d4102",
    "0131013201016201f4030103582d410201310132026e6f01016501d00f040175057369675f610573",
    "69675f6205017501670102020101610a68747470733a2f2f612f000a68747470733a2f2f622f0101",
    "4801760601750167070175017101020301080175017109017501710102016d0a0175017101020b01",
    "750171090c0175016b0101010203010001040d0175016bac02090e01750173092a202a202a202a20",
    "2a0a68747470733a2f2f642f0101480176016201017101033a3a31010001020301016d01016d0101",
    "01650f017501731001750173016d01",
);
