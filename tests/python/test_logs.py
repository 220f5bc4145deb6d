"""GET /v2/events through `client.log.list` (spec §1 states, §3.11, §11.9)."""

from __future__ import annotations

from qstash.log import LogState

from depesha_helpers import Reply, b64decode_any, eventually, fresh, raw_request

USER = 1


def states_of(logs, message_id=None):
    return [l.state for l in logs if message_id is None or l.message_id == message_id]


def logs_until(qstash, filt, state, message_id=None):
    """Poll logs with `filt` until `state` shows up for `message_id`."""
    def probe():
        logs = qstash.log.list(filter=filt).logs
        return logs if state in states_of(logs, message_id) else None

    return eventually(probe, what=f"{state} in logs for {filt}")


def test_delivered_message_shows_created_then_delivered(qstash, receiver):
    dest = receiver.url("/logged")
    res = qstash.message.publish_json(url=dest, body={"l": 1})
    receiver.wait_for(1, "/logged")

    logs = logs_until(qstash, {"message_id": res.message_id}, LogState.DELIVERED)
    assert all(l.message_id == res.message_id for l in logs)
    states = states_of(logs)
    assert LogState.CREATED in states and LogState.DELIVERED in states
    assert LogState.FAILED not in states
    created = next(l for l in logs if l.state == LogState.CREATED)
    delivered = next(l for l in logs if l.state == LogState.DELIVERED)
    assert created.time <= delivered.time
    for l in logs:
        assert l.url == dest
        assert isinstance(l.time, int)
    # default order is latestFirst (spec §3.11)
    times = [l.time for l in logs]
    assert times == sorted(times, reverse=True)


def test_filter_by_label_and_state(qstash, receiver):
    a, b = fresh("la"), fresh("lb")
    in_a = {
        qstash.message.publish_json(url=receiver.url("/a"), body={"i": i}, label=a).message_id
        for i in range(2)
    }
    in_b = qstash.message.publish_json(url=receiver.url("/b"), body={}, label=b).message_id
    receiver.wait_for(3)

    def all_delivered():
        logs = qstash.log.list(filter={"label": a}).logs
        done = {l.message_id for l in logs if l.state == LogState.DELIVERED}
        return logs if done == in_a else None

    logs_a = eventually(all_delivered, what="both label-a messages delivered")
    assert {l.message_id for l in logs_a} == in_a, "label filter leaked other messages"
    assert in_b not in {l.message_id for l in logs_a}
    assert all(l.label == a for l in logs_a)

    delivered = qstash.log.list(filter={"label": a, "state": LogState.DELIVERED}).logs
    assert {l.message_id for l in delivered} == in_a
    assert all(l.state == LogState.DELIVERED for l in delivered)

    created = qstash.log.list(filter={"label": a, "state": LogState.CREATED}).logs
    assert {l.message_id for l in created} == in_a
    assert all(l.state == LogState.CREATED for l in created)


def test_filter_by_message_ids(qstash, receiver):
    ids = [
        qstash.message.publish_json(url=receiver.url("/ids"), body={"i": i}).message_id
        for i in range(3)
    ]
    receiver.wait_for(3)
    want = set(ids[:2])

    def probe():
        logs = qstash.log.list(filter={"message_ids": ids[:2]}).logs
        got = {l.message_id for l in logs if l.state == LogState.DELIVERED}
        return logs if got == want else None

    logs = eventually(probe, what="logs for two message ids")
    assert {l.message_id for l in logs} == want


def test_paging_with_count_and_cursor(qstash, receiver):
    label = fresh("pg")
    ids = {
        qstash.message.publish_json(url=receiver.url("/pg"), body={"i": i}, label=label).message_id
        for i in range(3)
    }
    receiver.wait_for(3)

    def all_delivered():
        logs = qstash.log.list(filter={"label": label}).logs
        return logs if {l.message_id for l in logs if l.state == LogState.DELIVERED} == ids else None

    full = eventually(all_delivered, what="three delivered messages in logs")
    assert len(full) >= 6  # at least CREATED + DELIVERED each

    pages, cursor = [], None
    for _ in range(len(full) + 2):
        page = qstash.log.list(count=2, cursor=cursor, filter={"label": label})
        assert len(page.logs) <= 2
        pages.append(page.logs)
        cursor = page.cursor
        if cursor is None:
            break
    else:
        raise AssertionError("cursor never ended (spec §3.11: absent on the last page)")

    flat = [l for p in pages for l in p]
    key = lambda l: (l.message_id, l.state.value, l.time)  # noqa: E731
    assert sorted(map(key, flat)) == sorted(map(key, full)), "paging lost or repeated entries"
    assert all(len(p) == 2 for p in pages[:-1])


def test_failed_message_shows_error_retry_failed(qstash, receiver):
    receiver.on("/broken", Reply(500, "broken"))
    res = qstash.message.publish_json(
        url=receiver.url("/broken"), body={}, retries=1, retry_delay="100"
    )
    logs = logs_until(qstash, {"message_id": res.message_id}, LogState.FAILED)
    states = states_of(logs)
    for s in (LogState.CREATED, LogState.ERROR, LogState.RETRY, LogState.FAILED):
        assert s in states, f"{s} missing from {states}"
    assert LogState.DELIVERED not in states
    errors = [l for l in logs if l.state == LogState.ERROR]
    assert errors, "a failed attempt logs ERROR (spec §7)"
    assert all(l.response_status == 500 for l in errors)


