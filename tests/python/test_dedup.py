"""Deduplication (spec §3.1 duplicate, §4.2, §11.6)."""

from __future__ import annotations

from depesha_helpers import fresh

USER = 2


def test_same_deduplication_id_gives_same_message_and_one_delivery(qstash, receiver):
    dedup = fresh("dedup")
    dest = receiver.url("/dd")
    first = qstash.message.publish_json(url=dest, body={"n": 1}, deduplication_id=dedup)
    second = qstash.message.publish_json(url=dest, body={"n": 1}, deduplication_id=dedup)
    assert first.deduplicated is False
    assert second.deduplicated is True
    assert second.message_id == first.message_id

    (req,) = receiver.wait_for(1, "/dd")
    assert req.header("Upstash-Message-Id") == first.message_id
    # a duplicate that arrives after delivery is still a duplicate
    third = qstash.message.publish_json(url=dest, body={"n": 1}, deduplication_id=dedup)
    assert third.deduplicated is True and third.message_id == first.message_id
    receiver.assert_stays(1, "/dd")


def test_deduplication_id_ignores_body_differences(qstash, receiver):
    dedup = fresh("dedup-body")
    dest = receiver.url("/ddb")
    first = qstash.message.publish_json(url=dest, body={"v": "first"}, deduplication_id=dedup)
    second = qstash.message.publish_json(url=dest, body={"v": "second"}, deduplication_id=dedup)
    assert second.deduplicated is True and second.message_id == first.message_id
    (req,) = receiver.wait_for(1, "/ddb")
    assert req.json() == {"v": "first"}
    receiver.assert_stays(1, "/ddb")


def test_content_based_deduplication(qstash, receiver):
    dest = receiver.url("/cbd")
    body = {"content": fresh("c")}
    first = qstash.message.publish_json(url=dest, body=body, content_based_deduplication=True)
    second = qstash.message.publish_json(url=dest, body=body, content_based_deduplication=True)
    assert first.deduplicated is False
    assert second.deduplicated is True
    assert second.message_id == first.message_id
    receiver.wait_for(1, "/cbd")
    receiver.assert_stays(1, "/cbd")


def test_content_based_deduplication_distinguishes_content(qstash, receiver):
    token = fresh("c")
    a = qstash.message.publish_json(
        url=receiver.url("/cbd2"), body={"t": token}, content_based_deduplication=True
    )
    other_body = qstash.message.publish_json(
        url=receiver.url("/cbd2"), body={"t": token, "x": 1}, content_based_deduplication=True
    )
    other_dest = qstash.message.publish_json(
        url=receiver.url("/cbd3"), body={"t": token}, content_based_deduplication=True
    )
    other_header = qstash.message.publish_json(
        url=receiver.url("/cbd2"), body={"t": token}, content_based_deduplication=True,
        headers={"X-Variant": "b"},
    )
    for r in (other_body, other_dest, other_header):
        assert r.deduplicated is False
        assert r.message_id != a.message_id
    receiver.wait_for(4)
    receiver.assert_stays(4)


def test_deduplication_is_per_tenant(client_for, receiver):
    dedup = fresh("tenant")
    a = client_for(2).message.publish_json(url=receiver.url("/t"), body={}, deduplication_id=dedup)
    b = client_for(3).message.publish_json(url=receiver.url("/t"), body={}, deduplication_id=dedup)
    assert b.deduplicated is False
    assert b.message_id != a.message_id
    receiver.wait_for(2, "/t")


def test_batch_items_are_deduplicated(qstash, receiver):
    dedup = fresh("batch")
    res = qstash.message.batch_json(
        [
            {"url": receiver.url("/bd"), "body": {"i": 1}, "deduplication_id": dedup},
            {"url": receiver.url("/bd"), "body": {"i": 1}, "deduplication_id": dedup},
        ]
    )
    assert len(res) == 2
    assert res[0].deduplicated is False
    assert res[1].deduplicated is True
    assert res[1].message_id == res[0].message_id
    receiver.wait_for(1, "/bd")
    receiver.assert_stays(1, "/bd")
