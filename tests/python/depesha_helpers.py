"""Shared helpers for the Depesha Python-SDK compatibility suite.

Nothing here talks to the SDK's internals: the SDK is used as an app would use
it, and raw HTTP (urllib) is used where the suite checks the wire directly.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar

# --------------------------------------------------------------------------
# The four fixed dev users (spec §9).
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DevUser:
    number: int
    user_id: str
    token: str
    current_signing_key: str
    next_signing_key: str


DEV_USERS: Dict[int, DevUser] = {
    1: DevUser(
        1,
        "defaultUser",
        "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
        "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
        "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
    ),
    2: DevUser(
        2,
        "testUser1",
        "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        "sig_7GVPjvuwsfqF65iC8fSrs1dfYruM",
        "sig_5NoELc3EFnZn4DVS5bDs2Nk4b7Ua",
    ),
    3: DevUser(
        3,
        "testUser2",
        "eyJVc2VySUQiOiJ0ZXN0VXNlcjIiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        "sig_6jWGaWRxHsw4vMSPJprXadyvrybF",
        "sig_7qHbvhmahe5GwfePDiS5Lg3pi6Qx",
    ),
    4: DevUser(
        4,
        "testUser3",
        "eyJVc2VySUQiOiJ0ZXN0VXNlcjMiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        "sig_5T8FcSsynBjn9mMLBsXhpacRovJf",
        "sig_7GFR4YaDshFcqsxWRZpRB161jguD",
    ),
}

# How long a test waits for something the server does asynchronously
# (a delivery, a DLQ entry, a log line). Generous: the suite never asserts
# on speed, only on eventual outcome.
WAIT_SECONDS = 15.0
# How long a test watches for something that must NOT happen (a second
# delivery of a deduplicated message, a delivery of a cancelled message).
SETTLE_SECONDS = 1.5

T = TypeVar("T")


def eventually(
    probe: Callable[[], T],
    *,
    timeout: float = WAIT_SECONDS,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Call `probe` until it returns a truthy value without raising.

    Returns that value. On timeout, raises AssertionError carrying the last
    exception or falsy value, so the failure says what was last seen.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Exception as e:  # noqa: BLE001 - we report it below
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; last seen: {last!r}"
            )
        time.sleep(interval)


def b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def b64decode_any(s: str) -> bytes:
    """Decode standard or URL-safe base64, with or without padding."""
    s = s.strip()
    pad = "=" * (-len(s) % 4)
    if "-" in s or "_" in s:
        return base64.urlsafe_b64decode(s + pad)
    return base64.b64decode(s + pad)


def now_ms() -> int:
    return int(time.time() * 1000)


# --------------------------------------------------------------------------
# Raw HTTP client (no SDK) for wire-level checks.
# --------------------------------------------------------------------------


@dataclasses.dataclass
class RawResponse:
    status: int
    headers: Dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"RawResponse(status={self.status}, body={self.body[:500]!r})"


def raw_request(
    method: str,
    url: str,
    *,
    token: Optional[str] = None,
    headers: Optional[Dict[str, str]] = None,
    body: Optional[bytes | str] = None,
    timeout: float = 30.0,
) -> RawResponse:
    """One HTTP request with urllib; never raises for an HTTP status."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return RawResponse(
                resp.status,
                {k.lower(): v for k, v in resp.headers.items()},
                resp.read(),
            )
    except urllib.error.HTTPError as e:
        return RawResponse(
            e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()
        )


def assert_json_error(resp: RawResponse, *statuses: int) -> str:
    """Spec §2.2: errors are JSON `{"error": "<message>"}` with a 4xx/5xx status."""
    if statuses:
        assert resp.status in statuses, f"want status in {statuses}, got {resp!r}"
    else:
        assert 400 <= resp.status < 500, f"want a 4xx status, got {resp!r}"
    try:
        doc = resp.json()
    except ValueError as e:
        raise AssertionError(f"error body is not JSON: {resp!r}") from e
    assert isinstance(doc, dict), f"error body is not a JSON object: {doc!r}"
    assert isinstance(doc.get("error"), str) and doc["error"], (
        f'error body lacks a non-empty "error" string: {doc!r}'
    )
    return doc["error"]


# --------------------------------------------------------------------------
# Local HTTP receiver: the destination the server delivers to.
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Reply:
    """What the receiver answers for one request."""

    status: int = 200
    body: bytes | str = b"ok"
    headers: Dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeout tests)


