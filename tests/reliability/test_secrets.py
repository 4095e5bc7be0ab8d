"""Secrets stay secret: token files are private from their first byte, and no token, secret,
signature or cookie reaches the logs (at DEBUG), the sidecars, the catalog or the run reports.
Scrapy's consoles that would run code (telnet, remote control) are off."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import urllib.request
from typing import TYPE_CHECKING, Any, Self

import pytest

from flickr_crawl.downloader.budget import state_dir
from flickr_crawl.sandbox.process import Sandbox
from flickr_crawl.settings import REMOTE_CONTROL_ENABLED, TELNETCONSOLE_ENABLED
from tests.helpers import ROOT, crawl, web_session
from tests.reliability.common import SMALL_ACCOUNT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

# What a signed request or a leaked session looks like, whatever the values.
SIGNATURE_SHAPES = re.compile(rb"oauth_signature|oauth_nonce|Authorization: OAuth|[?&]s=[\w-]{16}")


class ModeWatcher:
    """Polls a folder as fast as it can while a command runs, noting every file mode it sees:
    a file created readable and narrowed afterwards would show up here."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                entries = list(os.scandir(self.folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                try:
                    mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
                except FileNotFoundError:
                    continue
                self.seen[entry.name] = self.seen.get(entry.name, 0) | mode

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _run_with_umask_0(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    on_line: Callable[[str, Any], None] | None = None,
) -> tuple[int, str]:
    """Run ``scrapy ARGS`` with umask 0: any file not created private would be world-readable."""
    with subprocess.Popen(
        [sys.executable, "-m", "scrapy", *args], cwd=ROOT, umask=0, text=True,
        env=dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings", **(env or {})),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        out = []
        for line in proc.stdout:
            out.append(line)
            if on_line is not None:
                on_line(line, proc)
        return proc.wait(timeout=120), "".join(out)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    tmp = tmp_path_factory.mktemp("secrets")
    with Sandbox(*SMALL_ACCOUNT, "--seed", "51", auth_file=tmp / "auth.json") as sandbox:
        yield sandbox, tmp


def test_the_auth_file_is_private_from_its_first_byte(world, tmp_path):
    sandbox, _ = world
    account = sandbox.account(hashes=False)
    folder = tmp_path / "conf"
    auth_file = folder / "auth.json"
    base = sandbox.url.rstrip("/")
    settings = ["-s", f"FLICKR_AUTH_FILE={auth_file}",
                "-s", f"FLICKR_OAUTH_URL={base}/services/oauth/",
                "-s", f"FLICKR_API_URL={base}/services/rest/"]  # fmt: skip

    def approve(line: str, proc: Any) -> None:
        if "/services/oauth/authorize?" in line:
            page = urllib.request.urlopen(line.strip(), timeout=10).read().decode()
            verifier = re.search(r'id="verifier"[^>]*>\s*([0-9-]+)', page)
            assert verifier, page
            proc.stdin.write(verifier.group(1) + "\n")
            proc.stdin.flush()

    env = {"FLICKR_API_KEY": account["api_key"], "FLICKR_API_SECRET": account["api_secret"]}
    with ModeWatcher(folder) as watcher:
        code, out = _run_with_umask_0(["auth", "--no-browser", *settings], env=env,
                                      on_line=approve)  # fmt: skip
    assert code == 0, out
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert watcher.seen, "the watcher saw nothing"
    assert {name: oct(mode) for name, mode in watcher.seen.items() if mode & 0o077} == {}
    token = json.loads(auth_file.read_text())
    for secret in (token["api_secret"], token["oauth_token"], token["oauth_token_secret"]):
        assert secret not in out


@pytest.mark.requires_browser
def test_the_web_session_file_is_private_from_its_first_byte(world, tmp_path):
    sandbox, _ = world
    login = sandbox.account(hashes=False)["web_login"]
    folder = tmp_path / "conf"
    session = folder / "web-session.json"
    base = sandbox.url.rstrip("/")
    args = ["weblogin", "--username", login["username"],
            "-s", f"FLICKR_WEB_SESSION_FILE={session}", "-s", f"FLICKR_WEB_URL={base}/",
            "-s", f"FLICKR_AUTH_FILE={sandbox.auth_file}"]  # fmt: skip
    with ModeWatcher(folder) as watcher:
        code, out = _run_with_umask_0(args, env={"FLICKR_WEB_PASSWORD": login["password"]})
    assert code == 0, out
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert "web-session.browser" in watcher.seen  # the browser profile, 0700 like the rest
    assert {name: oct(mode) for name, mode in watcher.seen.items() if mode & 0o077} == {}
    for cookie in json.loads(session.read_text())["cookies"]:
        assert cookie["value"] not in out


def test_no_secret_reaches_logs_sidecars_catalog_or_reports(world, tmp_path):
    sandbox, _tmp = world
    account = sandbox.account(hashes=False)
    session = web_session(sandbox, tmp_path / "web-session.json")
    # cookie_accid is the account's public number (the nsid's digits); the rest is the session
    cookies = [c["value"] for c in json.loads(session.read_text())["cookies"]
               if c["name"] != "cookie_accid"]  # fmt: skip
    assert cookies
    archive = tmp_path / "archive"
    log = tmp_path / "crawl.log"
    result = crawl(sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}",
                   "-s", "LOG_LEVEL=DEBUG", "-s", f"LOG_FILE={log}",
                   "-s", "FLICKR_API_CALLS_PER_HOUR=3600")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    text = log.read_text(encoding="utf-8")
    assert "Crawled (200)" in text  # really at DEBUG: every request was logged, media too
    assert "/video/" in text  # including the signed video download

    secrets = [account["api_secret"], account["oauth_token"], account["oauth_token_secret"],
               *cookies]  # fmt: skip
    places = [log, *(p for p in archive.rglob("*") if p.is_file())]
    leaks = []
    for path in places:
        data = path.read_bytes()
        leaks += [(path.name, "secret") for s in secrets if s.encode() in data]
        leaks += [(path.name, m.group().decode("latin-1")) for m in SIGNATURE_SHAPES.finditer(data)]
    leaks += [("stderr", s) for s in secrets if s in result.stderr]
    assert sorted(set(leaks)) == []
    # the budget file is private too
    budget_files = list(state_dir().glob("api-calls-*.json"))
    assert budget_files
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in budget_files)


def test_no_console_that_runs_code_is_started(world, tmp_path):
    assert TELNETCONSOLE_ENABLED is False
    assert REMOTE_CONTROL_ENABLED is False
    sandbox, _ = world
    log = tmp_path / "crawl.log"
    result = crawl(sandbox, tmp_path / "archive", "-s", f"LOG_FILE={log}", "-s",
                   "CLOSESPIDER_PAGECOUNT=2")  # fmt: skip
    assert result.returncode in (0, 130), result.stderr[-2000:]
    text = log.read_text(encoding="utf-8")
    enabled = text.split("Enabled extensions:", 1)[1].split("\n2", 1)[0]
    assert "TelnetConsole" not in enabled
    assert "RemoteControl" not in enabled
    assert "Telnet console listening" not in text
