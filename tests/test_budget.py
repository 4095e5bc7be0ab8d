"""The hourly API budget never lets more than N calls into any rolling hour, across runs."""

from __future__ import annotations

import json
import stat

from flickr_crawl.downloader.budget import (
    SLACK,
    WINDOW,
    ApiBudget,
    RedisBudget,
    budget_file,
    state_dir,
)
from tests.helpers import crawl


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _send_ten(budget: ApiBudget, clock: Clock) -> list[float]:
    sent = []
    for _ in range(10):
        while (wait := budget.acquire()) > 0:
            clock.now += wait
        sent.append(clock.now)
        clock.now += 1
    return sent


def test_sliding_window():
    clock = Clock()
    sent = _send_ten(ApiBudget(3, clock), clock)
    # any window of one hour holds at most 3 calls
    for i, t in enumerate(sent):
        assert sum(1 for s in sent[i:] if s < t + WINDOW) <= 3
    assert sent[3] == sent[0] + WINDOW + SLACK


def test_unlimited_still_counts_the_hour():
    budget = ApiBudget(0, Clock())
    for _ in range(10000):
        assert budget.acquire() == 0
    assert budget.used() == 10000


def test_a_second_run_sees_the_first_runs_calls(tmp_path):
    clock = Clock()
    path = tmp_path / "cfg" / "api-calls.json"
    first = ApiBudget(3, clock, path)
    assert [first.acquire() for _ in range(3)] == [0, 0, 0]
    clock.now += 10
    second = ApiBudget(3, clock, path)  # a restart: nothing in memory
    assert second.used() == 3
    assert second.acquire() == WINDOW + SLACK - 10
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(json.loads(path.read_text())["sent"]) == 3


def test_an_unreadable_file_counts_as_a_full_hour(tmp_path):
    path = tmp_path / "api-calls.json"
    path.write_text("{not json")
    path.chmod(0o600)
    assert ApiBudget(5, Clock(), path).acquire() > 0


def test_an_unwritable_budget_file_is_a_one_line_error(sandbox, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = crawl(sandbox, tmp_path / "archive", "-s", "FLICKR_API_CALLS_PER_HOUR=3600",
                   "-s", f"FLICKR_API_BUDGET_FILE={blocker / 'api-calls.json'}")  # fmt: skip
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line
    target = blocker / "api-calls.json"
    assert line.startswith(f"error: cannot keep the API call count in {target}: ")
    assert line.endswith("; set FLICKR_API_BUDGET_FILE to a writable file")


def test_accounts_with_one_key_share_one_budget_whatever_their_auth_file(sandbox, tmp_path):
    """Two accounts' auth files in folders of their own, one API key: the calls of both are
    in one window, in the user's state folder (never beside an auth file)."""
    auth = json.loads(sandbox.auth_file.read_text())
    budget = budget_file("", auth["api_key"])
    before = len(json.loads(budget.read_text())["sent"]) if budget.exists() else 0
    counted = []
    for name in ("alice", "bob"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "auth.json").write_text(json.dumps(auth))
        (folder / "auth.json").chmod(0o600)
        run = crawl(sandbox, folder / "archive", "-s", "FLICKR_API_CALLS_PER_HOUR=3600",
                    auth_file=folder / "auth.json")  # fmt: skip
        assert run.returncode in (0, 2), run.stderr
        summary = json.loads(next((folder / "archive" / "logs").glob("*.json")).read_text())
        counted.append(summary["api_calls"])
        assert not list(folder.glob("api-calls-*"))
    assert budget.parent == state_dir()
    assert auth["api_key"] not in str(budget)
    assert len(json.loads(budget.read_text())["sent"]) == before + sum(counted)


def test_redis_keeps_one_window_for_every_process(redis_url):
    """Two budgets on one Redis (as two machines would have): 5 calls an hour in all."""
    first, second = (RedisBudget(5, redis_url, "key-shared-by-both") for _ in range(2))
    first.check()
    sent = [b.acquire() for b in (first, second, first, second, first)]
    assert sent == [0, 0, 0, 0, 0]
    wait = second.acquire()
    assert WINDOW <= wait <= WINDOW + SLACK  # the oldest of the 5 leaves the window then
    assert first.acquire() > 0
    assert first.used() == second.used() == 5
    other = RedisBudget(5, redis_url, "another-key")  # another key: a window of its own
    assert other.acquire() == 0
    assert other.used() == 1


def test_an_unreachable_redis_budget_is_a_one_line_error(sandbox, tmp_path):
    result = crawl(sandbox, tmp_path / "archive", "-s", "FLICKR_API_CALLS_PER_HOUR=3600",
                   "-s", "FLICKR_API_BUDGET_URL=redis://:hunter2@127.0.0.1:1/0")  # fmt: skip
    assert result.returncode == 1
    line = result.stderr.strip()
    assert line == (
        "error: the API budget at redis://***@127.0.0.1:1/0 does not answer; no API call can "
        "be counted, nothing was changed"
    )
    assert not (tmp_path / "archive").exists()
