"""Each video keeps Flickr's largest still of it beside it (``<id>.poster.jpg``), from the list
extras (no API call per video); the site shows it for album covers and thumbnails of videos.

A video whose original Flickr would not give is still reported missing: its still is never
taken for its file, whatever it is named.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sqlite3
from typing import TYPE_CHECKING

from flickr_crawl.archive.filetypes import sniff
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, scrapy, sidecars, web_session

if TYPE_CHECKING:
    from pathlib import Path

ACCOUNT = ("--photos", "6", "--videos", "2", "--albums", "2", "--image-size", "small",
           "--video-size", "200000", "--seed", "9")  # fmt: skip


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def catalog(archive: Path, video_id: str) -> sqlite3.Row:
    db = sqlite3.connect(archive / "catalog.db")
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM files WHERE photo_id = ?", (video_id,)).fetchone()
    finally:
        db.close()


def site_page(archive: Path, page: str) -> str:
    return (archive / "site" / page).read_text(encoding="utf-8")


def album_card(albums_html: str, album_id: str) -> str:
    """The <li> of one album on albums.html."""
    found = re.search(rf'<li class="card"><a href="albums/{album_id}\.html">.*?</li>', albums_html)
    assert found, f"no card for album {album_id}"
    return found.group(0)


def test_a_video_keeps_its_still_and_the_site_shows_it(tmp_path: Path) -> None:
    with Sandbox(*ACCOUNT, auth_file=tmp_path / "auth.json") as sandbox:
        account = sandbox.account(hashes=True)
        videos = [p for p in account["photos"] if p["media"] == "video"]
        assert len(videos) == 2
        # an album whose cover is a video
        album = account["albums"][0]
        video = videos[0]
        if video["id"] not in album["photo_ids"]:
            sandbox.mutate([{"op": "add_to_album", "album_id": album["id"],
                             "photo_id": video["id"]}])  # fmt: skip
        for other in account["albums"][1:]:  # filed in that album's folder only
            if video["id"] in other["photo_ids"]:
                sandbox.mutate([{"op": "remove_from_album", "album_id": other["id"],
                                 "photo_id": video["id"]}])  # fmt: skip
        sandbox.mutate([{"op": "set_primary", "album_id": album["id"], "photo_id": video["id"]}])
        stills = {v["id"]: sandbox.get(v["original"]["url"]) for v in videos}  # url_o: a JPEG
        assert all(sniff(still) == "jpeg" for still in stills.values())

        # no web session: the video originals are missing, their stills are kept
        archive = tmp_path / "archive"
        sandbox.reset_stats()
        first = crawl(sandbox, archive)
        assert first.returncode == 2, first.stderr[-3000:]
        assert "flickr.photos.getSizes" not in sandbox.stats()["api_calls"]["by_method"]
        summary = json.loads(max((archive / "logs").glob("*.json")).read_text())
        assert sorted(m["subject"] for m in summary["missing_videos"]) == sorted(stills)
        records = sidecars(archive)
        for vid, still in stills.items():
            record = records[vid][0]
            assert record["file"]["status"] == "missing"
            assert record["file"]["path"] is None
            poster = record["poster_file"]
            assert poster["status"] == "downloaded"
            assert poster["path"].endswith(f"/{vid}.poster.jpg")
            assert poster["content_type"] == "image/jpeg"
            assert (archive / poster["path"]).read_bytes() == still
            assert sha256(still) == poster["sha256"]
            # nothing under the video's own name
            names = {p.name for p in archive.rglob(f"{vid}.*")}
            assert names == {f"{vid}.json", f"{vid}.poster.jpg"}
            row = catalog(archive, vid)
            assert row["status"] == "missing"
            assert row["path"] is None
            assert (row["poster_path"], row["poster_sha256"]) == (poster["path"], sha256(still))
        listing = scrapy("findmissing", "-s", f"FLICKR_ARCHIVE_DIR={archive}")
        assert listing.returncode == 2, listing.stderr  # the videos are missing
        assert {row["id"] for row in csv.DictReader(io.StringIO(listing.stdout))} == set(stills)

        built = scrapy("site", "--archive", str(archive))
        assert built.returncode == 0, built.stderr
        card = album_card(site_page(archive, "albums.html"), album["id"])
        assert "missing.svg" not in card
        thumb = re.search(r'src="(t/[^"]+\.jpg)"', card)
        assert thumb
        assert thumb.group(1).startswith(f"t/{video['id']}-")
        assert sniff((archive / "site" / thumb.group(1)).read_bytes()) == "jpeg"
        page = site_page(archive, f"photos/{video['id']}.html")
        assert "The video file is not in the archive." in page
        assert re.search(rf'<img src="\.\./w/{video["id"]}-[^"]+\.jpg"', page)
        assert "<video" not in page

        # signed in: the videos come, their stills are not fetched again
        session = web_session(sandbox, tmp_path / "web-session.json")
        signed_in = ("-s", f"FLICKR_WEB_SESSION_FILE={session}")
        sandbox.reset_stats()
        again = crawl(sandbox, archive, *signed_in)
        assert again.returncode == 0, again.stderr[-3000:]
        fetched = [e["path"] for e in sandbox.requests() if e["kind"] == "media"]
        assert len(fetched) == 2
        assert all(p.startswith("/video/") for p in fetched)  # the videos, no still again
        records = sidecars(archive)
        for vid, still in stills.items():
            record = records[vid][0]
            assert record["file"]["status"] == "downloaded"
            assert sniff((archive / record["file"]["path"]).read_bytes()[:64]) in ("mp4", "mov")
            assert record["poster_file"]["status"] == "uptodate"
            assert (archive / record["poster_file"]["path"]).read_bytes() == still

        # the video's album is renamed: the still moves with the video, nothing is fetched
        old_folder = next(a["folder"] for a in records[video["id"]][0]["albums"]
                          if a["id"] == album["id"])  # fmt: skip
        assert (archive / old_folder / f"{video['id']}.poster.jpg").is_file()
        sandbox.mutate([{"op": "rename_album", "album_id": album["id"], "title": "Renamed"}])
        sandbox.reset_stats()
        moved = crawl(sandbox, archive, *signed_in)
        assert moved.returncode == 0, moved.stderr[-3000:]
        assert [e for e in sandbox.requests() if e["kind"] == "media"] == []
        records = sidecars(archive)
        record = records[video["id"]][0]
        folder = record["file"]["path"].rsplit("/", 1)[0]
        assert folder == "Albums/Renamed"
        assert record["poster_file"]["path"] == f"{folder}/{video['id']}.poster.jpg"
        assert (archive / record["poster_file"]["path"]).read_bytes() == stills[video["id"]]
        assert catalog(archive, video["id"])["poster_path"] == record["poster_file"]["path"]
        assert len(list(archive.rglob(f"{video['id']}.poster.jpg"))) == 1
        assert not (archive / old_folder).exists()  # retired: the still did not stay behind

        built = scrapy("site", "--archive", str(archive))
        assert built.returncode == 0, built.stderr
        page = site_page(archive, f"photos/{video['id']}.html")
        player = re.search(r"<video[^>]*>", page)
        assert player
        assert re.search(rf'poster="\.\./w/{video["id"]}-[^"]+\.jpg"', player.group(0))
        assert "missing.svg" not in album_card(site_page(archive, "albums.html"), album["id"])
