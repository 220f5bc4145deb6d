"""POST /v2/batch through the SDK (spec §3.3, §11.7)."""

from __future__ import annotations

import json

import pytest
from qstash.errors import QStashError

from depesha_helpers import fresh, raw_request, verify_with

USER = 1


def keys_of(user):
    return (user.current_signing_key, user.next_signing_key)


def test_batch_json_delivers_each_item_in_order(qstash, user, receiver):
    items = [
        {"url": receiver.url("/b/one"), "body": {"i": 1}, "headers": {"X-Item": "one"}},
        {"url": receiver.url("/b/two"), "body": {"i": 2}, "headers": {"X-Item": "two"}},
        {
            "url": receiver.url("/b/three?k=v"),
            "body": {"i": 3},
            "headers": {"X-Item": "three", "X-Only-Three": "3"},
            "method": "PUT",
        },
    ]
    res = qstash.message.batch_json(items)

    assert isinstance(res, list) and len(res) == 3
    ids = [r.message_id for r in res]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == 3
    assert not any(r.deduplicated for r in res)

    receiver.wait_for(3)
    for item, mid, path, name in zip(
        items, ids, ["/b/one", "/b/two", "/b/three"], ["one", "two", "three"]
    ):
        (req,) = receiver.requests(path)
        assert req.header("Upstash-Message-Id") == mid, "batch result is not in request order"
        assert req.json() == item["body"]
        assert req.body == json.dumps(item["body"]).encode()
        assert req.header("Content-Type") == "application/json"
        assert req.header("X-Item") == name
        verify_with(keys_of(user), req.header("Upstash-Signature"), req.body, item["url"])
    # each item carries only its own headers
    assert receiver.requests("/b/one")[0].header("X-Only-Three") is None
    three = receiver.requests("/b/three")[0]
    assert three.header("X-Only-Three") == "3"
    assert three.method == "PUT"
    assert three.path == "/b/three?k=v"


def test_single_item_batch_is_a_list(qstash, receiver):
    res = qstash.message.batch_json([{"url": receiver.url("/single"), "body": "solo"}])
    assert isinstance(res, list) and len(res) == 1
    (req,) = receiver.wait_for(1, "/single")
    assert req.header("Upstash-Message-Id") == res[0].message_id
    assert req.body == b'"solo"'


def test_batch_with_null_body_and_queue(qstash, receiver):
    # the non-JSON batch sends "body": null and "queue": null (spec §3.3)
    res = qstash.message.batch([{"url": receiver.url("/nobody")}])
    assert isinstance(res, list) and len(res) == 1
    (req,) = receiver.wait_for(1, "/nobody")
    assert req.body == b""
    assert req.header("Upstash-Message-Id") == res[0].message_id


def test_batch_with_url_group_item_is_nested_list(qstash, receiver):
    group = fresh("bgrp")
    ga, gb = receiver.url("/g/a"), receiver.url("/g/b")
    qstash.url_group.upsert_endpoints(url_group=group, endpoints=[{"url": ga}, {"url": gb}])
    try:
        res = qstash.message.batch_json(
            [
                {"url": receiver.url("/plain"), "body": {"k": "url"}},
                {"url_group": group, "body": {"k": "group"}},
            ]
        )
        assert len(res) == 2
        assert not isinstance(res[0], list)
        assert isinstance(res[1], list) and len(res[1]) == 2
        assert {r.url for r in res[1]} == {ga, gb}

        receiver.wait_for(3)
        assert receiver.requests("/plain")[0].header("Upstash-Message-Id") == res[0].message_id
        for r in res[1]:
            (req,) = receiver.requests(r.url[len(receiver.base_url):])
            assert req.header("Upstash-Message-Id") == r.message_id
            assert req.json() == {"k": "group"}
    finally:
        qstash.url_group.delete(group)


def test_batch_with_queue_item(qstash, receiver):
    queue = fresh("bq")
    try:
        res = qstash.message.batch_json(
            [
                {"url": receiver.url("/plain"), "body": {"k": "url"}},
                {"url": receiver.url("/queued"), "queue": queue, "body": {"k": "queue"}},
            ]
        )
        assert len(res) == 2 and not any(isinstance(r, list) for r in res)
        receiver.wait_for(2)
        (q,) = receiver.requests("/queued")
        assert q.header("Upstash-Message-Id") == res[1].message_id
        assert q.json() == {"k": "queue"}
        assert qstash.message.get(res[1].message_id).queue == queue
    finally:
        try:
            qstash.queue.delete(queue)
        except QStashError:
            pass


def test_batch_with_invalid_item_is_rejected_whole(qstash, receiver):
    with pytest.raises(QStashError) as e:
        qstash.message.batch_json(
            [
                {"url": receiver.url("/valid"), "body": {"ok": True}},
                {"url": receiver.url("/invalid"), "body": {"ok": False}, "delay": "soon"},
            ]
        )
    assert "status: 400" in str(e.value), str(e.value)
    # validated up front (spec §3.3, Appendix A): nothing went through
    receiver.assert_stays(0)


def test_batch_with_invalid_method_is_rejected(qstash, receiver):
    with pytest.raises(QStashError) as e:
        qstash.message.batch_json(
            [{"url": receiver.url("/bad-method"), "body": {}, "method": "FETCH"}]
        )
    assert "status: 400" in str(e.value), str(e.value)
    receiver.assert_stays(0)


def test_raw_batch_with_lowercase_header_keys_and_nulls(user, depesha, receiver):
    # JS sends lower-case keys; PY sends "body": null / "queue": null (spec §3.3)
    items = [
        {
            "destination": receiver.url("/lc"),
            "headers": {"content-type": "text/plain", "upstash-forward-x-lc": "yes",
                        "upstash-method": "PUT"},
            "body": "lower",
            "queue": None,
        },
        {"destination": receiver.url("/nulls"), "headers": {}, "body": None, "queue": None},
    ]
    r = raw_request(
        "POST", f"{depesha.url}/v2/batch", token=user.token,
        headers={"Content-Type": "application/json"}, body=json.dumps(items),
    )
    assert r.status == 200, r
    doc = r.json()
    assert isinstance(doc, list) and len(doc) == 2
    receiver.wait_for(2)
    (lc,) = receiver.requests("/lc")
    assert lc.method == "PUT"
    assert lc.header("X-Lc") == "yes"
    assert lc.header("Content-Type") == "text/plain"
    assert lc.body == b"lower"
    assert lc.header("Upstash-Message-Id") == doc[0]["messageId"]
    (nb,) = receiver.requests("/nulls")
    assert nb.body == b""
