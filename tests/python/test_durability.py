"""Durability across restarts and crashes (Depesha is a *durable* queue).

Each test starts its own `depesha dev` on its own data dir (fixture
`private_depesha`), stops it gracefully (SIGTERM) or crashes it (SIGKILL),
starts it again on the same port and data dir, and checks that what the
server had accepted is still there and still delivered.
"""

from __future__ import annotations

import time

from qstash import QStash
from qstash.log import LogState

from depesha_helpers import DEV_USERS, Reply, eventually, fresh, verify_with

USER = 1


def client(server, n=USER):
    return QStash(DEV_USERS[n].token, base_url=server.url, retry=False)


def keys(n=USER):
    u = DEV_USERS[n]
    return (u.current_signing_key, u.next_signing_key)


def test_delayed_message_survives_graceful_restart(private_depesha, receiver):
    server = private_depesha.start()
    dest = receiver.url("/after-restart")
    res = client(server).message.publish_json(url=dest, body={"durable": True}, delay=3)
    not_before = client(server).message.get(res.message_id).not_before

    server.stop()
    server.start()

    msg = client(server).message.get(res.message_id)
    assert msg.not_before == not_before
    (req,) = receiver.wait_for(1, "/after-restart")
    assert req.header("Upstash-Message-Id") == res.message_id
    assert req.json() == {"durable": True}
    assert req.at * 1000 >= not_before - 5
    verify_with(keys(), req.header("Upstash-Signature"), req.body, dest)
    receiver.assert_stays(1, "/after-restart")


def test_accepted_message_survives_crash(private_depesha, receiver):
    server = private_depesha.start()
    res = client(server).message.publish_json(
        url=receiver.url("/after-crash"), body={"crash": 1}, delay=2
    )
    server.stop(kill=True)  # SIGKILL right after the 200
    server.start()

    (req,) = receiver.wait_for(1, "/after-crash")
    assert req.header("Upstash-Message-Id") == res.message_id
    assert req.json() == {"crash": 1}
    receiver.assert_stays(1, "/after-crash")


def test_retries_continue_after_crash(private_depesha, receiver):
    server = private_depesha.start()
    receiver.on("/flaky", Reply(500, "down"))
    res = client(server).message.publish_json(
        url=receiver.url("/flaky"), body={}, retries=3, retry_delay="1500"
    )
    receiver.wait_for(1, "/flaky")
    server.stop(kill=True)
    server.start()

    entry = eventually(
        lambda: client(server).dlq.list(filter={"message_id": res.message_id}).messages,
        timeout=30,
        what="DLQ entry after crash",
    )[0]
    assert entry.response_status == 500
    retried = {r.header("Upstash-Retried") for r in receiver.requests("/flaky")}
    # at-least-once: an attempt cut short by the crash may be repeated, but
    # every attempt number up to maxRetries happened
    assert {"0", "1", "2", "3"} <= retried, retried


def test_dlq_keys_and_dedup_survive_restart(private_depesha, receiver):
    server = private_depesha.start()
    c4 = client(server, 4)
    rotated = c4.signing_key.rotate()
    receiver.on("/dead", Reply(500, "dead"))
    failed = client(server).message.publish(url=receiver.url("/dead"), body="x", retries=0)
    entry = eventually(
        lambda: client(server).dlq.list(filter={"message_id": failed.message_id}).messages,
        what="DLQ entry",
    )[0]
    dedup = fresh("persist")
    first = client(server).message.publish_json(
        url=receiver.url("/once"), body={}, deduplication_id=dedup
    )
    receiver.wait_for(1, "/once")
    # stop only once the outcome is recorded (see the in-flight test below)
    eventually(
        lambda: any(
            l.state == LogState.DELIVERED
            for l in client(server).log.list(filter={"message_id": first.message_id}).logs
        ),
        what="DELIVERED logged",
    )

    server.stop()
    server.start()

    assert client(server).dlq.get(entry.dlq_id).response_body == "dead"
    k = client(server, 4).signing_key.get()
    assert (k.current, k.next) == (rotated.current, rotated.next)
    again = client(server).message.publish_json(
        url=receiver.url("/once"), body={}, deduplication_id=dedup
    )
    assert again.deduplicated is True and again.message_id == first.message_id
    time.sleep(0.5)
    receiver.assert_stays(1, "/once")


def test_graceful_stop_does_not_redeliver_an_in_flight_delivery(private_depesha, receiver):
    """SIGTERM while the destination is still answering a delivery.

    Not a QStash wire rule but a Depesha promise: a graceful stop ("no new
    requests; everything accepted is already on disk") should let the
    in-flight attempt finish and record it, so the destination that answered
    200 is not called a second time after the restart.
    """
    server = private_depesha.start()
    receiver.on("/inflight", Reply(200, "done", delay=1.0))
    res = client(server).message.publish_json(url=receiver.url("/inflight"), body={"x": 1})
    receiver.wait_for(1, "/inflight")  # the attempt is now in flight

    server.stop()  # SIGTERM
    server.start()

    eventually(
        lambda: any(
            l.state == LogState.DELIVERED
            for l in client(server).log.list(filter={"message_id": res.message_id}).logs
        ),
        what="DELIVERED logged",
    )
    got = receiver.assert_stays(1, "/inflight", seconds=3.0)
    assert got[0].header("Upstash-Message-Id") == res.message_id
