"""Signing in to Flickr's web pages through scrapy-playwright, for real: ``scrapy weblogin``,
and a crawl that signs in again when Flickr refuses the web session.

The sandbox plays Flickr: ``play/orig`` answers 404 without a valid web session, its sign-in
page sets ``cookie_accid``/``cookie_epass``, ``expire_web_sessions`` signs every session out
(as an expired or revoked session), and it counts sign-in forms sent and sessions started.
Commands run as a user runs them, in headless Chromium.
"""

from __future__ import annotations

import hashlib
import json
import stat
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.demo import sandbox_settings
from flickr_crawl.flickr.websession import cookie_header, load_cookies
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl_args, run_log, scrapy, sidecars

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.requires_browser

WRONG = "not-the-password-7731"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("websignin")
    args = ("--photos", "4", "--videos", "3", "--image-size", "small", "--video-size", "300000",
            "--seed", "5")  # fmt: skip
    with Sandbox(*args, auth_file=tmp / "auth.json") as sandbox:
        account = sandbox.account()
        videos = [p for p in account["photos"] if p["media"] == "video"]
        yield SimpleNamespace(sandbox=sandbox, tmp=tmp, login=account["web_login"], videos=videos)


def _weblogin(world: Any, session: Path) -> Any:
    settings = sandbox_settings(world.sandbox.url, world.sandbox.auth_file, world.tmp / "unused")
    return scrapy("weblogin", "--username", world.login["username"], *settings,
                  "-s", f"FLICKR_WEB_SESSION_FILE={session}",
                  env={"FLICKR_WEB_PASSWORD": world.login["password"]}, timeout=180)  # fmt: skip


def _crawl(world: Any, archive: Path, session: Path, password: str) -> Any:
    args = crawl_args(world.sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}")
    return scrapy(*args, env={"FLICKR_WEB_PASSWORD": password}, timeout=300)


def _plays(world: Any, session: Path) -> bool:
    """Does Flickr give a video original to this session file's cookies (a 302 to the CDN)?"""
    url = world.videos[0]["video"]["play_url"]
    header = cookie_header(load_cookies(session), url)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    request = urllib.request.Request(url, headers={"Cookie": header or ""})
    try:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    except urllib.error.HTTPError as answer:
        return answer.code == 302 and "/video/" in answer.headers.get("Location", "")
    return False


def _signins(world: Any) -> tuple[int, int]:
    """(sign-in forms sent, sessions started) since the last reset."""
    stats = world.sandbox.stats()
    return stats["web_signin_posts"], stats["web_signins"]


def _signed_in_expired(world: Any, name: str) -> tuple[Path, bytes]:
    """A session file from weblogin, then signed out on Flickr's side; its bytes."""
    session = world.tmp / f"{name}.json"
    assert _weblogin(world, session).returncode == 0
    world.sandbox.expire_web_sessions()
    assert not _plays(world, session)
    world.sandbox.reset_stats()
    return session, session.read_bytes()


def test_weblogin_keeps_a_browser_profile_and_saves_a_working_session(world):
    session = world.tmp / "session-a.json"
    world.sandbox.reset_stats()
    result = _weblogin(world, session)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == (
        f"Signed in to Flickr; web session saved to {session} (mode 0600)."
    )
    assert result.stderr == ""
    assert _signins(world) == (1, 1)
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    state = json.loads(session.read_text())
    assert state["username"] == world.login["username"]  # for a crawl to sign in again
    assert _plays(world, session)
    # The persistent browser context's profile, beside the session file, private.
    profile = world.tmp / "session-a.browser"
    assert stat.S_IMODE(profile.stat().st_mode) == 0o700
    assert (profile / "Default").is_dir()  # Chromium's profile, not an empty folder
    for secret in [world.login["password"], *(c["value"] for c in state["cookies"])]:
        assert secret not in result.stdout + result.stderr

    # A crawl whose session works neither signs in nor starts a browser.
    world.sandbox.reset_stats()
    archive = world.tmp / "archive-a"
    crawled = _crawl(world, archive, session, world.login["password"])
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    assert _signins(world) == (0, 0)
    assert "scrapy-playwright" not in run_log(archive)


def test_an_expired_session_signs_in_again_once_inside_the_crawl(world):
    session, old = _signed_in_expired(world, "session-b")
    archive = world.tmp / "archive-b"
    result = _crawl(world, archive, session, world.login["password"])
    assert result.returncode == 0, result.stderr[-3000:]
    # Three videos refused at once (8 downloads in flight): one sign-in for all of them.
    assert _signins(world) == (1, 1)
    records = sidecars(archive)
    for video in world.videos:
        file = records[video["id"]][0]["file"]
        assert file["status"] == "downloaded"
        path = archive / file["path"]
        assert path.suffix == f".{video['video']['container']}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == video["video"]["sha256"]
    # The renewed session was saved (0600), and works for the next run.
    assert session.read_bytes() != old
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert _plays(world, session)
    log = run_log(archive)
    assert log.count("Web session refused; signed in again as") == 1
    assert "'flickr/websession/signin': 1" in log
    assert "'flickr/websession/retried': 3" in log
    secrets = [world.login["password"], *(c["value"] for c in load_cookies(session))]
    for secret in secrets:
        assert secret not in log + result.stdout + result.stderr


def test_without_the_password_an_expired_session_is_reported_with_the_way_out(world):
    session, old = _signed_in_expired(world, "session-c")
    archive = world.tmp / "archive-c"
    result = _crawl(world, archive, session, "")
    assert result.returncode == 2
    assert result.stderr.count("Video originals missing: the web session was refused") == 1
    assert "set FLICKR_WEB_PASSWORD, and a crawl signs in again itself" in result.stderr
    assert "3 videos are missing" in result.stderr
    assert _signins(world) == (0, 0)
    assert "scrapy-playwright" not in run_log(archive)  # no browser started
    assert session.read_bytes() == old
    records = sidecars(archive)
    assert {records[v["id"]][0]["file"]["status"] for v in world.videos} == {"missing"}
    assert not [p for p in archive.rglob("*") if p.suffix in (".mp4", ".mov")]


def test_a_wrong_password_inside_the_crawl_is_one_attempt_without_a_traceback(world):
    session, old = _signed_in_expired(world, "session-d")
    archive = world.tmp / "archive-d"
    result = _crawl(world, archive, session, WRONG)
    assert result.returncode == 2
    assert _signins(world) == (1, 0)  # one form sent, for three refused videos
    assert result.stderr.count(
        "Web session refused; signing in again failed: Flickr did not sign you in: "
        "Invalid email or password."
    ) == 1  # fmt: skip
    assert result.stderr.count(
        "Video originals missing: the web session was refused, and signing in again"
    ) == 1  # fmt: skip
    assert "3 videos are missing" in result.stderr
    log = run_log(archive)
    assert "Traceback" not in result.stderr + log
    assert WRONG not in result.stderr + log
    assert session.read_bytes() == old  # the old session file is left as it was
    records = sidecars(archive)
    for video in world.videos:
        file = records[video["id"]][0]["file"]
        assert file["status"] == "missing"
        assert not file.get("path")  # no poster saved under the video's name
    assert not [p for p in archive.rglob("*") if p.suffix in (".mp4", ".mov")]
