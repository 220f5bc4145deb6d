"""Signing keys and rotation (spec §3.9, §6, §9, §11.1).

Works as dev user 4; no other module verifies signatures as user 4, so the
rotations here do not disturb them.
"""

from __future__ import annotations

import re

import pytest
from qstash import Receiver
from qstash.errors import SignatureError
from qstash.receiver import verify_with_key

from depesha_helpers import DEV_USERS

USER = 4


def test_dev_banner_prints_user1_env_lines(depesha):
    if not depesha.started_here:
        pytest.skip("server not started by this suite")
    u = DEV_USERS[1]
    out = depesha.log_text()
    assert re.search(rf"QSTASH_URL=http://127\.0\.0\.1:{depesha.port}\b", out), out[-2000:]
    assert f"QSTASH_TOKEN={u.token}" in out
    assert f"QSTASH_CURRENT_SIGNING_KEY={u.current_signing_key}" in out
    assert f"QSTASH_NEXT_SIGNING_KEY={u.next_signing_key}" in out
    assert "running at" in out


@pytest.mark.parametrize("n", [1, 2, 3])
def test_each_dev_user_has_the_documented_keys(client_for, n):
    u = DEV_USERS[n]
    k = client_for(n).signing_key.get()
    assert (k.current, k.next) == (u.current_signing_key, u.next_signing_key)


def test_rotation_keeps_old_receivers_working_for_one_rotation(qstash, user, receiver):
    # Initial keys are the documented ones (spec §9) — checked first, before rotating.
    before = qstash.signing_key.get()
    assert (before.current, before.next) == (user.current_signing_key, user.next_signing_key)

    dest = receiver.url("/rot")
    qstash.message.publish_json(url=dest, body={"phase": 0})
    (r0,) = receiver.wait_for(1)
    Receiver(current_signing_key=before.current, next_signing_key=before.next).verify(
        signature=r0.header("Upstash-Signature"), body=r0.text, url=dest
    )

    rotated = qstash.signing_key.rotate()
    assert rotated.current == before.next, "spec §3.9: current := old next"
    assert rotated.next not in (before.current, before.next), "next must be fresh"
    assert len(rotated.next) >= 32, "spec §3.9: keys of at least 32 bytes"
    got = qstash.signing_key.get()
    assert (got.current, got.next) == (rotated.current, rotated.next)

    qstash.message.publish_json(url=dest, body={"phase": 1})
    r1 = receiver.wait_for(2)[1]
    sig, body = r1.header("Upstash-Signature"), r1.text
    # signed with the NEW current key
    verify_with_key(rotated.current, signature=sig, body=body, url=dest)
    with pytest.raises(SignatureError):
        verify_with_key(before.current, signature=sig, body=body, url=dest)
    # receivers configured with the new pair verify ...
    Receiver(current_signing_key=rotated.current, next_signing_key=rotated.next).verify(
        signature=sig, body=body, url=dest
    )
    # ... and so do receivers still holding the old (current, next) pair (§6)
    Receiver(current_signing_key=before.current, next_signing_key=before.next).verify(
        signature=sig, body=body, url=dest
    )

    # Rotating twice without updating receivers breaks them (§3.9).
    twice = qstash.signing_key.rotate()
    assert twice.current == rotated.next
    qstash.message.publish_json(url=dest, body={"phase": 2})
    r2 = receiver.wait_for(3)[2]
    with pytest.raises(SignatureError):
        Receiver(current_signing_key=before.current, next_signing_key=before.next).verify(
            signature=r2.header("Upstash-Signature"), body=r2.text, url=dest
        )
    Receiver(current_signing_key=twice.current, next_signing_key=twice.next).verify(
        signature=r2.header("Upstash-Signature"), body=r2.text, url=dest
    )


def test_rotation_is_per_tenant(client_for):
    # user 4 rotated above (or not, if run alone); user 1..3 keep theirs
    for n in (1, 2, 3):
        k = client_for(n).signing_key.get()
        assert (k.current, k.next) == (
            DEV_USERS[n].current_signing_key,
            DEV_USERS[n].next_signing_key,
        )
