"""A file's identity is what names its bytes on Flickr, never the host that serves them.

Flickr has moved its files between hosts (``farmN.staticflickr.com`` to
``live.staticflickr.com``) and servers. The sandbox can name its CDN files and pages on another
host name for the same server (``--media-host``, ``Sandbox.move_media``): a backup run again
after such a move must download nothing and leave every media file as it was, also in an
archive whose sidecars were written before sources had keys.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.flickr.identity import media_key
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, run_log, sidecars, web_session

if TYPE_CHECKING:
    from pathlib import Path

ACCOUNT = ("--photos", "24", "--videos", "2", "--albums", "3", "--image-size", "small",
           "--video-size", "200000", "--seed", "5")  # fmt: skip
MEDIA_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".mp4", ".mov")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a host move, a scheme change, a legacy farm host, another server number
        ("https://farm66.staticflickr.com/65535/53574198477_fba34d20ca_o.jpg",
         "https://live.staticflickr.com/31337/53574198477_fba34d20ca_o.jpg"),
        ("http://farm4.static.flickr.com/3001/4807542391_0123456789_b.jpg",
         "https://live.staticflickr.com/3001/4807542391_0123456789_b.jpg"),
        # "_d" asks the CDN for the same file as an attachment
        ("https://live.staticflickr.com/65535/53574198477_fba34d20ca_c_d.jpg",
         "https://live.staticflickr.com/65535/53574198477_fba34d20ca_c.jpg"),
        ("https://live.staticflickr.com/65535/53574198477_fba34d20ca_d.jpg",
         "https://live.staticflickr.com/65535/53574198477_fba34d20ca.jpg"),
        # a video's play URL by path alias or nsid, on any web host, and the signed CDN file
        ("https://www.flickr.com/photos/someone/4960396261/play/orig/7e1f2d3c4b/",
         "http://127.0.0.1:8080/photos/12345678@N00/4960396261/play/orig/7e1f2d3c4b"),
        ("https://www.flickr.com/photos/someone/4960396261/play/360p/0a1b2c3d4e/",
         "https://live.staticflickr.com/video/4960396261/0a1b2c3d4e/360p.mp4?s=eyJpIjoxfQ"),
    ],
)  # fmt: skip
def test_the_same_bytes_have_the_same_key_on_any_host(a, b):
    assert media_key(a) == media_key(b) != ""


@pytest.mark.parametrize(
    "other",
    [
        "https://live.staticflickr.com/65535/53574198477_aaaaaaaaaa_o.jpg",  # a new secret
        "https://live.staticflickr.com/65535/53574198477_fba34d20ca_k.jpg",  # another size
        "https://live.staticflickr.com/65535/53574198477_fba34d20ca_o.png",  # another format
        "https://live.staticflickr.com/65535/53574198478_fba34d20ca_o.jpg",  # another photo
        "https://www.flickr.com/photos/x/53574198477/play/orig/fba34d20ca/",  # the video
    ],
)
def test_what_names_other_bytes_changes_the_key(other):
    key = media_key("https://live.staticflickr.com/65535/53574198477_fba34d20ca_o.jpg")
    assert key == "53574198477_fba34d20ca_o.jpg"
    assert media_key(other) != key


def media_state(archive: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every media file: its bytes, mtime (ns) and inode."""
    found = {}
    for path in archive.rglob("*"):
        if path.is_file() and path.suffix.lower() in MEDIA_SUFFIXES and "site" not in path.parts:
            stat = path.stat()
            found[path.relative_to(archive).as_posix()] = (
                path.read_bytes(),
                stat.st_mtime_ns,
                stat.st_ino,
            )
    return found


def stat_value(log: str, key: str) -> int:
    """A count from the Scrapy stats a crawl dumps at its end (into its log file); 0 when
    absent."""
    found = re.search(rf"'{re.escape(key)}': (\d+)", log)
    return int(found.group(1)) if found else 0


