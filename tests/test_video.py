"""Every video, for real: weblogin in headless Chromium, findmissing, redownload, verify.

The sandbox plays Flickr: ``play/orig`` answers 404 without web-login cookies and redirects
to a signed, expiring CDN URL with them. Commands run as a user runs them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import stat
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.demo import sandbox_settings
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, scrapy, sidecars, web_session

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.requires_browser


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("video")
    auth = tmp / "auth.json"
    args = ("--photos", "8", "--videos", "3", "--albums", "2", "--image-size", "small",
            "--video-size", "400000", "--seed", "21")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        yield SimpleNamespace(sandbox=sandbox, tmp=tmp, account=sandbox.account())


def _settings(world: Any, archive: Path, session: Path) -> list[str]:
    return [*sandbox_settings(world.sandbox.url, world.sandbox.auth_file, archive),
            "-s", f"FLICKR_WEB_SESSION_FILE={session}"]  # fmt: skip


def _weblogin(world: Any, session: Path, password: str | None = None, *extra: str) -> Any:
    login = world.account["web_login"]
    env = {"FLICKR_WEB_PASSWORD": password or login["password"]}
    settings = _settings(world, world.tmp / "unused", session)
    return scrapy("weblogin", "--username", login["username"], *extra, *settings, env=env,
                  timeout=180)  # fmt: skip


def _videos(world: Any) -> list[dict[str, Any]]:
    return [p for p in world.account["photos"] if p["media"] == "video"]


def test_without_a_session_videos_are_missing_then_redownloaded(world):
    archive = world.tmp / "archive"
    session = world.tmp / "session.json"
    first = crawl(world.sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}")
    assert first.returncode == 2
    assert first.stderr.count("Video originals missing: no web session") == 1  # said once

    # findmissing lists exactly the videos, with the reason and the page URL
    listing = world.tmp / "missing.csv"
    found = scrapy("findmissing", "-o", str(listing), *_settings(world, archive, session))
    assert found.returncode == 2, found.stderr  # something is missing
    rows = list(csv.DictReader(listing.read_text(encoding="utf-8").splitlines()))
    assert {r["id"] for r in rows} == {v["id"] for v in _videos(world)}
    assert all("weblogin" in r["reason"] and r["page_url"].startswith("http") for r in rows)

    # sign in with headless Chromium through the sandbox's sign-in page
    login = _weblogin(world, session)
    assert login.returncode == 0, login.stderr[-2000:]
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    for cookie in json.loads(session.read_text())["cookies"]:
        assert cookie["value"] not in login.stdout + login.stderr

    world.sandbox.reset_stats()
    settings = [*_settings(world, archive, session), "-s", "FLICKR_API_CALLS_PER_HOUR=0"]
    again = scrapy("crawl", "redownload", "-a", f"ids={listing}", *settings)
    assert again.returncode == 0, again.stderr[-3000:]
    assert world.sandbox.stats()["api_calls"]["total"] == 0  # rebuilt from catalog.db
    records = sidecars(archive)
    for video in _videos(world):
        file = records[video["id"]][0]["file"]
        assert file["status"] == "downloaded"
        path = archive / file["path"]
        assert path.suffix == f".{video['video']['container']}"  # from the response, not fixed
        assert _sha256(path) == video["video"]["sha256"]
        assert records[video["id"]][0]["title"] == video["title"]
    left = scrapy("findmissing", *_settings(world, archive, session))
    assert left.returncode == 0
    assert left.stdout.splitlines() == ["id,media,title,page_url,path,reason"]
    assert "0 missing or incomplete" in left.stderr


def test_a_crawl_with_a_session_gets_every_video(world):
    session = web_session(world.sandbox, world.tmp / "session-2.json")  # (weblogin: above)
    archive = world.tmp / "archive-2"
    result = crawl(world.sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}")
    assert result.returncode == 0, result.stderr[-3000:]
    records = sidecars(archive)
    for video in _videos(world):
        path = archive / records[video["id"]][0]["file"]["path"]
        assert _sha256(path) == video["video"]["sha256"]

    # verify: all good, then three kinds of damage are caught
    settings = _settings(world, archive, session)
    assert scrapy("verify", *settings).returncode == 0
    video_a, video_b = (archive / records[v["id"]][0]["file"]["path"] for v in _videos(world)[:2])
    photo = next(archive / r[0]["file"]["path"] for r in records.values()
                 if r[0]["media"] == "photo")  # fmt: skip
    with video_a.open("r+b") as fh:  # truncated
        fh.truncate(video_a.stat().st_size // 2)
    poster = next(p for p in archive.rglob("*.jpg"))
    video_b.write_bytes(poster.read_bytes())  # a poster saved as a video
    data = bytearray(photo.read_bytes())  # one changed byte
    data[-10] ^= 0xFF
    photo.write_bytes(bytes(data))
    checked = scrapy("verify", "--fix", *settings)
    assert checked.returncode == 2
    lines = checked.stdout.strip().splitlines()
    assert len(lines) == 3
    reasons = "\n".join(lines)
    assert "size" in reasons
    assert "changed" in reasons
    assert "3 marked for" in checked.stderr

    fixed = scrapy("crawl", "redownload", "-a", "missing=1", *settings,
                   "-s", "FLICKR_API_CALLS_PER_HOUR=0")  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert scrapy("verify", *settings).returncode == 0


def test_a_poster_under_a_video_name_is_caught(world):
    """verify checks the type even when size and hash were recorded for the wrong bytes."""
    session = world.tmp / "session-2.json"
    archive = world.tmp / "archive-2"
    video = _videos(world)[2]
    db = sqlite3.connect(archive / "catalog.db")
    path = db.execute("select path from files where photo_id = ?", (video["id"],)).fetchone()[0]
    poster = next(p for p in archive.rglob("*.jpg"))
    (archive / path).write_bytes(poster.read_bytes())
    with db:  # as if a tool had recorded the poster's own size and hash
        db.execute("update files set size = ?, sha256 = ? where photo_id = ?",
                   (poster.stat().st_size, _sha256(poster), video["id"]))  # fmt: skip
    db.close()
    checked = scrapy("verify", *_settings(world, archive, session))
    assert checked.returncode == 2
    assert "not a video: the bytes are jpeg" in checked.stdout


def test_an_expired_session_is_reported_once(world):
    session = web_session(world.sandbox, world.tmp / "session-3.json")
    world.sandbox.expire_web_sessions()
    result = crawl(world.sandbox, world.tmp / "archive-3", "-s",
                   f"FLICKR_WEB_SESSION_FILE={session}")  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("Video originals missing: the web session was refused") == 1
    assert "3 videos are missing" in result.stderr


def test_a_wrong_password_fails_as_soon_as_the_page_says_so(world):
    session = world.tmp / "session-4.json"
    started = time.monotonic()
    result = _weblogin(world, session, "wrong")  # the default --timeout: 300 s
    assert result.returncode == 1
    assert result.stderr.strip() == "error: Flickr did not sign you in: Invalid email or password."
    assert time.monotonic() - started < 20  # browser start and one page, not a timeout
    assert not session.exists()


def test_no_catalog_is_a_clear_error(world, tmp_path):
    for command in ("findmissing", "verify"):
        result = scrapy(command, *_settings(world, tmp_path, tmp_path / "s.json"))
        assert result.returncode == 1
        assert result.stderr.strip().startswith("error: no catalog.db in")


def test_bad_input_to_the_archive_commands_is_one_line(world, tmp_path):
    session = tmp_path / "s.json"
    archive = world.tmp / "archive"  # made by the first test of this module
    missing_ids = scrapy("crawl", "redownload", "-a", f"ids={tmp_path / 'nope.txt'}",
                         *_settings(world, archive, session))  # fmt: skip
    assert missing_ids.returncode == 1
    assert missing_ids.stderr.strip() == f"error: no ids file {tmp_path / 'nope.txt'}"
    nothing = scrapy("crawl", "redownload", *_settings(world, archive, session))
    assert nothing.returncode == 1
    assert nothing.stderr.strip() == "error: say what to redownload: -a ids=FILE or -a missing=1"
    no_catalog = scrapy("crawl", "redownload", "-a", "missing=1",
                        *_settings(world, tmp_path / "empty", session))  # fmt: skip
    assert no_catalog.returncode == 1
    assert no_catalog.stderr.strip().startswith("error: no catalog.db in")
    bad_out = scrapy("findmissing", "-o", str(tmp_path / "no" / "dir.csv"),
                     *_settings(world, archive, session))  # fmt: skip
    assert bad_out.returncode == 1
    assert bad_out.stderr.strip().startswith("error: cannot write")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    sqlite3.connect(foreign / "catalog.db").execute("create table x (y)").connection.close()
    result = scrapy("verify", *_settings(world, foreign, session))
    assert result.returncode == 1
    assert "is not a flickr-crawl catalog" in result.stderr
    headed = scrapy("weblogin", *_settings(world, archive, session), env={"DISPLAY": ""})
    assert headed.returncode == 1
    assert headed.stderr.strip().startswith("error: no display for a browser window")
    for result in (missing_ids, nothing, no_catalog, bad_out, headed):
        assert "Traceback" not in result.stderr
