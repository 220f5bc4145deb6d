"""Publishing to a URL and what the destination receives (spec §3.1, §5, §6, §11.1–2)."""

from __future__ import annotations

import hashlib
import base64
import json
import time

import jwt
import pytest
from qstash import Receiver
from qstash.errors import SignatureError

from depesha_helpers import DEV_USERS, fresh, now_ms, verify_with

USER = 1


def keys_of(user):
    return (user.current_signing_key, user.next_signing_key)


# --------------------------------------------------------------------------
# §11.1 Publish round-trip + signature
# --------------------------------------------------------------------------


def test_publish_json_is_delivered_exactly(qstash, user, receiver):
    dest = receiver.url("/hook")
    payload = {"hello": "world", "n": 1, "nested": {"ok": True}, "unicode": "čšž"}

    res = qstash.message.publish_json(
        url=dest,
        body=payload,
        headers={"X-Custom": "abc", "Upstash-Forward-Explicit": "yes"},
    )
    assert isinstance(res.message_id, str) and res.message_id
    assert res.deduplicated is False

    (req,) = receiver.wait_for(1, "/hook")
    # method, body bytes, content type
    assert req.method == "POST"
    assert req.body == json.dumps(payload).encode()
    assert req.header("Content-Type") == "application/json"
    # §5: forwarded headers arrive with the Upstash-Forward- prefix stripped
    assert req.header("X-Custom") == "abc"
    assert req.header("Explicit") == "yes"
    assert not [n for n in req.header_names if n.lower().startswith("upstash-forward")]
    # the publisher's credentials never reach the destination
    assert req.header("Authorization") is None
    # §5 fixed headers
    assert req.header("User-Agent") == "Upstash-QStash"
    assert req.header("Upstash-Message-Id") == res.message_id
    assert req.header("Upstash-Retried") == "0"
    # §6: Receiver.verify with url passes on the real delivery
    sig = req.header("Upstash-Signature")
    assert sig, "delivery carries no Upstash-Signature"
    Receiver(
        current_signing_key=user.current_signing_key,
        next_signing_key=user.next_signing_key,
    ).verify(signature=sig, body=req.text, url=dest)


def test_signature_claims_follow_spec(qstash, user, receiver):
    dest = receiver.url("/claims")
    body = '{"claims":"check"}'
    before = int(time.time())
    qstash.message.publish(url=dest, body=body, content_type="application/json")
    (req,) = receiver.wait_for(1, "/claims")
    after = int(time.time())
    token = req.header("Upstash-Signature")

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"

    # Signed with the CURRENT key: it verifies with it alone.
    claims = jwt.decode(
        token,
        user.current_signing_key,
        algorithms=["HS256"],
        issuer="Upstash",
        options={"require": ["iss", "sub", "exp", "nbf", "iat"], "verify_aud": False},
    )
    assert claims["iss"] == "Upstash"
    assert claims["sub"] == dest
    assert claims["nbf"] == 0, "spec §6: nbf is 0"
    assert before - 1 <= claims["iat"] <= after + 1
    assert claims["exp"] == claims["iat"] + 300, "spec §6: 5-minute lifetime"
    assert isinstance(claims.get("jti"), str) and claims["jti"]
    assert not claims.get("aud"), "spec §6: no non-empty aud"
    want = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).decode()
    assert claims["body"].rstrip("=") == want.rstrip("=")


def test_signature_does_not_verify_for_another_url_or_body(qstash, user, receiver):
    dest = receiver.url("/tamper")
    qstash.message.publish_json(url=dest, body={"a": 1})
    (req,) = receiver.wait_for(1, "/tamper")
    sig = req.header("Upstash-Signature")
    r = Receiver(
        current_signing_key=user.current_signing_key,
        next_signing_key=user.next_signing_key,
    )
    with pytest.raises(SignatureError):
        r.verify(signature=sig, body=req.text, url=receiver.url("/other"))
    with pytest.raises(SignatureError):
        r.verify(signature=sig, body='{"a": 2}', url=dest)
    # another tenant's keys do not verify it
    other = DEV_USERS[2]
    with pytest.raises(SignatureError):
        verify_with(keys_of(other), sig, req.body, dest)


def test_empty_body_delivery_and_signature(qstash, user, receiver):
    dest = receiver.url("/empty")
    res = qstash.message.publish(url=dest)
    (req,) = receiver.wait_for(1, "/empty")
    assert req.body == b""
    assert req.header("Upstash-Message-Id") == res.message_id
    verify_with(keys_of(user), req.header("Upstash-Signature"), b"", dest)


def test_raw_body_bytes_and_content_type_are_kept(qstash, user, receiver):
    dest = receiver.url("/bytes")
    body = "line1\nline2\tTabbed  spaced \u00e9"
    qstash.message.publish(url=dest, body=body, content_type="text/plain; charset=utf-8")
    (req,) = receiver.wait_for(1, "/bytes")
    assert req.body == body.encode()
    assert req.header("Content-Type") == "text/plain; charset=utf-8"
    verify_with(keys_of(user), req.header("Upstash-Signature"), req.body, dest)


