"""Scheduled backups (issue 20): many jobs, one engine. One writer per archive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.archive.lock import LOCK_NAME
from flickr_crawl.extensions.report import RESULT_PREFIX
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT, crawl, crawl_args, run_log, scrapy, sidecars

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def slow_sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox slow enough (0.3 s per API call, 1.5 s per photo file) that a crawl is still
    running when a second one starts."""
    auth = tmp_path_factory.mktemp("slow") / "auth.json"
    with Sandbox("--image-size", "small", "--photos", "20", "--videos", "0", "--slow", "0.3",
                 "--media-slow", "1.5", auth_file=auth) as sb:  # fmt: skip
        yield sb


def _start(sandbox: Sandbox, archive: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scrapy", *crawl_args(sandbox, archive)],
        cwd=ROOT, env=dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_running(proc: subprocess.Popen[str], archive: Path) -> None:
    lock = archive / LOCK_NAME
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (
            lock.is_file()
            and lock.read_text() == "running\n"
            and (archive / "catalog.db").is_file()
        ):
            return
        time.sleep(0.05)
    raise AssertionError("the first crawl never started writing")


def test_a_second_writer_on_a_live_archive_is_refused_at_start(slow_sandbox, tmp_path):
    archive = tmp_path / "archive"
    first = _start(slow_sandbox, archive)
    try:
        _wait_running(first, archive)
        before = _api_calls(slow_sandbox)
        logs = sorted((archive / "logs").glob("*"))
        assert (archive / "catalog.db").is_file()
        for spider, args in (
            ("photostream", ()),
            ("favorites", ()),
            ("redownload", ("-a", "missing=1")),
        ):
            second = crawl(slow_sandbox, archive, *args, spider=spider)
            assert second.returncode == 1, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert lines[0].startswith("error: another run is writing to the archive"), lines
            assert str(archive) in lines[0]
        fix = scrapy("verify", "--fix", "-s", f"FLICKR_ARCHIVE_DIR={archive}")
        assert fix.returncode == 1
        assert "another run is writing to the archive" in fix.stderr
        assert first.poll() is None, "the first crawl should still be running"
        assert sorted((archive / "logs").glob("*")) == logs  # no log or summary of theirs
        assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
        during = _api_calls(slow_sandbox) - before
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if first.stderr:
            first.stderr.close()
    # The refused runs spent no API call: the calls the sandbox answered meanwhile were the
    # first crawl's, as its own summary counts them.
    assert 0 < during <= _calls_in_last_run(archive)


def _api_calls(sandbox: Sandbox) -> int:
    return int(sandbox.stats()["api_calls"]["total"])


def test_a_killed_crawl_does_not_keep_the_archive_locked(slow_sandbox, tmp_path):
    archive = tmp_path / "archive"
    first = _start(slow_sandbox, archive)
    try:
        _wait_running(first, archive)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.stderr:
            first.stderr.close()
    again = crawl(slow_sandbox, archive)
    assert again.returncode == 0, again.stderr
    assert "another run" not in again.stderr


# -- Every outcome reaches the log -----------------------------------------------------------


def _results(log: str) -> list[dict[str, Any]]:
    """The ``Run result: {json}`` lines of a log."""
    return [
        json.loads(line.split(RESULT_PREFIX, 1)[1])
        for line in log.splitlines()
        if RESULT_PREFIX in line
    ]


def test_a_run_that_cannot_start_writes_its_error_into_the_job_log(tmp_path):
    job_log = (
        tmp_path / "job.log"
    )  # what scrapyd passes: -s LOG_FILE=logs/<project>/<spider>/<job>.log
    run = scrapy(
        "crawl", "photostream",
        "-s", f"FLICKR_AUTH_FILE={tmp_path / 'none.json'}",
        "-s", f"FLICKR_ARCHIVE_DIR={tmp_path / 'archive'}",
        "-s", f"LOG_FILE={job_log}",
        env={"FLICKR_API_KEY": "", "FLICKR_API_SECRET": ""},
    )  # fmt: skip
    assert run.returncode == 1
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    error = run.stderr.strip().removeprefix("error: ")
    log = job_log.read_text(encoding="utf-8")
    assert f"ERROR: Cannot run: {error}" in log
    assert _results(log) == [
        {"status": "cannot_run", "exit_code": 1, "spider": "photostream", "error": error}
    ]
    assert not (tmp_path / "archive").exists()


def test_each_run_ends_with_its_outcome_in_the_log_summary_and_stats(sandbox, tmp_path):
    """The session sandbox has videos and the crawl no web session: exit 2, status incomplete."""
    archive, job_log = tmp_path / "archive", tmp_path / "job.log"
    run = crawl(sandbox, archive, "-s", f"LOG_FILE={job_log}")
    assert run.returncode == 2, run.stderr
    summary = json.loads(next((archive / "logs").glob("*.json")).read_text(encoding="utf-8"))
    assert summary["status"] == "incomplete"
    assert summary["exit_code"] == 2
    for log in (job_log.read_text(encoding="utf-8"), run_log(archive)):
        (result,) = _results(log)
        assert result["status"] == "incomplete"
        assert result["exit_code"] == 2
        assert result["missing_videos"] == len(summary["missing_videos"]) > 0
        assert result["photos_listed"] == summary["photos_listed"] > 0
        assert result["api_calls"] == summary["api_calls"] > 0
        assert result["summary"] == str(next((archive / "logs").glob("*.json")))
    assert "'flickr/exit_code': 2" in job_log.read_text(encoding="utf-8")  # the stats dump


def test_a_clean_run_says_ok_and_exit_0(tmp_path):
    archive = tmp_path / "archive"
    with Sandbox("--image-size", "small", "--photos", "6", "--videos", "0",
                 auth_file=tmp_path / "auth.json") as sandbox:  # fmt: skip
        assert crawl(sandbox, archive).returncode == 0
    (result,) = _results(run_log(archive))
    assert (result["status"], result["exit_code"], result["failed"]) == ("ok", 0, 0)
    summary = json.loads(next((archive / "logs").glob("*.json")).read_text(encoding="utf-8"))
    assert (summary["status"], summary["exit_code"]) == ("ok", 0)


# -- Many accounts, one API key, one budget in Redis ----------------------------------------

ACCOUNTS = 3
KEY_LIMIT = 60  # calls an hour for the one key: less than the 3 accounts need together
SANDBOX_ARGS = ("--accounts", str(ACCOUNTS), "--api-limit", str(KEY_LIMIT), "--photos", "8",
                "--videos", "0", "--albums", "2", "--image-size", "small",
                "--slow", "0.3")  # fmt: skip


def _one_hour(sandbox: Sandbox, archives: dict[int, Path], redis_url: str,
              refused: bool = False) -> dict[int, int]:  # fmt: skip
    """Start the accounts' crawls at once, all on the key's budget in Redis (with no URL, each
    on a budget file of its own, as when budgets were kept beside each auth file); once the
    hour's calls are spent and none arrives for 3 s (or, ``refused``, once the sandbox refused
    a call), press Ctrl-C in those still waiting. Exit codes."""
    procs = {}
    for n, archive in archives.items():
        own = archive.parent / f"api-calls-{n}.json"
        budget = (
            f"FLICKR_API_BUDGET_URL={redis_url}" if redis_url else f"FLICKR_API_BUDGET_FILE={own}"
        )
        args = crawl_args(sandbox, archive, "-s", f"FLICKR_API_CALLS_PER_HOUR={KEY_LIMIT}",
                          "-s", budget, auth_file=sandbox.auth_file_of(n))  # fmt: skip
        procs[n] = subprocess.Popen(
            [sys.executable, "-m", "scrapy", *args],
            cwd=ROOT, env=dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        last, quiet_since, deadline = -1, time.monotonic(), time.monotonic() + 300
        while any(p.poll() is None for p in procs.values()):
            assert time.monotonic() < deadline, "the crawls neither ended nor spent the hour"
            stats = sandbox.stats()
            total = int(stats["api_calls"]["total"])
            if total != last:
                last, quiet_since = total, time.monotonic()
            spent = total >= KEY_LIMIT and time.monotonic() - quiet_since > 3
            if spent or (refused and stats["rate_limited"]):
                for proc in procs.values():
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.2)
        return {n: p.wait(timeout=60) for n, p in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _calls_in_last_run(archive: Path) -> int:
    newest = max((archive / "logs").glob("*.json"))
    return int(json.loads(newest.read_text(encoding="utf-8"))["api_calls"])


def test_three_accounts_on_one_key_share_its_budget_in_redis(redis_url, tmp_path):
    """Three accounts under one key, each its own crawl at the same time, the key's hourly
    budget kept in a real Redis: Flickr (the sandbox, which enforces the limit per key) never
    refuses a call, no hour gets more than the limit, every account gets a fair share of it,
    and the three archives are complete once the next hours' runs resumed them. An hour
    passing is a restarted sandbox (its count starts again) and an emptied Redis database."""
    import redis

    archives = {n: tmp_path / f"account-{n}" for n in range(1, ACCOUNTS + 1)}
    auth = tmp_path / "auth.json"
    done: dict[int, int] = {}
    hours = []
    for _hour in range(4):
        redis.Redis.from_url(redis_url).flushdb()
        with Sandbox(*SANDBOX_ARGS, auth_file=auth) as sandbox:
            todo = {n: a for n, a in archives.items() if done.get(n) != 0}
            codes = _one_hour(sandbox, todo, redis_url)
            stats = sandbox.stats()
            hours.append({n: _calls_in_last_run(todo[n]) for n in todo})
            assert stats["rate_limited"] == 0, f"the key was driven past its limit: {stats}"
            assert stats["api_calls"]["total"] <= KEY_LIMIT
            assert sum(hours[-1].values()) == stats["api_calls"]["total"]  # counted right
            assert set(codes.values()) <= {0, 130}, codes
            done.update(codes)
            truth = {n: sandbox.account(number=n) for n in archives}
        if all(code == 0 for code in done.values()):
            break
    assert all(code == 0 for code in done.values()), (done, hours)
    assert len(hours) >= 2, "the limit was meant to be too low for one hour"
    # The first hour, when all three wanted calls: none was starved by the others.
    first = hours[0]
    assert min(first.values()) >= KEY_LIMIT // (2 * ACCOUNTS), first
    for n, archive in archives.items():
        assert set(sidecars(archive)) == {p["id"] for p in truth[n]["photos"]}
    owners = {truth[n]["owner"]["nsid"] for n in archives}
    assert len(owners) == ACCOUNTS


def test_control_a_budget_per_account_drives_the_key_past_its_limit(tmp_path):
    """The control: with a window per account (per auth file, as before), three accounts
    together overrun the key and the sandbox refuses calls, so the test above would have
    caught budgets that are not shared."""
    archives = {n: tmp_path / f"account-{n}" for n in range(1, ACCOUNTS + 1)}
    with Sandbox(*SANDBOX_ARGS, auth_file=tmp_path / "auth.json") as sandbox:
        _one_hour(sandbox, archives, "", refused=True)
        assert sandbox.stats()["rate_limited"] > 0
