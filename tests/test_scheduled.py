"""Scheduled backups (issue 20): many jobs, one engine. One writer per archive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from flickr_crawl.archive.lock import LOCK_NAME
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT, crawl, crawl_args, scrapy

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
    # The refused runs spent no API call: the calls made meanwhile were the first crawl's
    # (at most all of a whole crawl's calls).
    start = _api_calls(slow_sandbox)
    assert crawl(slow_sandbox, tmp_path / "alone").returncode == 0
    assert during <= _api_calls(slow_sandbox) - start


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
