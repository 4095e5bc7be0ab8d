"""A key is never driven past FLICKR_API_CALLS_PER_HOUR, by one run or by a restarted one.

The sandbox enforces the same hourly limit per key and counts every call that reaches it, and
every call it had to refuse; those counters are the measure, not our own stats.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT, crawl_args

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

LIMIT = 25  # calls per hour; the account needs about twice that


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("budget")
    args = ("--photos", "20", "--videos", "0", "--albums", "3", "--image-size", "small",
            "--api-limit", str(LIMIT))  # fmt: skip
    with Sandbox(*args, auth_file=tmp / "auth.json") as sandbox:
        yield sandbox


def _start(sandbox: Sandbox, archive: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = crawl_args(sandbox, archive, "-s", f"FLICKR_API_CALLS_PER_HOUR={LIMIT}",
                      "-s", f"LOG_FILE={log}", *extra)  # fmt: skip
    # The key's window in a state folder of this module's own: the same sandbox key's calls by
    # the session's other tests are not in it, a restarted run finds its predecessor's.
    assert sandbox.auth_file is not None
    state = str(sandbox.auth_file.parent / "state")
    return subprocess.Popen(
        [sys.executable, "-m", "scrapy", *args],
        cwd=ROOT,
        env=dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings", XDG_STATE_HOME=state),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait_for(what: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert proc.poll() is None, "the crawl ended on its own"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """Ctrl-C, as a user would; the run must end promptly even while it waits for budget."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def _waiting(log: Path) -> bool:
    return log.exists() and f"API budget of {LIMIT} calls/hour reached" in log.read_text()


def test_the_budget_holds_within_a_run_and_across_a_restart(limited, tmp_path):
    limited.reset_stats()
    archive = tmp_path / "archive"
    first = _start(limited, archive, tmp_path / "first.log")
    _wait_for(lambda: _waiting(tmp_path / "first.log"), first, timeout=120)
    time.sleep(1.0)  # nothing more may arrive while it waits
    stats = limited.stats()
    assert stats["api_calls"]["total"] == LIMIT
    assert stats["rate_limited"] == 0
    assert _stop(first) == 130

    # Restarted within the hour: the calls of the first run still count.
    second = _start(limited, archive, tmp_path / "second.log")
    _wait_for(lambda: _waiting(tmp_path / "second.log"), second, timeout=60)
    time.sleep(1.0)
    stats = limited.stats()
    assert stats["api_calls"]["total"] == LIMIT
    assert stats["rate_limited"] == 0
    assert _stop(second) == 130
    line = next(
        ln for ln in (tmp_path / "second.log").read_text().splitlines() if "API budget" in ln
    )
    wait = float(line.rsplit("next call in ", 1)[1].split()[0])
    assert 3500 < wait <= 3602


def test_without_the_saved_window_the_sandbox_refuses_calls(limited, tmp_path):
    """The control: a run that forgot the earlier calls would overrun the key, and the sandbox
    sees it (so the test above would have caught a budget that is not persisted)."""
    limited.reset_stats()
    before = limited.stats()["api_calls"]["total"]
    assert before == 0
    fresh = tmp_path / "elsewhere" / "api-calls.json"
    proc = _start(limited, tmp_path / "archive", tmp_path / "control.log",
                  "-s", f"FLICKR_API_BUDGET_FILE={fresh}")  # fmt: skip
    _wait_for(lambda: limited.stats()["rate_limited"] > 0, proc, timeout=60)
    _stop(proc)
