"""Retries, the DLQ and callbacks (spec §3.5, §7, §8, §11.3–4, §11.9)."""

from __future__ import annotations

import json

import pytest
from qstash.errors import QStashError

from depesha_helpers import (
    Reply,
    b64decode_any,
    eventually,
    fresh,
    now_ms,
    raw_request,
    verify_with,
)

USER = 2

FAST = "100"  # Upstash-Retry-Delay: 100 ms between attempts


def keys_of(user):
    return (user.current_signing_key, user.next_signing_key)


def dlq_entry(qstash, message_id):
    """Poll GET /v2/dlq?messageId= until the message's entry shows up."""
    res = eventually(
        lambda: qstash.dlq.list(filter={"message_id": message_id}).messages,
        what=f"DLQ entry for {message_id}",
    )
    assert len(res) == 1, f"one DLQ entry per failed message, got {res!r}"
    assert res[0].message_id == message_id
    return res[0]


def dlq_by_label(qstash, label, n):
    return eventually(
        lambda: (lambda m: m if len(m) >= n else None)(
            qstash.dlq.list(filter={"label": label}).messages
        ),
        what=f"{n} DLQ entries labelled {label}",
    )


def is_404(fn):
    try:
        fn()
    except QStashError as e:
        if "status: 404" in str(e):
            return True
        raise
    return False


# --------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------


def test_500_is_retried_then_dead_lettered(qstash, user, receiver):
    dest = receiver.url("/fails?k=1")
    receiver.on("/fails", Reply(500, "boom-body", {"X-Reason": "testing"}))
    t0 = now_ms()
    res = qstash.message.publish_json(
        url=dest, body={"will": "fail"}, retries=2, retry_delay=FAST,
        headers={"X-Fwd": "f"},
    )

    attempts = receiver.wait_for(3, "/fails")
    assert [a.header("Upstash-Retried") for a in attempts] == ["0", "1", "2"]
    for a in attempts:
        assert a.header("Upstash-Message-Id") == res.message_id
        assert a.body == b'{"will": "fail"}'
        assert a.header("X-Fwd") == "f"
        verify_with(keys_of(user), a.header("Upstash-Signature"), a.body, dest)

    entry = dlq_entry(qstash, res.message_id)
    assert entry.dlq_id
    assert entry.url == dest
    assert entry.method == "POST"
    assert entry.max_retries == 2
    assert entry.response_status == 500
    assert entry.response_body == "boom-body"
    assert entry.response_headers is not None
    assert entry.response_headers.get("X-Reason") == ["testing"]
    assert entry.body == '{"will": "fail"}'
    assert entry.headers and entry.headers.get("X-Fwd") == ["f"]
    assert entry.retry_delay_expression == FAST
    assert t0 - 1000 <= entry.created_at <= now_ms()
    assert isinstance(entry.not_before, int)
    # 1 + retries attempts, then no more
    receiver.assert_stays(3, "/fails")


def test_dlq_get_returns_the_entry(qstash, receiver):
    receiver.on("/g", Reply(500, "get-me"))
    res = qstash.message.publish(url=receiver.url("/g"), body="raw", retries=0)
    listed = dlq_entry(qstash, res.message_id)
    got = qstash.dlq.get(listed.dlq_id)
    assert got.dlq_id == listed.dlq_id
    assert got.message_id == res.message_id
    assert got.response_status == 500
    assert got.response_body == "get-me"
    assert got.body == "raw"
    assert got.max_retries == 0


def test_dlq_get_unknown_is_404(qstash):
    assert is_404(lambda: qstash.dlq.get("1700000000000-0"))


