"""Rejected input and authentication, checked on the wire (spec §2.1, §2.2, App. B).

Uses raw HTTP (urllib) so the exact status and JSON error body are visible.
"""

from __future__ import annotations

import pytest
from qstash import QStash
from qstash.errors import QStashError

from depesha_helpers import (
    DEV_USERS,
    assert_json_error,
    fresh,
    raw_request,
)

USER = 4


@pytest.fixture
def publish_url(depesha, receiver):
    def make(path="/never", query=""):
        return f"{depesha.url}/v2/publish/{receiver.url(path)}{query}"

    return make


# --------------------------------------------------------------------------
# Invalid config headers → 400 {"error": ...}, nothing delivered
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header,value",
    [
        ("Upstash-Delay", "soon"),
        ("Upstash-Delay", "-5s"),
        ("Upstash-Delay", "10x"),
        ("Upstash-Not-Before", "tomorrow"),
        ("Upstash-Retries", "many"),
        ("Upstash-Retries", "-1"),
        ("Upstash-Method", "FETCH"),
        ("Upstash-Timeout", "forever"),
        ("Upstash-Callback", "not-a-url"),
        ("Upstash-Callback", "ftp://example.com/cb"),
        ("Upstash-Failure-Callback", "/relative/path"),
        ("Upstash-Retry-Delay", "pow(2,"),
        ("Upstash-Retry-Delay", "unknownvar * 2"),
        ("Upstash-Flow-Control-Value", "parallelism=lots"),
    ],
)
def test_bad_header_value_is_400(user, receiver, publish_url, header, value):
    headers = {"Content-Type": "application/json", header: value}
    if header == "Upstash-Flow-Control-Value":
        headers["Upstash-Flow-Control-Key"] = fresh("fck")
    r = raw_request("POST", publish_url(), token=user.token, headers=headers, body="{}")
    assert_json_error(r, 400)
    receiver.assert_stays(0, seconds=0.5)


def test_sdk_raises_on_bad_delay(qstash, receiver):
    with pytest.raises(QStashError) as e:
        qstash.message.publish_json(url=receiver.url("/x"), body={}, delay="later")
    assert "status: 400" in str(e.value)


def test_bad_destination_is_4xx(user, depesha):
    r = raw_request(
        "POST", f"{depesha.url}/v2/publish/http://", token=user.token, body="x"
    )
    assert_json_error(r)


# --------------------------------------------------------------------------
# Batch
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[{",  # not JSON
        "not json at all",
        '{"destination": "http://127.0.0.1:1/x"}',  # not an array
        '[{"body": "no destination"}]',
        '[{"destination": 42}]',
        '[{"destination": "http://127.0.0.1:1/x", "headers": {"Upstash-Delay": "soon"}}]',
    ],
)
def test_malformed_batch_is_400(user, depesha, body):
    r = raw_request(
        "POST",
        f"{depesha.url}/v2/batch",
        token=user.token,
        headers={"Content-Type": "application/json"},
        body=body,
    )
    assert_json_error(r, 400)


# --------------------------------------------------------------------------
# Unknown filters are rejected (Appendix B)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v2/dlq?bogusFilter=1"),
        ("GET", "/v2/dlq?labl=typo"),
        ("DELETE", "/v2/dlq?labl=typo"),
        ("GET", "/v2/events?labl=typo"),
        ("GET", "/v2/logs?notAFilter=x"),
    ],
)
def test_unknown_filter_is_400(user, depesha, method, path):
    r = raw_request(method, depesha.url + path, token=user.token)
    assert_json_error(r, 400)


def test_bad_state_filter_is_400(user, depesha):
    r = raw_request("GET", f"{depesha.url}/v2/events?state=NOT_A_STATE", token=user.token)
    assert_json_error(r, 400)


# --------------------------------------------------------------------------
# Not found answers are JSON errors too
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v2/messages/msg_nope"),
        ("DELETE", "/v2/messages/msg_nope"),
        ("GET", "/v2/dlq/1700000000000-0"),
        ("DELETE", "/v2/dlq/1700000000000-0"),
    ],
)
def test_unknown_ids_are_json_404(user, depesha, method, path):
    assert_json_error(raw_request(method, depesha.url + path, token=user.token), 404)


# --------------------------------------------------------------------------
# Authentication (§2.1)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "Bearer ",
        "Bearer not-a-real-token",
        "Bearer eyJVc2VySUQiOiJub2JvZHkiLCJQYXNzd29yZCI6Im5vcGUifQ==",
        "Basic " + DEV_USERS[4].token,
        DEV_USERS[4].token,  # no scheme
    ],
)
def test_missing_or_invalid_token_is_401_json(depesha, auth):
    headers = {"Authorization": auth} if auth is not None else {}
    for method, path in (("GET", "/v2/keys"), ("GET", "/v2/dlq"), ("DELETE", "/v2/messages")):
        r = raw_request(method, depesha.url + path, headers=headers)
        assert_json_error(r, 401)


def test_publish_with_bad_token_is_401_and_not_delivered(publish_url, receiver):
    r = raw_request(
        "POST", publish_url("/unauth"), headers={"Authorization": "Bearer nope"}, body="x"
    )
    assert_json_error(r, 401)
    receiver.assert_stays(0)


def test_sdk_with_bad_token_raises(depesha):
    bad = QStash("not-a-token", base_url=depesha.url, retry=False)
    with pytest.raises(QStashError) as e:
        bad.signing_key.get()
    assert "status: 401" in str(e.value)


def test_qstash_token_query_parameter_authenticates(user, qstash, depesha):
    r = raw_request("GET", f"{depesha.url}/v2/keys?qstash_token={user.token}")
    assert r.status == 200, r
    keys = qstash.signing_key.get()
    assert r.json() == {"current": keys.current, "next": keys.next}


def test_qstash_token_query_parameter_on_publish_is_stripped(user, publish_url, receiver):
    r = raw_request(
        "POST",
        publish_url("/q", f"?a=1&qstash_token={user.token}&b=2"),
        headers={"Content-Type": "text/plain"},
        body="via query token",
    )
    assert r.status in (200, 201, 202), r
    mid = r.json()["messageId"]
    (req,) = receiver.wait_for(1, "/q")
    assert req.body == b"via query token"
    assert req.header("Upstash-Message-Id") == mid
    assert "qstash_token" not in req.path
    assert req.path == "/q?a=1&b=2"


def test_bad_query_token_is_401(depesha):
    r = raw_request("GET", f"{depesha.url}/v2/keys?qstash_token=wrong")
    assert_json_error(r, 401)