# --------------------------------------------------------------------------
# §2.4 / §11.2 Raw destination paths
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/deep/path/segments",
        "/with/query?foo=bar&x=1",
        "/q/repeat?a=1&a=2&empty=&enc=a%20b%2Fc",
        "/trailing/slash/",
    ],
)
def test_destination_path_and_query_survive_unchanged(qstash, user, receiver, target):
    dest = receiver.url(target)  # includes the receiver's port
    res = qstash.message.publish_json(url=dest, body={"t": target})
    (req,) = receiver.wait_for(1)
    assert req.path == target
    assert req.header("Upstash-Message-Id") == res.message_id
    # the signature's sub is the destination exactly as published
    verify_with(keys_of(user), req.header("Upstash-Signature"), req.body, dest)
    # and GET /v2/messages reports the same URL
    assert qstash.message.get(res.message_id).url == dest


# --------------------------------------------------------------------------
# Upstash-Method (§4.2)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_method_with_body(qstash, receiver, method):
    dest = receiver.url("/m")
    qstash.message.publish_json(url=dest, body={"method": method}, method=method)
    (req,) = receiver.wait_for(1, "/m")
    assert req.method == method
    assert req.json() == {"method": method}


def test_method_get(qstash, user, receiver):
    dest = receiver.url("/get-me?id=7")
    res = qstash.message.publish(url=dest, method="GET")
    (req,) = receiver.wait_for(1)
    assert req.method == "GET"
    assert req.path == "/get-me?id=7"
    assert req.body == b""
    assert qstash.message.get(res.message_id).method == "GET"
    verify_with(keys_of(user), req.header("Upstash-Signature"), b"", dest)


# --------------------------------------------------------------------------
# Delay and not-before (§3.1 side effects, §4.2, §11.5)
# --------------------------------------------------------------------------


def test_delay_sets_not_before_and_holds_delivery(qstash, receiver):
    dest = receiver.url("/delayed")
    t0 = now_ms()
    res = qstash.message.publish_json(url=dest, body={"d": 1}, delay=3)
    msg = qstash.message.get(res.message_id)
    assert msg.not_before >= t0 + 3000, (msg.not_before, t0)
    assert msg.not_before <= now_ms() + 3000
    assert msg.created_at <= msg.not_before

    (req,) = receiver.wait_for(1, "/delayed")
    assert req.at * 1000 >= msg.not_before - 5, (
        f"delivered at {req.at * 1000:.0f} ms, before notBefore {msg.not_before}"
    )


def test_delay_duration_string(qstash, receiver):
    dest = receiver.url("/delayed-str")
    t0 = now_ms()
    res = qstash.message.publish_json(url=dest, body={"d": 2}, delay="2s")
    msg = qstash.message.get(res.message_id)
    assert msg.not_before >= t0 + 2000
    (req,) = receiver.wait_for(1, "/delayed-str")
    assert req.at * 1000 >= msg.not_before - 5


def test_not_before_is_absolute_unix_seconds(qstash, receiver):
    dest = receiver.url("/nb")
    nb = int(time.time()) + 3
    res = qstash.message.publish_json(url=dest, body={"nb": nb}, not_before=nb)
    msg = qstash.message.get(res.message_id)
    assert msg.not_before == nb * 1000
    (req,) = receiver.wait_for(1, "/nb")
    assert req.at >= nb - 0.005


def test_not_before_wins_over_delay(qstash, receiver):
    dest = receiver.url("/nb-wins")
    nb = int(time.time()) + 2
    res = qstash.message.publish_json(url=dest, body={}, delay="1h", not_before=nb)
    msg = qstash.message.get(res.message_id)
    assert msg.not_before == nb * 1000, "spec §4.2: Upstash-Not-Before wins over Upstash-Delay"
    receiver.wait_for(1, "/nb-wins")


# --------------------------------------------------------------------------
# §11.2 URL groups fan out and answer with a bare array
# --------------------------------------------------------------------------


def test_url_group_publish_fans_out(qstash, user, receiver):
    group = fresh("grp")
    a, b = receiver.url("/ep-a"), receiver.url("/ep-b?x=1")
    qstash.url_group.upsert_endpoints(
        url_group=group, endpoints=[{"url": a, "name": "a"}, {"url": b}]
    )
    try:
        res = qstash.message.publish_json(url_group=group, body={"fan": "out"})
        assert isinstance(res, list) and len(res) == 2
        by_url = {r.url: r.message_id for r in res}
        assert set(by_url) == {a, b}
        assert len(set(by_url.values())) == 2

        ra = receiver.wait_for(1, "/ep-a")[0]
        rb = receiver.wait_for(1, "/ep-b")[0]
        assert rb.path == "/ep-b?x=1"
        for req, url in ((ra, a), (rb, b)):
            assert req.json() == {"fan": "out"}
            assert req.header("Upstash-Message-Id") == by_url[url]
            assert req.header("Upstash-Topic-Name") == group
            verify_with(keys_of(user), req.header("Upstash-Signature"), req.body, url)
    finally:
        qstash.url_group.delete(group)


