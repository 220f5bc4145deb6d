"""Fixtures for the Depesha compatibility suite (official Python SDK `qstash`).

* `depesha` (session): one `depesha dev` process on a free port with a
  temporary data dir. Binary from $DEPESHA_BIN, default
  <repo>/target/debug/depesha. Setting $DEPESHA_URL instead points the suite
  at a server that is already running (nothing is started then).
* `user` / `qstash` / `client_for`: each test module names the dev user it
  works as with a module-level `USER = <1..4>` (spec §9), so modules prove
  tenant isolation and cannot see each other's data.
* `receiver` (function): a local HTTP destination that records requests and
  answers as told (see depesha_helpers.LocalReceiver).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from depesha_helpers import DEV_USERS, DevUser, LocalReceiver, raw_request  # noqa: E402

from qstash import QStash  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0


@dataclasses.dataclass
class DepeshaServer:
    url: str  # e.g. http://127.0.0.1:PORT
    port: int
    log_path: Optional[Path]  # stdout+stderr of the process we started
    started_here: bool

    def log_text(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return ""


_SERVER_LOG: list = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: Optional[subprocess.Popen], log: Optional[Path]) -> None:
    """Poll GET /v2/keys with user 1's token until it answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log else ""
            raise RuntimeError(
                f"depesha exited with code {proc.returncode} before becoming ready.\n"
                f"--- server output (tail) ---\n{tail}"
            )
        try:
            r = raw_request("GET", url + "/v2/keys", token=DEV_USERS[1].token, timeout=2)
            if r.status == 200:
                return
            last = r
        except Exception as e:  # noqa: BLE001 - not up yet
            last = e
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-4000:] if log else ""
    raise RuntimeError(
        f"depesha at {url} not ready after {READY_TIMEOUT}s (last: {last!r})\n"
        f"--- server output (tail) ---\n{tail}"
    )


@pytest.fixture(scope="session")
def depesha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DepeshaServer]:
    external = os.environ.get("DEPESHA_URL")
    if external:
        url = external.rstrip("/")
        _wait_ready(url, None, None)
        port = int(url.rsplit(":", 1)[1].split("/")[0]) if url.count(":") > 1 else 80
        yield DepeshaServer(url=url, port=port, log_path=None, started_here=False)
        return

    binary = Path(os.environ.get("DEPESHA_BIN") or REPO / "target" / "debug" / "depesha")
    if not binary.exists():
        pytest.exit(
            f"depesha binary not found at {binary}; run `cargo build -p depesha` "
            "or set DEPESHA_BIN / DEPESHA_URL",
            returncode=2,
        )

    workdir = tmp_path_factory.mktemp("depesha")
    data_dir = workdir / "data"
    data_dir.mkdir()
    log_path = workdir / "server.log"
    port = _free_port()

    env = dict(os.environ)
    # Spec-allowed test knob: default backoff e^(2.5n) counted in 20 ms units.
    env.setdefault("DEPESHA_BACKOFF_UNIT_MS", "20")
    env.setdefault("RUST_BACKTRACE", "1")

    log_file = open(log_path, "wb")
    proc = subprocess.Popen(
        [str(binary), "dev", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=str(workdir),
    )
    url = f"http://127.0.0.1:{port}"
    _SERVER_LOG.append(log_path)
    try:
        _wait_ready(url, proc, log_path)
        yield DepeshaServer(url=url, port=port, log_path=log_path, started_here=True)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log_file.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ANN001
    if exitstatus != 0 and _SERVER_LOG:
        terminalreporter.write_line(f"depesha server output: {_SERVER_LOG[-1]}")


# ---------------------------------------------------------------------------
# Users and SDK clients
# ---------------------------------------------------------------------------


@pytest.fixture
def user(request: pytest.FixtureRequest) -> DevUser:
    """The dev user this test module works as (module-level USER, default 1)."""
    return DEV_USERS[getattr(request.module, "USER", 1)]


@pytest.fixture
def client_for(depesha: DepeshaServer) -> Callable[[int], QStash]:
    """client_for(n) -> a QStash SDK client for dev user n (1..4)."""

    def make(n: int) -> QStash:
        # retry=False: the SDK would re-send on network errors only; the suite
        # wants every request to hit the server exactly once.
        return QStash(DEV_USERS[n].token, base_url=depesha.url, retry=False)

    return make


@pytest.fixture
def qstash(client_for: Callable[[int], QStash], user: DevUser) -> QStash:
    return client_for(user.number)


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    r = LocalReceiver()
    try:
        yield r
    finally:
        r.close()