def make_old(archive: Path) -> int:
    """Make every sidecar look like one an older version wrote through a flaky network: the
    source only by its URL, and the CDN's wrong Content-Type as the file's type."""
    stripped = 0
    for path in archive.rglob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict) and isinstance(record.get("source"), dict):
            if record["source"].pop("key", None) is not None:
                stripped += 1
            record["file"]["content_type"] = "text/plain"
            path.write_text(json.dumps(record), encoding="utf-8")
    return stripped


@pytest.mark.parametrize("old_sidecars", [False, True], ids=["keyed", "url-only-sidecars"])
def test_a_run_after_a_cdn_move_downloads_nothing(tmp_path: Path, old_sidecars: bool) -> None:
    with Sandbox(*ACCOUNT, auth_file=tmp_path / "auth.json") as sandbox:
        session = web_session(sandbox, tmp_path / "web-session.json")
        archive = tmp_path / "archive"
        first = crawl(sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}")
        assert first.returncode == 0, first.stderr[-3000:]
        before = media_state(archive)
        account = sandbox.account(hashes=False)
        assert len(before) >= len(account["photos"])  # every photo and video is on disk
        assert any(p.endswith((".mp4", ".mov")) for p in before)
        if old_sidecars:
            assert make_old(archive) >= len(account["photos"])

        moved = sandbox.move_media("localhost")
        assert moved.startswith("http://localhost:")
        sandbox.reset_stats()
        # Every photo goes through the media step again (-a full=1), now named on the new
        # host; the web host of play/ URLs moves too (the session's cookies are not for it).
        web = "FLICKR_WEB_URL=" + moved + "/"
        again = crawl(sandbox, archive, "-a", "full=1", "-s", web,
                      "-s", f"FLICKR_WEB_SESSION_FILE={session}")  # fmt: skip
        assert again.returncode == 0, again.stderr[-3000:]

        assert stat_value(run_log(archive), "flickr/file/downloaded") == 0
        assert stat_value(run_log(archive), "flickr/file/uptodate") == len(account["photos"])
        fetched = [e["path"] for e in sandbox.requests()
                   if e["kind"] == "media" or "/play/" in e["path"]]  # fmt: skip
        assert fetched == []
        assert media_state(archive) == before  # same bytes, same mtime, same inode
        # the sidecars now name the new host, the keys the bytes, the type what they are
        types = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                 "mp4": "video/mp4", "mov": "video/quicktime"}  # fmt: skip
        for records in sidecars(archive).values():
            source: dict[str, Any] = records[0]["source"]
            assert source["url"].startswith("http://localhost:")
            assert source["key"] == media_key(source["url"])
            file = records[0]["file"]
            assert file["content_type"] == types[file["path"].rsplit(".", 1)[1]]


def test_the_sandbox_names_media_on_another_host_and_serves_both(tmp_path: Path) -> None:
    """``--media-host``: the API's answers name the other host; the old URLs still work."""
    args = ("--photos", "3", "--videos", "0", "--albums", "1", "--image-size", "small")
    with Sandbox(*args, auth_file=tmp_path / "auth.json", media_host="localhost") as sandbox:
        port = sandbox.url.rsplit(":", 1)[1]
        assert sandbox.url == f"http://127.0.0.1:{port}"  # the API stays where it was
        auth = json.loads((tmp_path / "auth.json").read_text())
        listed = json.loads(sandbox.get(
            "/services/rest/?method=flickr.people.getPublicPhotos&extras=url_o,url_m"
            f"&user_id={auth['user_nsid']}&api_key={auth['api_key']}&format=json&nojsoncallback=1"
        ))  # fmt: skip
        urls = [p[k] for p in listed["photos"]["photo"] for k in ("url_o", "url_m") if k in p]
        assert urls
        for url in urls:
            assert url.startswith(f"http://localhost:{port}/")
            old = url.replace("localhost", "127.0.0.1", 1)
            assert sandbox.get(url) == sandbox.get(old)
            assert sandbox.get(url)[:3] == b"\xff\xd8\xff" or url.endswith((".png", ".gif"))
        assert sandbox.move_media("") == sandbox.url  # and back
