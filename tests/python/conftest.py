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


def depesha_binary() -> Path:
    return Path(os.environ.get("DEPESHA_BIN") or REPO / "target" / "debug" / "depesha")


class DepeshaProcess:
    """One `depesha dev` process on a fixed port and data dir; restartable."""

    def __init__(self, binary: Path, workdir: Path, port: Optional[int] = None) -> None:
        self.binary = binary
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.log_path = workdir / "server.log"
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    def start(self) -> "DepeshaProcess":
        env = dict(os.environ)
        # The suite's own knobs are not server settings: depesha reads
        # DEPESHA_* variables as configuration (and rejects unknown ones).
        for own in ("DEPESHA_BIN", "DEPESHA_URL"):
            env.pop(own, None)
        # Test knob: default backoff e^(2.5n) counted in 20 ms units.
        env.setdefault("DEPESHA_BACKOFF_UNIT_MS", "20")
        env.setdefault("RUST_BACKTRACE", "1")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "dev", "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(self.workdir),
        )
        _wait_ready(self.url, self.proc, self.log_path)
        return self

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (graceful) or SIGKILL (crash) this process and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture(scope="session")
def depesha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DepeshaServer]:
    external = os.environ.get("DEPESHA_URL")
    if external:
        url = external.rstrip("/")
        _wait_ready(url, None, None)
        port = int(url.rsplit(":", 1)[1].split("/")[0]) if url.count(":") > 1 else 80
        yield DepeshaServer(url=url, port=port, log_path=None, started_here=False)
        return

    binary = depesha_binary()
    if not binary.exists():
        pytest.exit(
            f"depesha binary not found at {binary}; run `cargo build -p depesha` "
            "or set DEPESHA_BIN / DEPESHA_URL",
            returncode=2,
        )
    server = DepeshaProcess(binary, tmp_path_factory.mktemp("depesha"))
    _SERVER_LOG.append(server.log_path)
    try:
        server.start()
        yield DepeshaServer(
            url=server.url, port=server.port, log_path=server.log_path, started_here=True
        )
    finally:
        server.stop()


@pytest.fixture
def private_depesha(tmp_path: Path) -> Iterator[DepeshaProcess]:
    """A second, test-owned server (not started yet) for restart/crash tests."""
    if os.environ.get("DEPESHA_URL"):
        pytest.skip("needs a binary to start; DEPESHA_URL given")
    binary = depesha_binary()
    if not binary.exists():
        pytest.skip(f"no binary at {binary}")
    server = DepeshaProcess(binary, tmp_path)
    try:
        yield server
    finally:
        server.stop()


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
