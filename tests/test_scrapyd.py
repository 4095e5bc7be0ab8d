"""The project on a real scrapyd (issue 20): deployed as an egg with scrapyd-deploy, one job
per account under one API key (its budget in a real Redis), and a job that cannot run. The
operator's view: listjobs calls every ended job "finished"; each job's log says how it ended."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.demo import sandbox_settings
from flickr_crawl.extensions.report import RESULT_PREFIX
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT, sidecars

if TYPE_CHECKING:
    from collections.abc import Iterator

PROJECT = "flickr_crawl"
BIN = Path(sys.executable).parent
LIMIT = 150  # the key's calls an hour: enough for the three small accounts together


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scrapyd on 127.0.0.1 with this project deployed as an egg by scrapyd-deploy; its URL."""
    if not (BIN / "scrapyd").exists() or not (BIN / "scrapyd-deploy").exists():
        pytest.skip("scrapyd and scrapyd-client are not installed (pip install -e '.[test]')")
    tmp = tmp_path_factory.mktemp("scrapyd")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server = tmp / "server"
    server.mkdir()
    (server / "scrapyd.conf").write_text(
        "[scrapyd]\nbind_address = 127.0.0.1\n"
        f"http_port = {port}\neggs_dir = eggs\nlogs_dir = logs\ndbs_dir = dbs\nitems_dir =\n"
        "max_proc = 4\npoll_interval = 0.5\n"
    )
    proc = subprocess.Popen([BIN / "scrapyd"], cwd=server, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "daemonstatus.json", timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None, "scrapyd exited"
                assert time.monotonic() < deadline, "scrapyd did not start"
                time.sleep(0.2)
        # scrapyd-deploy writes setup.py and build/ where it runs: a copy of the project.
        project = tmp / "project"
        project.mkdir()
        for name in ("flickr_crawl", "spiders", "pipelines"):
            shutil.copytree(ROOT / name, project / name,
                            ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, project / name)
        (project / "scrapy.cfg").write_text(
            (ROOT / "scrapy.cfg").read_text() + f"\n[deploy]\nurl = {url}\nproject = {PROJECT}\n"
        )
        deploy = subprocess.run([BIN / "scrapyd-deploy"], cwd=project, capture_output=True,
                                text=True, timeout=300, check=False)  # fmt: skip
        assert deploy.returncode == 0, deploy.stderr
        assert json.loads(deploy.stdout)["spiders"] == 3
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _api(url: str, path: str, pairs: list[tuple[str, str]] | None = None) -> Any:
    data = urllib.parse.urlencode(pairs).encode() if pairs is not None else None
    with urllib.request.urlopen(url + path, data=data, timeout=30) as resp:
        return json.loads(resp.read())


def _result(url: str, job: dict[str, Any]) -> dict[str, Any]:
    """The ``Run result`` of a finished job, from its log as scrapyd serves it."""
    with urllib.request.urlopen(url.rstrip("/") + job["log_url"], timeout=30) as resp:
        log = resp.read().decode()
    (line,) = [line for line in log.splitlines() if RESULT_PREFIX in line]
    return dict(json.loads(line.split(RESULT_PREFIX, 1)[1]))


def test_one_job_per_account_on_scrapyd_and_failed_jobs_visible(scrapyd, redis_url, tmp_path):
    auth = tmp_path / "auth.json"
    args = ("--accounts", "3", "--api-limit", str(LIMIT), "--photos", "6", "--videos", "0",
            "--albums", "2", "--image-size", "small")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        # deploy/'s layout: <root>/accounts/<name>/auth.json -> <root>/archives/<name>/
        root = tmp_path / "flickr"
        names = {1: "alice", 2: "bob", 3: "carol"}
        for n, name in names.items():
            (root / "accounts" / name).mkdir(parents=True)
            shutil.copy(sandbox.auth_file_of(n), root / "accounts" / name / "auth.json")
        (root / "accounts" / "dave").mkdir()  # an account whose token file is unreadable
        (root / "accounts" / "dave" / "auth.json").write_text("{}")
        names[4] = "dave"
        endpoints = sandbox_settings(sandbox.url, auth, tmp_path / "unused")[1:6:2]
        settings = [*endpoints, f"FLICKR_API_CALLS_PER_HOUR={LIMIT}",
                    f"FLICKR_API_BUDGET_URL={redis_url}"]  # fmt: skip
        run = subprocess.run(
            [sys.executable, ROOT / "deploy" / "schedule.py", "--root", root, "--url", scrapyd,
             *(arg for s in settings for arg in ("--setting", s))],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        by_name = dict(line.split("\t") for line in run.stdout.splitlines())
        jobs = {n: by_name[name] for n, name in names.items()}
        deadline = time.monotonic() + 300
        while True:
            listed = _api(scrapyd, f"listjobs.json?project={PROJECT}")
            finished = {j["id"]: j for j in listed["finished"] if j["id"] in jobs.values()}
            if len(finished) == len(jobs):
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.5)
        stats = sandbox.stats()
        truth = {n: sandbox.account(number=n) for n in (1, 2, 3)}
    results = {n: _result(scrapyd, finished[job]) for n, job in jobs.items()}
    for n in (1, 2, 3):
        assert (results[n]["status"], results[n]["exit_code"]) == ("ok", 0), results[n]
        archive = root / "archives" / names[n]
        assert set(sidecars(archive)) == {p["id"] for p in truth[n]["photos"]}
    assert (results[4]["status"], results[4]["exit_code"]) == ("cannot_run", 1), results[4]
    assert not (root / "archives" / "dave").exists()
    assert stats["rate_limited"] == 0
    assert stats["api_calls"]["total"] == sum(results[n]["api_calls"] for n in (1, 2, 3))
