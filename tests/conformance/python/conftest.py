"""Shared fixtures for the Python `websockets` conformance suite.

Each test starts from a real `pushbench serve` process (binary from
`PUSHBENCH_BIN`) listening on a free loopback port, and records what it
expected and what it observed, so the run can print a Markdown table:

    CONFORMANCE_MARKDOWN=results-python.md pytest tests/conformance/python
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
from pathlib import Path

import pytest

# Large enough for the 65,536-byte echo cases, small enough that one more
# byte is quick to send for the 1009 case.
MAX_PAYLOAD = 131_072


class Server:
    """A `pushbench serve` child process and its address."""

    def __init__(self, *args: str) -> None:
        binary = os.environ.get("PUSHBENCH_BIN")
        if not binary:
            raise RuntimeError(
                "set PUSHBENCH_BIN to the pushbench binary "
                "(e.g. target/debug/pushbench)"
            )
        self.process = subprocess.Popen(
            [binary, "serve", "--addr", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            # Inherited: a server error shows up in the test output.
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 20)
        if not ready:
            self.stop()
            raise RuntimeError("pushbench serve printed nothing within 20 s")
        line = self.process.stdout.readline().decode().strip()
        prefix = "pushbench listening on http://"
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"unexpected first line from pushbench serve: {line!r}")
        self.addr = line[len(prefix) :]

    def url(self, path: str) -> str:
        return f"ws://{self.addr}{path}"

    def terminate(self) -> None:
        """SIGTERM: the server closes every WebSocket with 1001."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> int | None:
        """Stops the server (SIGTERM, then SIGKILL after 10 s); its exit code."""
        self.terminate()
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return None


@pytest.fixture(scope="session")
def server():
    """One server for the whole session, generating 50 events/s of 16 bytes."""
    srv = Server(
        "--rate", "50", "--payload", "16",
        "--max-payload", str(MAX_PAYLOAD), "--max-frame", str(MAX_PAYLOAD),
    )
    yield srv
    srv.stop()


@pytest.fixture
def own_server():
    """A server of the test's own, for cases that stop it."""
    started: list[Server] = []

    def start(*args: str) -> Server:
        srv = Server(*args)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


# --- expected / observed bookkeeping for the Markdown table ------------------

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "expect(outcome): the outcome the protocol requires, for the report"
    )


@pytest.fixture(autouse=True)
def _expected(request):
    marker = request.node.get_closest_marker("expect")
    request.node.user_properties.append(("expected", marker.args[0] if marker else ""))


@pytest.fixture
def observed(request):
    """Call with what actually happened; it lands in the report table."""

    def record(outcome: str) -> None:
        request.node.user_properties.append(("observed", outcome))

    return record


# name -> (expected, observed, outcome), in run order.
_rows: dict[str, tuple[str, str, str]] = {}


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        props = dict(report.user_properties)
        name = report.nodeid.split("::")[-1]
        if name in _rows and _rows[name][2] != "passed":
            return  # keep the first failure (e.g. call) over teardown
        _rows[name] = (props.get("expected", ""), props.get("observed", ""), report.outcome)


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("CONFORMANCE_MARKDOWN")
    if not target:
        return
    import websockets

    passed = sum(1 for r in _rows.values() if r[2] == "passed")
    lines = [
        f"Python websockets {websockets.__version__}: "
        f"{passed} passed, {len(_rows) - passed} failed",
        "",
        "| case | expected | observed | result |",
        "|---|---|---|---|",
    ]
    for name, (expected, seen, outcome) in _rows.items():
        mark = "pass" if outcome == "passed" else f"**{outcome.upper()}**"
        lines.append(f"| `{name}` | {expected} | {seen} | {mark} |")
    Path(target).write_text("\n".join(lines) + "\n")
