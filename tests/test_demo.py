"""``python -m flickr_crawl.demo`` (what ``python3 dev.py demo`` runs), end to end, as a user.

The demo starts its own sandbox, signs in with headless Chromium, backs up, builds the site.
What it saved is checked against the ground truth of a second sandbox built from the same
flags (the sandbox's world depends only on them), by reading the files on disk.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import sqlite3
import subprocess
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.archive.filetypes import VIDEO_KINDS, sniff
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT, crawl

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.requires_browser

WORLD = ("--photos", "10", "--videos", "2", "--albums", "2", "--image-size", "small",
         "--video-size", "300000")  # fmt: skip
PASSWORD = f"demo-test-{secrets.token_hex(8)}"


def demo(archive: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flickr_crawl.demo", "--archive", str(archive), *WORLD,
         "--web-password", PASSWORD],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def files(archive: Path) -> dict[str, dict[str, Any]]:
    """catalog.db's file rows, by photo id."""
    db = sqlite3.connect(archive / "catalog.db")
    db.row_factory = sqlite3.Row
    try:
        return {r["photo_id"]: dict(r) for r in db.execute("SELECT * FROM files")}
    finally:
        db.close()


def last_run(archive: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest run: its catalog.db ``runs`` row and its report in ``logs/``."""
    db = sqlite3.connect(archive / "catalog.db")
    db.row_factory = sqlite3.Row
    try:
        row = dict(db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone())
    finally:
        db.close()
    newest = max((archive / "logs").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return row, json.loads(newest.read_text(encoding="utf-8"))


def on_disk(archive: Path) -> dict[str, tuple[int, int, int]]:
    """Every photo and video file: (inode, mtime_ns, size); a rewrite changes the first two."""
    found = {}
    for row in files(archive).values():
        if row["path"]:
            st = (archive / row["path"]).stat()
            found[row["path"]] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return found


def sandbox_url(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if "sandbox Flickr running at" in line)


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> dict[str, Any]:
    with Sandbox(*WORLD) as sandbox:
        return sandbox.account()


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> Any:
    archive = tmp_path_factory.mktemp("demo") / "demo-archive"
    return SimpleNamespace(archive=archive, result=demo(archive))


def test_the_demo_saves_videos_builds_the_site_and_says_where(first, truth):
    archive, result = first.archive, first.result
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = files(archive)
    videos = [p for p in truth["photos"] if p["media"] == "video"]
    assert len(videos) == 2
    for video in videos:
        row = rows[video["id"]]
        assert row["status"] == "downloaded"
        path = archive / row["path"]
        assert sniff(path.read_bytes()[:64]) in VIDEO_KINDS
        assert hashlib.sha256(path.read_bytes()).hexdigest() == video["video"]["sha256"]
    for photo in truth["photos"]:  # captions are embedded: the catalog keeps both digests
        if photo["media"] == "photo" and photo["original"]:
            row = rows[photo["id"]]
            assert row["original_sha256"] == photo["original"]["sha256"]
            path = archive / row["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
    # photos and videos are counted apart, by the crawl's summary and by the demo
    photos = sum(1 for p in truth["photos"] if p["media"] == "photo")
    assert f"Saved {photos} photos, 2 videos;" in result.stderr
    assert f"the archive holds {photos} photos and 2 videos" in result.stdout
    assert "photos and videos saved" not in result.stdout + result.stderr
    index = archive / "site" / "index.html"
    assert index.is_file()
    for video in videos:
        assert (archive / "site" / "photos" / f"{video['id']}.html").is_file()

    # the last lines say where everything is, then what to run on a real account
    tail = result.stdout.splitlines()[-8:]
    assert f"demo: archive: {archive}" in tail
    assert any(line.startswith(f"demo: site:    {index} ") for line in tail)
    assert any(line.startswith(f"demo: catalog: {archive / 'catalog.db'} ") for line in tail)
    steps = "\n".join(tail)
    for command in ("scrapy auth", "scrapy weblogin",
                    "scrapy crawl photostream -s FLICKR_ARCHIVE_DIR="):  # fmt: skip
        assert command in steps
    assert PASSWORD not in result.stdout + result.stderr


def test_a_second_demo_run_downloads_nothing(first):
    assert first.result.returncode == 0
    archive = first.archive
    before = on_disk(archive)
    again = demo(archive)
    assert again.returncode == 0, again.stderr[-3000:]
    run, report = last_run(archive)
    assert run["id"] == 2
    assert run["files_downloaded"] == 0
    assert report["files_downloaded"] == 0
    assert report["bytes_downloaded"] == 0
    assert on_disk(archive) == before
    assert sandbox_url(again.stdout) == sandbox_url(first.result.stdout)  # the port was reused
    assert "this run downloaded 0 files" in again.stdout

    # its port taken by something else, the next run's Flickr is elsewhere: still nothing
    port = int(sandbox_url(again.stdout).rsplit(":", 1)[1])
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        third = demo(archive)
    assert third.returncode == 0, third.stderr[-3000:]
    assert f":{port}" not in sandbox_url(third.stdout)
    run, report = last_run(archive)
    assert (run["id"], run["files_downloaded"], report["bytes_downloaded"]) == (3, 0, 0)
    assert on_disk(archive) == before


def test_after_an_incomplete_backup_at_another_address_only_the_videos_download(tmp_path):
    """A sweep after a run that missed the videos, with Flickr at another host:port (the
    sandbox that made the first backup still holds its port): only the videos are fetched."""
    archive = tmp_path / "demo-archive"
    with Sandbox(*WORLD, auth_file=tmp_path / "auth.json") as elsewhere:
        first = crawl(elsewhere, archive)  # no web session: the videos are missing
        assert first.returncode == 2, first.stderr[-3000:]
        photos = on_disk(archive)
        result = demo(archive)
        assert elsewhere.url not in result.stdout
    assert result.returncode == 0, result.stderr[-3000:]
    _, report = last_run(archive)
    assert report["files_downloaded"] == 2  # the two videos, not the photos again
    after = on_disk(archive)
    assert {path: after[path] for path in photos} == photos
