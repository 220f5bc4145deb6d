"""GET / DELETE /v2/messages (spec §3.4, §11.5, Appendix B tenants)."""

from __future__ import annotations

import time

import pytest
from qstash.errors import QStashError

from depesha_helpers import (
    eventually,
    fresh,
    now_ms,
    raw_request,
)

USER = 3
OTHER_USER = 2


def is_gone(qstash, message_id):
    """True when GET /v2/messages/{id} answers 404."""
    try:
        qstash.message.get(message_id)
    except QStashError as e:
        if "status: 404" in str(e):
            return True
        raise
    return False


def test_get_delayed_message_has_all_fields(qstash, receiver):
    dest = receiver.url("/later?x=1")
    cb, fcb = receiver.url("/cb"), receiver.url("/fcb")
    label = fresh("lbl")
    t0 = now_ms()
    res = qstash.message.publish_json(
        url=dest,
        body={"get": "me"},
        headers={"x-lower-case": "v1", "X-Other": "v2"},
        retries=2,
        retry_delay="1000 * (1 + retried)",
        delay="1h",
        callback=cb,
        failure_callback=fcb,
        label=label,
    )
    try:
        msg = qstash.message.get(res.message_id)
        assert msg.message_id == res.message_id
        assert msg.url == dest
        assert msg.method == "POST"
        assert msg.body == '{"get": "me"}'
        assert msg.max_retries == 2
        assert msg.retry_delay_expression == "1000 * (1 + retried)"
        assert t0 + 3_600_000 <= msg.not_before <= now_ms() + 3_600_000
        assert t0 - 1000 <= msg.created_at <= now_ms() + 1000
        assert msg.callback == cb
        assert msg.failure_callback == fcb
        assert msg.label == label
        # §3.4/App. B: header map = what will be forwarded, canonical names
        assert msg.headers is not None
        assert msg.headers.get("X-Lower-Case") == ["v1"]
        assert msg.headers.get("X-Other") == ["v2"]
        assert msg.headers.get("Content-Type") == ["application/json"]
        leaked = [
            k for k in msg.headers
            if k.lower().startswith("upstash-") or k.lower() == "authorization"
        ]
        assert not leaked, f"stored header map holds non-forwarded headers: {leaked}"
    finally:
        qstash.message.cancel(res.message_id)


def test_default_retries_is_three(qstash, receiver):
    res = qstash.message.publish_json(url=receiver.url("/d"), body={}, delay="1h")
    try:
        assert qstash.message.get(res.message_id).max_retries == 3
    finally:
        qstash.message.cancel(res.message_id)


def test_get_right_after_publish_even_if_delivered(qstash, receiver):
    # Appendix B "read after publish"
    res = qstash.message.publish_json(url=receiver.url("/fast"), body={"f": 1})
    msg = qstash.message.get(res.message_id)
    assert msg.message_id == res.message_id
    assert msg.url == receiver.url("/fast")
    receiver.wait_for(1, "/fast")


def test_get_unknown_message_is_404(qstash):
    with pytest.raises(QStashError) as e:
        qstash.message.get("msg_doesnotexist123")
    assert "status: 404" in str(e.value)


def test_cancel_removes_message_and_prevents_delivery(qstash, receiver):
    dest = receiver.url("/cancelled")
    res = qstash.message.publish_json(url=dest, body={"c": 1}, delay=3)
    not_before = qstash.message.get(res.message_id).not_before

    qstash.message.cancel(res.message_id)

    eventually(lambda: is_gone(qstash, res.message_id), what="GET 404 after cancel")
    # watch past the time it would have been delivered
    wait = max(0.0, not_before / 1000 - time.time()) + 2.0
    receiver.assert_stays(0, seconds=wait)
    assert is_gone(qstash, res.message_id)


def test_cancel_answers_json_cancelled_1(depesha, user, receiver, qstash):
    # spec §3.4: the single cancel body MUST be JSON {"cancelled": 1} (JS parses it)
    res = qstash.message.publish_json(url=receiver.url("/x"), body={}, delay="1h")
    r = raw_request(
        "DELETE", f"{depesha.url}/v2/messages/{res.message_id}", token=user.token
    )
    assert r.status == 200, r
    assert r.json() == {"cancelled": 1}


def test_cancel_unknown_message_is_404(qstash):
    with pytest.raises(QStashError) as e:
        qstash.message.cancel("msg_doesnotexist456")
    assert "status: 404" in str(e.value)


def test_cancel_many(qstash, receiver):
    ids = [
        qstash.message.publish_json(url=receiver.url(f"/many/{i}"), body={"i": i}, delay=3).message_id
        for i in range(3)
    ]
    keep = ids[2]
    try:
        assert qstash.message.cancel_many(ids[:2]) == 2
        for mid in ids[:2]:
            eventually(lambda mid=mid: is_gone(qstash, mid), what=f"{mid} gone")
        # the third one is untouched and delivered in due time
        assert qstash.message.get(keep).message_id == keep
        (req,) = receiver.wait_for(1, "/many/2")
        assert req.header("Upstash-Message-Id") == keep
        receiver.assert_stays(0, "/many/0")
        assert receiver.requests("/many/1") == []
    finally:
        try:
            qstash.message.cancel(keep)
        except QStashError:
            pass