# --------------------------------------------------------------------------
# Header classification (§4.1) and binary bodies, on the wire
# --------------------------------------------------------------------------


def _raw_publish(depesha, user, dest, headers, body=b""):
    """POST /v2/publish/{dest} with http.client so header names can repeat."""
    import http.client
    import urllib.parse

    u = urllib.parse.urlsplit(depesha.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest("POST", f"/v2/publish/{dest}", skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {user.token}")
        for k, v in headers:
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def test_plain_headers_are_not_forwarded(depesha, user, receiver):
    status, doc = _raw_publish(
        depesha, user, receiver.url("/plain"),
        [("Content-Type", "text/plain"), ("X-Not-Forwarded", "n"),
         ("Upstash-Forward-X-Forwarded", "f"), ("Upstash-Telemetry-Sdk", "py"),
         ("Upstash-Retries", "0")],
        b"p",
    )
    assert status == 200, doc
    (req,) = receiver.wait_for(1, "/plain")
    assert req.header("X-Forwarded") == "f"
    assert req.header("X-Not-Forwarded") is None, "§4.1 rule 11: plain headers are dropped"
    assert not [n for n in req.header_names if n.lower() in ("upstash-telemetry-sdk", "upstash-retries")]


def test_upstash_header_forward_true_forwards_plain_headers(depesha, user, receiver):
    status, doc = _raw_publish(
        depesha, user, receiver.url("/all"),
        [("Content-Type", "text/plain"), ("Upstash-Header-Forward", "true"), ("X-Plain", "p")],
        b"webhook",
    )
    assert status == 200, doc
    (req,) = receiver.wait_for(1, "/all")
    assert req.header("X-Plain") == "p"
    assert req.header("Authorization") is None, "the QStash token is never forwarded"
    assert req.body == b"webhook"


def test_forward_prefix_is_stripped_once(depesha, user, receiver):
    # §4.1 rule 5: Upstash-Forward-Upstash-Workflow-Sdk-Version → Upstash-Workflow-Sdk-Version
    status, doc = _raw_publish(
        depesha, user, receiver.url("/wf"),
        [("Upstash-Forward-Upstash-Workflow-Sdk-Version", "1")],
    )
    assert status == 200, doc
    (req,) = receiver.wait_for(1, "/wf")
    assert req.header("Upstash-Workflow-Sdk-Version") == "1"


def test_repeated_header_names_are_joined(depesha, user, qstash, receiver):
    # Appendix B: TEST-CASE and test-case come back as one canonical key
    status, doc = _raw_publish(
        depesha, user, receiver.url("/dup"),
        [("Upstash-Forward-TEST-CASE", "value-uppercase"),
         ("Upstash-Forward-test-case", "value-lowercase"),
         ("Upstash-Delay", "1s")],
    )
    assert status == 200, doc
    msg = qstash.message.get(doc["messageId"])
    assert "Test-Case" in msg.headers, msg.headers
    assert ", ".join(msg.headers["Test-Case"]) == "value-uppercase, value-lowercase"
    (req,) = receiver.wait_for(1, "/dup")
    assert req.header("Test-Case") == "value-uppercase, value-lowercase"


def test_non_utf8_body_round_trips(qstash, user, receiver):
    dest = receiver.url("/bin")
    body = bytes(range(256))
    res = qstash.message.publish(
        url=dest, body=body, content_type="application/octet-stream", delay=1
    )
    msg = qstash.message.get(res.message_id)
    assert msg.body is None, "non-UTF-8 bodies are reported in bodyBase64 (§3.4)"
    assert base64.b64decode(msg.body_base64) == body
    (req,) = receiver.wait_for(1, "/bin")
    assert req.body == body
    assert req.header("Content-Type") == "application/octet-stream"
    # the Python Receiver hashes body.encode(); verify the hash claim directly
    claims = jwt.decode(
        req.header("Upstash-Signature"), user.current_signing_key, algorithms=["HS256"],
        issuer="Upstash", options={"verify_aud": False},
    )
    want = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()
    assert claims["body"].rstrip("=") == want.rstrip("=")
    assert claims["sub"] == dest


def test_many_concurrent_publishes_are_each_delivered_once(qstash, receiver):
    from concurrent.futures import ThreadPoolExecutor

    n = 40

    def pub(i):
        return qstash.message.publish_json(url=receiver.url(f"/burst/{i}"), body={"i": i}).message_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(pub, range(n)))
    assert len(set(ids)) == n
    got = receiver.wait_for(n, timeout=30)
    receiver.assert_stays(n)
    by_path = {r.path: r for r in got}
    assert len(by_path) == n, "a message was delivered twice"
    for i, mid in enumerate(ids):
        req = by_path[f"/burst/{i}"]
        assert req.header("Upstash-Message-Id") == mid
        assert req.json() == {"i": i}