def test_dlq_paging_with_count_and_cursor(qstash, receiver):
    label = fresh("page")
    receiver.on("/p", Reply(500, "x"))
    ids = {
        qstash.message.publish_json(url=receiver.url("/p"), body={"i": i}, retries=0, label=label).message_id
        for i in range(3)
    }
    dlq_by_label(qstash, label, 3)

    page1 = qstash.dlq.list(count=2, filter={"label": label})
    assert len(page1.messages) == 2
    assert page1.cursor, "a cursor must be returned while more entries remain"
    page2 = qstash.dlq.list(count=2, cursor=page1.cursor, filter={"label": label})
    assert len(page2.messages) == 1
    assert page2.cursor is None, "spec §2.3: cursor absent on the last page"
    seen = [m.message_id for m in page1.messages + page2.messages]
    assert sorted(seen) == sorted(ids), "paging lost or repeated entries"

    everything = qstash.dlq.list(filter={"label": label})
    assert len(everything.messages) == 3 and everything.cursor is None


def test_dlq_delete_then_404(qstash, receiver):
    receiver.on("/del", Reply(500))
    res = qstash.message.publish(url=receiver.url("/del"), body="d", retries=0)
    entry = dlq_entry(qstash, res.message_id)

    qstash.dlq.delete(entry.dlq_id)

    assert is_404(lambda: qstash.dlq.get(entry.dlq_id))
    assert is_404(lambda: qstash.dlq.delete(entry.dlq_id)), "Appendix B: second delete → 404"
    assert qstash.dlq.list(filter={"message_id": res.message_id}).messages == []


def test_dlq_delete_many(qstash, receiver):
    label = fresh("many")
    receiver.on("/dm", Reply(500))
    for i in range(3):
        qstash.message.publish(url=receiver.url("/dm"), body=str(i), retries=0, label=label)
    entries = dlq_by_label(qstash, label, 3)
    doomed = [e.dlq_id for e in entries[:2]]

    assert qstash.dlq.delete_many(doomed) == 2

    left = qstash.dlq.list(filter={"label": label}).messages
    assert [e.dlq_id for e in left] == [entries[2].dlq_id]
    assert qstash.dlq.delete_many(doomed) == 0
    assert qstash.dlq.delete_many([entries[2].dlq_id]) == 1


def test_other_tenant_cannot_see_dlq_entry(qstash, client_for, receiver):
    receiver.on("/mine", Reply(500))
    res = qstash.message.publish(url=receiver.url("/mine"), body="m", retries=0)
    entry = dlq_entry(qstash, res.message_id)
    other = client_for(3)
    assert is_404(lambda: other.dlq.get(entry.dlq_id))
    assert other.dlq.list(filter={"message_id": res.message_id}).messages == []
    assert other.dlq.delete_many([entry.dlq_id]) == 0
    assert qstash.dlq.get(entry.dlq_id).dlq_id == entry.dlq_id


def test_489_with_non_retryable_header_goes_straight_to_dlq(qstash, receiver):
    receiver.on("/nr", Reply(489, "give up", {"Upstash-NonRetryable-Error": "true"}))
    res = qstash.message.publish_json(
        url=receiver.url("/nr"), body={}, retries=3, retry_delay=FAST
    )
    entry = dlq_entry(qstash, res.message_id)
    assert entry.response_status == 489
    assert entry.response_body == "give up"
    receiver.assert_stays(1, "/nr")


def test_489_without_the_header_is_retried(qstash, receiver):
    receiver.on("/489", Reply(489, "plain 489"))
    res = qstash.message.publish_json(
        url=receiver.url("/489"), body={}, retries=1, retry_delay=FAST
    )
    attempts = receiver.wait_for(2, "/489")
    assert [a.header("Upstash-Retried") for a in attempts] == ["0", "1"]
    assert dlq_entry(qstash, res.message_id).response_status == 489


def test_retry_after_is_honoured(qstash, receiver):
    # The retry-delay expression alone would wait 60 s; Retry-After: 1 wins (§7).
    receiver.on("/ra", Reply(503, "busy", {"Retry-After": "1"}), Reply(200, "fine"))
    res = qstash.message.publish_json(
        url=receiver.url("/ra"), body={}, retries=2, retry_delay="60000"
    )
    first, second = receiver.wait_for(2, "/ra")
    assert second.header("Upstash-Retried") == "1"
    assert second.header("Upstash-Message-Id") == res.message_id
    assert second.at - first.at >= 0.8, "retried before Retry-After elapsed"
    receiver.assert_stays(2, "/ra")
    assert qstash.dlq.list(filter={"message_id": res.message_id}).messages == []