def test_canceled_state_is_spelled_canceled(qstash, receiver):
    # spec §1: CANCELED (single L); the SDK's LogState parse would fail otherwise
    res = qstash.message.publish_json(url=receiver.url("/c"), body={}, delay=2)
    qstash.message.cancel(res.message_id)
    logs = logs_until(qstash, {"message_id": res.message_id}, LogState.CANCELED)
    assert LogState.CANCEL_REQUESTED in states_of(logs)


def test_events_and_logs_paths_both_answer(depesha, user, qstash, receiver):
    res = qstash.message.publish_json(url=receiver.url("/both"), body={})
    receiver.wait_for(1)
    for path in ("/v2/events", "/v2/logs"):
        r = raw_request("GET", f"{depesha.url}{path}?messageId={res.message_id}", token=user.token)
        assert r.status == 200, (path, r)
        doc = r.json()
        assert isinstance(doc.get("events"), list), (path, doc)
        assert isinstance(doc.get("logs"), list), (path, doc)
        assert "cursor" not in doc, "cursor must be absent on the last page"


def test_other_tenant_sees_no_logs(qstash, client_for, receiver):
    res = qstash.message.publish_json(url=receiver.url("/private"), body={})
    logs_until(qstash, {"message_id": res.message_id}, LogState.CREATED)
    other = client_for(4)
    assert other.log.list(filter={"message_id": res.message_id}).logs == []


def test_log_entry_wire_fields(depesha, user, qstash, receiver):
    # §3.11: body base64 always; both spellings of response headers / retry expr
    receiver.on("/wire", Reply(500, "bad", {"X-R": "1"}))
    res = qstash.message.publish(
        url=receiver.url("/wire"), body="plain text", retries=0, retry_delay="100 * retried",
    )
    logs_until(qstash, {"message_id": res.message_id}, LogState.FAILED)
    r = raw_request("GET", f"{depesha.url}/v2/events?messageId={res.message_id}", token=user.token)
    events = r.json()["events"]
    # "body" is base64 wherever it appears (unlike messages); CREATED carries it
    for e in events:
        if "body" in e:
            assert b64decode_any(e["body"]) == b"plain text", e
    assert "body" in next(e for e in events if e["state"] == "CREATED")
    err = next(e for e in events if e["state"] == "ERROR")
    assert err["responseStatus"] == 500
    assert b64decode_any(err["responseBody"]) == b"bad"
    assert err["responseHeader"].get("X-R") == ["1"], err
    assert err["responseHeaders"].get("X-R") == ["1"], err
    created = next(e for e in events if e["state"] == "CREATED")
    assert created.get("retryDelayExpr") == "100 * retried", created
    assert created.get("retryDelayExpression") == "100 * retried", created


def test_multi_value_label_filter_repeated_and_comma(depesha, user, qstash, receiver):
    a, b, c = fresh("mva"), fresh("mvb"), fresh("mvc")
    ids = {
        lbl: qstash.message.publish_json(url=receiver.url("/mv"), body={}, label=lbl).message_id
        for lbl in (a, b, c)
    }
    for lbl in (a, b, c):
        logs_until(qstash, {"label": lbl}, LogState.DELIVERED)
    for q in (f"label={a}&label={b}", f"label={a},{b}"):
        doc = raw_request("GET", f"{depesha.url}/v2/events?{q}", token=user.token).json()
        got = {e["messageId"] for e in doc["events"]}
        assert got == {ids[a], ids[b]}, (q, got)


def test_order_earliest_first(depesha, user, qstash, receiver):
    res = qstash.message.publish_json(url=receiver.url("/order"), body={})
    logs_until(qstash, {"message_id": res.message_id}, LogState.DELIVERED)
    doc = raw_request(
        "GET", f"{depesha.url}/v2/events?messageId={res.message_id}&order=earliestFirst",
        token=user.token,
    ).json()
    times = [e["time"] for e in doc["events"]]
    assert times == sorted(times) and doc["events"][0]["state"] == "CREATED", doc


def test_count_up_to_1000_is_accepted(depesha, user):
    # §3.11: the SDKs document "default and max 1000"
    r = raw_request("GET", f"{depesha.url}/v2/events?count=1000", token=user.token)
    assert r.status == 200, r
    assert isinstance(r.json()["events"], list)


def test_from_and_to_date_are_inclusive(qstash, receiver):
    res = qstash.message.publish_json(url=receiver.url("/dates"), body={})
    logs = logs_until(qstash, {"message_id": res.message_id}, LogState.DELIVERED)
    created = next(l for l in logs if l.state == LogState.CREATED)
    window = qstash.log.list(
        filter={"message_id": res.message_id, "from_time": created.time, "to_time": created.time}
    ).logs
    assert created.time in {l.time for l in window}
    assert all(l.time == created.time for l in window)
    later = qstash.log.list(
        filter={"message_id": res.message_id, "from_time": max(l.time for l in logs) + 1}
    ).logs
    assert later == []
