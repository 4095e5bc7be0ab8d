"""The progress display: the meter's lines and ETA on a fake clock, and real crawls against the
sandbox with the extension on, as periodic log lines (not a TTY) and as a live bar (a pty)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from flickr_crawl.demo import sandbox_settings
from flickr_crawl.extensions.progress import ProgressMeter, Snapshot
from flickr_crawl.flickr.estimate import human_bytes
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT, crawl, run_log

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Until settings.py lists it, crawls name the extension here (with the project's RunReport).
EXTENSIONS = json.dumps(
    {
        "flickr_crawl.extensions.report.RunReport": 500,
        "flickr_crawl.extensions.progress.ProgressExtension": 600,
    }
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_meter_lines_and_eta() -> None:
    clock = FakeClock()
    meter = ProgressMeter(clock)
    snap = Snapshot(api_per_hour=3600)
    assert meter.describe(snap) == (
        "photos 0/?, 0 B downloaded, API 0 calls (0/3600 this hour), ETA ?, elapsed 0 s"
    )
    clock.now += 10
    snap.total, snap.done, snap.bytes = 100, 25, 12_345_678
    snap.api_calls = snap.api_this_hour = 40
    assert meter.eta(snap) == pytest.approx(30.0)  # 25 in 10 s: 75 more take 30 s
    assert meter.describe(snap) == (
        "photos 25/100 (25%), 12.3 MB downloaded, API 40 calls (40/3600 this hour), "
        "ETA 30 s, elapsed 10 s"
    )
    snap.failed = 2
    snap.api_per_hour = 0
    assert "(25%) (2 failed)" in meter.describe(snap)
    assert "API 40 calls (no hourly cap)" in meter.describe(snap)
    # The deep pass: its ETA is measured from when it was first seen, at its own rate.
    clock.now += 90
    snap.done, snap.deep_done = 100, 10
    assert meter.eta(snap) is None
    assert meter.describe(snap).startswith("deep pass 10/100, photos 100/100 (2 failed), ")
    clock.now += 20
    snap.deep_done = 30
    assert meter.eta(snap) == pytest.approx(70.0)  # 20 in 20 s: 70 more take 70 s
    clock.now += 200
    snap.deep_done = 100
    assert meter.eta(snap) == 0.0
    assert "ETA 0 s, elapsed 5 min 20 s" in meter.describe(snap)


def test_meter_without_total_or_progress() -> None:
    clock = FakeClock()
    meter = ProgressMeter(clock)
    assert meter.eta(Snapshot(total=10)) is None  # nothing done yet
    clock.now += 5
    assert meter.eta(Snapshot(total=0, done=0)) is None
    assert meter.eta(Snapshot(total=3, done=5)) == 0.0  # more done than listed at first


@pytest.fixture(scope="module")
def slow_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A small account whose API answers take 20 ms, so a crawl lasts a few seconds."""
    auth_file = tmp_path_factory.mktemp("progress") / "auth.json"
    args = ("--photos", "30", "--videos", "1", "--image-size", "small", "--slow", "0.02")
    with Sandbox(*args, auth_file=auth_file) as sb:
        yield sb


def stat(log: str, key: str) -> int:
    match = re.search(rf"'{re.escape(key)}': (\d+)", log)
    assert match, key
    return int(match.group(1))


def test_progress_log_lines(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    slow_sandbox.reset_stats()
    result = crawl(
        slow_sandbox, tmp_path / "archive",
        "-s", f"EXTENSIONS={EXTENSIONS}", "-s", "FLICKR_PROGRESS_INTERVAL=0.2",
        # too small a budget for the deep pass to go along with the downloads (3 calls per
        # photo + 100), so it runs after them, as it does on a large account
        "-s", "FLICKR_API_CALLS_PER_HOUR=150",
        # its own window: this key's calls by the session's other tests are not this run's
        "-s", f"FLICKR_API_BUDGET_FILE={tmp_path / 'api-calls.json'}",
    )  # fmt: skip
    assert result.returncode in (0, 2), result.stderr[-2000:]  # 2: videos need a web session
    # Not on a terminal: the lines go to the run's log file; the console keeps warnings.
    assert "Progress" not in result.stderr
    log = run_log(tmp_path / "archive")
    periodic = re.findall(r"\[flickr_crawl\.extensions\.progress\] INFO: Progress: (.*)", log)
    assert len(periodic) >= 3, log[-3000:]
    assert all(re.match(r"(photos|deep pass) \d+/(\?|31)", line) for line in periodic)
    assert any(" downloaded, API " in line and "/150 this hour" in line for line in periodic)
    assert any(line.startswith("deep pass") for line in periodic)
    final = re.findall(
        r"\[flickr_crawl\.extensions\.progress\] INFO: Progress \(finished\): (.*)", log
    )
    assert len(final) == 1
    calls = slow_sandbox.stats()["api_calls"]["total"]
    assert stat(log, "flickr/api/calls") == calls
    downloaded = human_bytes(stat(log, "flickr/bytes/downloaded"))
    assert final[0].startswith(
        f"deep pass 31/31, photos 31/31, {downloaded} downloaded, "
        f"API {calls} calls ({calls}/150 this hour), ETA 0 s, elapsed "
    )
    assert "Progress display failed" not in log
    assert "oauth" not in "\n".join(periodic + final).lower()


def test_progress_disabled(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    result = crawl(
        slow_sandbox, tmp_path / "archive",
        "-s", f"EXTENSIONS={EXTENSIONS}", "-s", "FLICKR_PROGRESS_INTERVAL=0.2",
        "-s", "FLICKR_PROGRESS_ENABLED=False", "-s", "FLICKR_DEEP_METADATA_ENABLED=False",
    )  # fmt: skip
    assert result.returncode in (0, 2), result.stderr[-2000:]
    disabled = "Disabled flickr_crawl.extensions.progress.ProgressExtension"
    assert f"{disabled}: FLICKR_PROGRESS_ENABLED is off" in result.stderr
    assert "[flickr_crawl.extensions.progress]" not in result.stderr
    assert "Progress" not in result.stdout


def run_in_pty(cmd: list[str], timeout: float = 120) -> tuple[int, str]:
    """Run ``cmd`` with stdout and stderr on a pseudo-terminal, as in an interactive shell."""
    master, slave = pty.openpty()
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings", COLUMNS="160",
               TERM="xterm-256color")  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def test_progress_live_bar_on_a_terminal(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    assert slow_sandbox.auth_file is not None
    settings = sandbox_settings(slow_sandbox.url, slow_sandbox.auth_file, tmp_path / "archive")
    cmd = [sys.executable, "-m", "scrapy", "crawl", "photostream", *settings,
           "-s", f"EXTENSIONS={EXTENSIONS}", "-s", "FLICKR_API_CALLS_PER_HOUR=0",
           "-s", f"FLICKR_WEB_SESSION_FILE={tmp_path / 'none.json'}"]  # fmt: skip
    code, out = run_in_pty(cmd)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    assert code in (0, 2), plain[-3000:]
    assert "Traceback" not in plain
    assert "Progress display failed" not in plain
    assert re.search(r"Photos .*photos \d+/31", plain), plain[-3000:]
    assert "Deep pass" in plain
    assert re.search(r"deep pass 31/31, photos 31/31, .* ETA 0 s", plain)
    # Warnings still reach the terminal, printed above the bar, and the summary comes last.
    assert "WARNING: Video originals missing" in plain
    assert "Run summary (finished, " in plain
    assert "31 listed on Flickr" in plain
    assert "Progress (finished)" not in plain  # the bar is the final display on a terminal