def test_cancel_all_only_cancels_own_messages(client_for, receiver):
    owner = client_for(OTHER_USER)
    me = client_for(USER)
    theirs = owner.message.publish_json(url=receiver.url("/theirs"), body={}, delay="1h")
    mine = [
        me.message.publish_json(url=receiver.url(f"/mine/{i}"), body={}, delay="1h").message_id
        for i in range(2)
    ]
    try:
        cancelled = me.message.cancel_all()
        assert cancelled >= 2
        for mid in mine:
            eventually(lambda mid=mid: is_gone(me, mid), what=f"{mid} gone")
        # the other tenant's message is still there
        assert owner.message.get(theirs.message_id).message_id == theirs.message_id
    finally:
        owner.message.cancel(theirs.message_id)


def test_other_tenant_cannot_see_or_cancel(client_for, receiver):
    owner = client_for(OTHER_USER)
    me = client_for(USER)
    theirs = owner.message.publish_json(url=receiver.url("/private"), body={}, delay="1h")
    try:
        with pytest.raises(QStashError) as e:
            me.message.get(theirs.message_id)
        assert "status: 404" in str(e.value)
        with pytest.raises(QStashError) as e:
            me.message.cancel(theirs.message_id)
        assert "status: 404" in str(e.value)
        assert me.message.cancel_many([theirs.message_id]) == 0
        assert owner.message.get(theirs.message_id).message_id == theirs.message_id
    finally:
        owner.message.cancel(theirs.message_id)


def test_bulk_cancel_by_query_filter(depesha, user, qstash, receiver):
    # spec §3.4 input 1: query filters (what the JS SDK sends), label filter
    label = fresh("bulk")
    tagged = [
        qstash.message.publish_json(url=receiver.url("/t"), body={}, delay="1h", label=label).message_id
        for _ in range(2)
    ]
    other = qstash.message.publish_json(url=receiver.url("/u"), body={}, delay="1h").message_id
    try:
        r = raw_request(
            "DELETE", f"{depesha.url}/v2/messages?label={label}", token=user.token
        )
        assert r.status == 200, r
        assert r.json()["cancelled"] == 2
        for mid in tagged:
            eventually(lambda mid=mid: is_gone(qstash, mid), what=f"{mid} gone")
        assert qstash.message.get(other).message_id == other
    finally:
        qstash.message.cancel(other)



def test_redacted_fields_are_hidden_but_delivered(qstash, receiver):
    # §4.2 Upstash-Redact-Fields: stored/displayed values are redacted,
    # delivery uses the originals.
    dest = receiver.url("/secret")
    res = qstash.message.publish_json(
        url=dest,
        body={"password": "hunter2"},
        headers={"X-Secret": "s3cr3t", "X-Public": "visible"},
        delay=1,
        redact={"body": True, "header": ["X-Secret"]},
    )
    msg = qstash.message.get(res.message_id)
    assert "hunter2" not in (msg.body or "") + (msg.body_base64 or "")
    assert (msg.body or "").startswith("REDACTED"), msg.body
    assert msg.headers["X-Public"] == ["visible"]
    assert all(v.startswith("REDACTED") for v in msg.headers["X-Secret"]), msg.headers
    (req,) = receiver.wait_for(1, "/secret")
    assert req.json() == {"password": "hunter2"}
    assert req.header("X-Secret") == "s3cr3t"


def test_flow_control_settings_read_back(qstash, receiver):
    key = fresh("fc")
    res = qstash.message.publish_json(
        url=receiver.url("/fc"),
        body={},
        delay="1h",
        flow_control={"key": key, "parallelism": 2, "rate": 10, "period": "1m"},
    )
    try:
        fc = qstash.message.get(res.message_id).flow_control
        assert fc is not None, "flowControlKey missing from GET /v2/messages/{id}"
        assert (fc.key, fc.parallelism, fc.rate, fc.period) == (key, 2, 10, 60)
    finally:
        qstash.message.cancel(res.message_id)


def test_message_wire_shape(depesha, user, qstash, receiver):
    # §3.4: caller IP under both spellings; maxRetries present even when 0
    res = qstash.message.publish_json(url=receiver.url("/shape"), body={}, delay="1h", retries=0)
    try:
        r = raw_request("GET", f"{depesha.url}/v2/messages/{res.message_id}", token=user.token)
        doc = r.json()
        assert doc["maxRetries"] == 0
        assert doc.get("callerIP") and doc.get("callerIp") == doc.get("callerIP"), doc
        assert doc["body"] == "{}"
    finally:
        qstash.message.cancel(res.message_id)


@pytest.mark.parametrize(
    "delay,seconds",
    [("90", 90), ("1d10h30m", 86400 + 36000 + 1800), ("2h", 7200), ("45m", 2700)],
)
def test_duration_grammar(qstash, receiver, delay, seconds):
    # §2.5: <int><unit> repeated, or a bare integer meaning seconds
    t0 = now_ms()
    res = qstash.message.publish_json(url=receiver.url("/dur"), body={}, delay=delay, timeout="10")
    try:
        nb = qstash.message.get(res.message_id).not_before
        assert t0 + seconds * 1000 <= nb <= now_ms() + seconds * 1000, (delay, nb - t0)
    finally:
        qstash.message.cancel(res.message_id)