@dataclasses.dataclass
class Recorded:
    """One request the receiver got."""

    method: str
    path: str  # raw request target: path plus "?query" when present
    header_items: List[Tuple[str, str]]
    body: bytes
    at: float  # time.time() when the request line was read

    @property
    def path_only(self) -> str:
        return self.path.split("?", 1)[0]

    def header(self, name: str) -> Optional[str]:
        """Header value (case-insensitive); several values joined with ', '."""
        vals = self.header_all(name)
        return ", ".join(vals) if vals else None

    def header_all(self, name: str) -> List[str]:
        n = name.lower()
        return [v for k, v in self.header_items if k.lower() == n]

    @property
    def header_names(self) -> List[str]:
        return [k for k, _ in self.header_items]

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return (
            f"Recorded({self.method} {self.path} headers={self.header_items!r} "
            f"body={self.body[:300]!r})"
        )


class LocalReceiver:
    """Threaded HTTP server on 127.0.0.1:<random port> that records requests.

    `on(path, *replies)` configures answers for requests whose path (without
    query) equals `path` — or whose full target equals it, which wins. The
    replies are used in order; the last one repeats. Unconfigured paths get
    200 "ok".
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._requests: List[Recorded] = []
        self._plans: Dict[str, List[Reply]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _read_body(self) -> bytes:
                te = (self.headers.get("Transfer-Encoding") or "").lower()
                if "chunked" in te:
                    chunks = []
                    while True:
                        line = self.rfile.readline().strip()
                        size = int(line.split(b";", 1)[0], 16)
                        if size == 0:
                            # trailers until blank line
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                at = time.time()
                body = self._read_body()
                rec = Recorded(
                    method=self.command,
                    path=self.path,
                    header_items=list(self.headers.items()),
                    body=body,
                    at=at,
                )
                reply = receiver._record_and_plan(rec)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = (
                    reply.body.encode() if isinstance(reply.body, str) else reply.body
                )
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server gave up on us (timeout tests)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle
            do_OPTIONS = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="receiver", daemon=True
        )
        self._thread.start()

    # -- configuration -----------------------------------------------------

    def url(self, path: str = "/") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    def on(self, path: str, *replies: Reply) -> None:
        assert replies, "give at least one Reply"
        with self._lock:
            self._plans[path] = list(replies)

    def _record_and_plan(self, rec: Recorded) -> Reply:
        with self._lock:
            self._requests.append(rec)
            plan = self._plans.get(rec.path)
            if plan is None:
                plan = self._plans.get(rec.path_only)
            if not plan:
                reply = Reply()
            elif len(plan) > 1:
                reply = plan.pop(0)
            else:
                reply = plan[0]
            self._lock.notify_all()
            return reply

    # -- inspection ----------------------------------------------------------

    def requests(self, path: Optional[str] = None) -> List[Recorded]:
        """Requests so far; `path` matches the full target or the path part."""
        with self._lock:
            return [
                r
                for r in self._requests
                if path is None or r.path == path or r.path_only == path
            ]

    def wait_for(
        self, count: int, path: Optional[str] = None, timeout: float = WAIT_SECONDS
    ) -> List[Recorded]:
        """Wait until at least `count` requests (to `path`) arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [
                    r
                    for r in self._requests
                    if path is None or r.path == path or r.path_only == path
                ]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    others = [
                        f"{r.method} {r.path}" for r in self._requests if r not in got
                    ]
                    raise AssertionError(
                        f"receiver: wanted {count} request(s) to {path or 'any path'} "
                        f"within {timeout}s, got {len(got)}: {got!r}; "
                        f"requests to other paths: {others}"
                    )
                self._lock.wait(min(left, 0.2))

    def assert_stays(
        self, count: int, path: Optional[str] = None, seconds: float = SETTLE_SECONDS
    ) -> List[Recorded]:
        """Watch for `seconds` and assert exactly `count` requests (to `path`)."""
        time.sleep(seconds)
        got = self.requests(path)
        assert len(got) == count, (
            f"receiver: expected exactly {count} request(s) to {path or 'any path'}, "
            f"got {len(got)}: {got!r}"
        )
        return got

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def verify_with(keys: Iterable[str], signature: str, body: bytes, url: str) -> None:
    """Verify with a Receiver built from (current, next)."""
    from qstash import Receiver

    cur, nxt = list(keys)
    Receiver(current_signing_key=cur, next_signing_key=nxt).verify(
        signature=signature, body=body.decode(), url=url
    )


def fresh(prefix: str) -> str:
    """A unique, URL-safe token for labels, dedup ids, paths."""
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:12]}"