def test_retry_delay_expression_uses_retried(qstash, receiver):
    receiver.on("/expr", Reply(500))
    qstash.message.publish_json(
        url=receiver.url("/expr"), body={}, retries=2, retry_delay="500 + 1000 * retried"
    )
    a0, a1, a2 = receiver.wait_for(3, "/expr")
    assert a1.at - a0.at >= 0.45, "first retry waits 500 + 1000*0 ms"
    assert a2.at - a1.at >= 1.45, "second retry waits 500 + 1000*1 ms"


def test_default_backoff_retries_without_expression(depesha, qstash, receiver):
    if not depesha.started_here:
        pytest.skip("relies on DEPESHA_BACKOFF_UNIT_MS=20 set by the fixture")
    receiver.on("/backoff", Reply(500), Reply(200))
    res = qstash.message.publish_json(url=receiver.url("/backoff"), body={}, retries=1)
    a0, a1 = receiver.wait_for(2, "/backoff")
    assert a1.header("Upstash-Retried") == "1"
    assert a1.header("Upstash-Message-Id") == res.message_id


def test_timeout_counts_as_failed_attempt(qstash, receiver):
    receiver.on("/slow", Reply(200, "too late", delay=4.0))
    res = qstash.message.publish_json(url=receiver.url("/slow"), body={}, retries=0, timeout="1s")
    dlq_entry(qstash, res.message_id)
    assert len(receiver.requests("/slow")) == 1


# --------------------------------------------------------------------------
# Callbacks (§8)
# --------------------------------------------------------------------------


def test_callback_after_each_attempt(qstash, user, receiver):
    dest, cb = receiver.url("/src"), receiver.url("/callback?who=cb")
    receiver.on("/src", Reply(500, "first fails"), Reply(200, "second ok", {"X-Resp": "r"}))
    body = {"callback": "me"}
    res = qstash.message.publish_json(
        url=dest,
        body=body,
        retries=2,
        retry_delay=FAST,
        callback=cb,
        callback_headers={"Upstash-Callback-Forward-X-Cb": "cbv"},
    )
    receiver.wait_for(2, "/src")
    calls = receiver.wait_for(2, "/callback")
    parsed = sorted(((c.json(), c) for c in calls), key=lambda p: p[0].get("retried", 0))

    for (doc, req), (status, resp_body, retried) in zip(
        parsed, [(500, "first fails", 0), (200, "second ok", 1)]
    ):
        assert req.method == "POST"
        assert req.path == "/callback?who=cb"
        assert doc["status"] == status
        assert doc.get("retried", 0) == retried
        assert doc["maxRetries"] == 2
        assert doc["sourceMessageId"] == res.message_id
        assert doc["url"] == dest
        assert doc.get("method", "POST") == "POST"
        assert b64decode_any(doc["sourceBody"]) == json.dumps(body).encode()
        assert b64decode_any(doc["body"]) == resp_body.encode()
        assert isinstance(doc.get("header", {}), dict)
        # the callback is its own signed message (sub = callback URL)
        assert req.header("X-Cb") == "cbv"
        assert req.header("Upstash-Message-Id")
        assert req.header("Upstash-Message-Id") != res.message_id
        verify_with(keys_of(user), req.header("Upstash-Signature"), req.body, cb)
    assert parsed[1][0]["header"].get("X-Resp") == ["r"]
    receiver.assert_stays(2, "/callback")


