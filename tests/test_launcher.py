"""tests/launcher.py forks our commands from a process that has imported Scrapy already: a
command forked must end as the same command run in a new interpreter does (exit code,
stdout, stderr, files), or the suite would test something users do not run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import launcher
from tests.helpers import ROOT, crawl_args

# What differs between two runs of one command: clock times and durations, temp paths.
_VARIES = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d|\d{8}T\d{6}Z|\b\d+(\.\d+)? ?s\b|/tmp/\S+")


def _env() -> dict[str, str]:
    return dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings")


Run = subprocess.CompletedProcess[str]


def _both(*args: str, input: str | None = None, new_args: tuple[str, ...] = ()) -> tuple[Run, Run]:
    """``scrapy ARGS`` forked, then in a new interpreter (with ``new_args`` instead if given)."""
    if not launcher.forked(_env()):
        pytest.skip("FLICKR_TESTS_SUBPROCESS=1: every command runs in a new interpreter")
    forked = launcher.run(list(args), cwd=ROOT, env=_env(), timeout=300, input=input)
    new = subprocess.run(
        [sys.executable, "-m", "scrapy", *(new_args or args)], cwd=ROOT, env=_env(),
        capture_output=True, text=True, timeout=300, input=input, check=False,
    )  # fmt: skip
    return forked, new


def _same_text(a: str, b: str) -> None:
    assert _VARIES.sub("~", a) == _VARIES.sub("~", b)


def test_a_command_prints_and_exits_the_same():
    forked, new = _both("list")
    assert (forked.returncode, forked.stdout, forked.stderr) == (0, new.stdout, new.stderr)
    assert "photostream" in forked.stdout.split()


def test_a_bad_setting_is_the_same_one_line_and_exit_code(tmp_path):
    args = ("crawl", "photostream", "-s", f"FLICKR_ARCHIVE_DIR={tmp_path / 'a'}",
            "-s", "FLICKR_MEDIA_CONCURRENCY=abc")  # fmt: skip
    forked, new = _both(*args)
    assert forked.returncode == new.returncode != 0
    assert forked.stderr == new.stderr
    assert len(forked.stderr.strip().splitlines()) == 1


def test_an_uncaught_error_prints_the_same_traceback_and_exits_1(tmp_path):
    spider = tmp_path / "boom.py"
    spider.write_text('raise RuntimeError("boom in the spider file")\n')
    forked, new = _both("runspider", str(spider), "-s", f"FLICKR_ARCHIVE_DIR={tmp_path / 'a'}")
    assert forked.returncode == new.returncode == 1
    assert forked.stderr.splitlines()[-1] == new.stderr.splitlines()[-1]
    assert forked.stderr.splitlines()[-1] == "RuntimeError: boom in the spider file"
    assert "Traceback (most recent call last)" in forked.stderr


def test_stdin_reaches_the_command(tmp_path):
    spider = tmp_path / "echo.py"
    spider.write_text(
        "import sys\nimport scrapy\n\n\nclass Echo(scrapy.Spider):\n    name = 'echo'\n\n"
        "    async def start(self):\n        print('read:', sys.stdin.read().upper())\n"
        "        return\n        yield\n"
    )
    args = ("runspider", str(spider), "--nolog", "-s", f"FLICKR_ARCHIVE_DIR={tmp_path / 'a'}")
    forked, new = _both(*args, input="verifier 123-456")
    assert (forked.returncode, forked.stdout) == (new.returncode, new.stdout)
    assert "read: VERIFIER 123-456" in forked.stdout


def _files(archive: Path) -> dict[str, int]:
    kept = (p for p in archive.rglob("*") if p.is_file() and "logs" not in p.parts)
    return {str(p.relative_to(archive)): p.stat().st_size for p in kept
            if not p.name.startswith("catalog.db")}  # fmt: skip


def test_a_crawl_leaves_the_same_archive_summary_and_output(sandbox, tmp_path):
    one, two = tmp_path / "a", tmp_path / "b"
    forked, new = _both(*crawl_args(sandbox, one), new_args=tuple(crawl_args(sandbox, two)))
    assert forked.returncode == new.returncode == 2  # the sandbox's videos need a web session
    _same_text(forked.stderr, new.stderr)
    assert _files(one) == _files(two)
    summaries = [json.loads(max((a / "logs").glob("*.json")).read_text()) for a in (one, two)]
    keys = ("photos_listed", "photos_new", "files_downloaded", "api_calls", "videos_missing")
    assert [summaries[0].get(k) for k in keys] == [summaries[1].get(k) for k in keys]
    assert summaries[0]["files_downloaded"] > 0


def test_a_signal_ends_a_forked_command_as_it_ends_a_new_one(sandbox, tmp_path):
    if not launcher.forked(_env()):
        pytest.skip("FLICKR_TESTS_SUBPROCESS=1: every command runs in a new interpreter")
    codes = []
    for n, how in enumerate(("forked", "new")):
        args = crawl_args(sandbox, tmp_path / f"a{n}")
        proc: launcher.Command | subprocess.Popen[bytes]
        if how == "forked":
            proc = launcher.start(args, cwd=ROOT, env=_env())
        else:
            proc = subprocess.Popen([sys.executable, "-m", "scrapy", *args], cwd=ROOT,
                                    env=_env(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)  # fmt: skip
        while not (tmp_path / f"a{n}" / "logs").is_dir() and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        codes.append(proc.wait(60))
    assert codes == [-signal.SIGKILL, -signal.SIGKILL]


def test_a_changed_startup_variable_needs_a_new_interpreter():
    assert launcher.forked(_env()) != (os.environ.get("FLICKR_TESTS_SUBPROCESS") == "1")
    assert not launcher.forked({**_env(), "PYTHONPATH": str(Path(ROOT, "nowhere"))})