def test_failure_callback_after_final_failure(qstash, user, receiver):
    dest, fcb = receiver.url("/always500"), receiver.url("/failure")
    receiver.on("/always500", Reply(500, "nope"))
    res = qstash.message.publish_json(
        url=dest,
        body={"f": "cb"},
        retries=1,
        retry_delay=FAST,
        failure_callback=fcb,
        failure_callback_headers={"Upstash-Failure-Callback-Forward-X-Fail": "fv"},
    )
    receiver.wait_for(2, "/always500")
    (req,) = receiver.wait_for(1, "/failure")
    doc = req.json()
    entry = dlq_entry(qstash, res.message_id)

    assert doc["dlqId"] == entry.dlq_id
    assert doc["status"] == 500
    assert b64decode_any(doc["body"]) == b"nope"
    assert doc["sourceMessageId"] == res.message_id
    assert doc["url"] == dest
    assert doc["maxRetries"] == 1
    assert doc.get("retried", 0) == 1, "the final attempt has retried == maxRetries"
    assert b64decode_any(doc["sourceBody"]) == b'{"f": "cb"}'
    assert req.method == "POST"
    assert req.header("X-Fail") == "fv"
    verify_with(keys_of(user), req.header("Upstash-Signature"), req.body, fcb)
    receiver.assert_stays(1, "/failure")


def test_failure_callback_not_fired_on_success(qstash, receiver):
    qstash.message.publish_json(
        url=receiver.url("/ok"), body={}, retries=1, retry_delay=FAST,
        failure_callback=receiver.url("/never"),
    )
    receiver.wait_for(1, "/ok")
    receiver.assert_stays(0, "/never")


# --------------------------------------------------------------------------
# DLQ retry (§3.5; not in the Python SDK, so raw HTTP as the JS SDK / curl do)
# --------------------------------------------------------------------------


def test_dlq_retry_one_republishes_and_removes_entry(depesha, user, qstash, receiver):
    dest = receiver.url("/retry-one")
    receiver.on("/retry-one", Reply(500, "not yet"), Reply(200, "now ok"))
    res = qstash.message.publish(
        url=dest, body="again", retries=0, content_type="text/plain",
        headers={"X-Keep": "k"},
    )
    entry = dlq_entry(qstash, res.message_id)

    r = raw_request("POST", f"{depesha.url}/v2/dlq/retry/{entry.dlq_id}", token=user.token)
    assert 200 <= r.status < 300, r
    new_id = r.json()["messageId"]
    assert new_id != res.message_id, "a retry is a new message"

    first, second = receiver.wait_for(2, "/retry-one")
    assert second.header("Upstash-Message-Id") == new_id
    assert second.body == b"again"
    assert second.header("Content-Type") == "text/plain"
    assert second.header("X-Keep") == "k"
    verify_with(keys_of(user), second.header("Upstash-Signature"), second.body, dest)

    assert is_404(lambda: qstash.dlq.get(entry.dlq_id))
    assert is_404(lambda: qstash.dlq.delete(entry.dlq_id)), "retried entry is gone → 404"


def test_dlq_bulk_retry_by_ids(depesha, user, qstash, receiver):
    label = fresh("bulkretry")
    receiver.on("/br", Reply(500), Reply(500), Reply(200))
    for i in range(2):
        qstash.message.publish(url=receiver.url("/br"), body=str(i), retries=0, label=label)
    entries = dlq_by_label(qstash, label, 2)
    ids = "&".join(f"dlqIds={e.dlq_id}" for e in entries)

    r = raw_request("POST", f"{depesha.url}/v2/dlq/retry?{ids}", token=user.token)
    assert 200 <= r.status < 300, r
    doc = r.json()
    assert isinstance(doc.get("responses"), list) and len(doc["responses"]) == 2
    new_ids = {x["messageId"] for x in doc["responses"]}
    got = receiver.wait_for(4, "/br")
    assert {g.header("Upstash-Message-Id") for g in got[2:]} == new_ids
    assert qstash.dlq.list(filter={"label": label}).messages == []


# --------------------------------------------------------------------------
# DLQ wire shapes the SDKs depend on (§2.3)
# --------------------------------------------------------------------------


def test_dlq_last_page_has_no_cursor_key_and_empty_is_array(depesha, user, qstash, receiver):
    label = fresh("wire")
    receiver.on("/w", Reply(500))
    for i in range(2):
        qstash.message.publish(url=receiver.url("/w"), body=str(i), retries=0, label=label)
    dlq_by_label(qstash, label, 2)

    r = raw_request("GET", f"{depesha.url}/v2/dlq?label={label}&count=1", token=user.token)
    assert r.status == 200, r
    assert len(r.json()["messages"]) == 1 and r.json().get("cursor"), r
    r2 = raw_request(
        "GET", f"{depesha.url}/v2/dlq?label={label}&count=1&cursor={r.json()['cursor']}",
        token=user.token,
    )
    doc = r2.json()
    assert len(doc["messages"]) == 1
    assert "cursor" not in doc, f"cursor must be absent (not null/\"\") on the last page: {doc}"

    none = raw_request("GET", f"{depesha.url}/v2/dlq?label={fresh('nomatch')}", token=user.token).json()
    assert none["messages"] == [] and "cursor" not in none, none


def test_dlq_bulk_delete_by_query_filter(depesha, user, qstash, receiver):
    label = fresh("bulkdel")
    receiver.on("/bd", Reply(500))
    for i in range(2):
        qstash.message.publish(url=receiver.url("/bd"), body=str(i), retries=0, label=label)
    dlq_by_label(qstash, label, 2)

    r = raw_request("DELETE", f"{depesha.url}/v2/dlq?label={label}", token=user.token)
    assert r.status == 200, r
    doc = r.json()
    assert doc["deleted"] == 2 and "cursor" not in doc, doc
    assert qstash.dlq.list(filter={"label": label}).messages == []

    again = raw_request("DELETE", f"{depesha.url}/v2/dlq?label={label}", token=user.token).json()
    assert again == {"deleted": 0}, again


# --------------------------------------------------------------------------
# Retry-After value forms (§7)
# --------------------------------------------------------------------------


def _http_date(seconds_from_now):
    from email.utils import formatdate
    import time as _t

    return formatdate(_t.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    "value,min_gap",
    [
        ("2", 1.8),  # seconds
        ("2s", 1.8),  # Go-style duration
        ("1500ms", 1.3),  # Go-style duration, ms
        (None, 0.5),  # RFC 1123 date ~2-3 s ahead (second granularity)
    ],
)
def test_retry_after_forms(qstash, receiver, value, min_gap):
    ra = value if value is not None else _http_date(3)
    receiver.on("/raf", Reply(429, "slow down", {"Retry-After": ra}), Reply(200))
    qstash.message.publish_json(url=receiver.url("/raf"), body={}, retries=1, retry_delay="60000")
    first, second = receiver.wait_for(2, "/raf")
    assert second.at - first.at >= min_gap, f"Retry-After {ra!r} not honoured"


def test_retry_after_beyond_a_day_is_ignored(qstash, receiver):
    # §7: values beyond 1 day are ignored and the normal delay applies
    receiver.on("/far", Reply(503, "", {"Retry-After": str(3 * 86400)}), Reply(200))
    res = qstash.message.publish_json(
        url=receiver.url("/far"), body={}, retries=1, retry_delay=FAST
    )
    _, second = receiver.wait_for(2, "/far")
    assert second.header("Upstash-Message-Id") == res.message_id


def test_dlq_keeps_non_utf8_response_body_as_base64(qstash, receiver):
    raw = b"\xff\xfe\x00binary"
    receiver.on("/binresp", Reply(500, raw, {"Content-Type": "application/octet-stream"}))
    res = qstash.message.publish(url=receiver.url("/binresp"), body="b", retries=0)
    entry = dlq_entry(qstash, res.message_id)
    assert entry.response_body is None
    assert b64decode_any(entry.response_body_base64) == raw


def test_callback_method_is_configurable(qstash, receiver):
    # §4.1 rule 7: Upstash-Callback-Method configures the callback message
    qstash.message.publish_json(
        url=receiver.url("/cm-src"), body={}, callback=receiver.url("/cm"),
        callback_headers={"Upstash-Callback-Method": "PUT"},
    )
    (cb,) = receiver.wait_for(1, "/cm")
    assert cb.method == "PUT"
    assert cb.json()["status"] == 200
