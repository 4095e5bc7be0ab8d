"""The sandbox writes its account's data export the way Flickr does (issue 19 part 1): zips named
and split as Flickr's, one JSON per photo with the export's value forms, the originals' bytes
exactly as the CDN serves them, nothing after the export date, some originals left out."""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import time
import zipfile
from typing import TYPE_CHECKING, Any

from flickr_crawl.sandbox.process import Sandbox
from flickr_crawl.sandbox.world import GENERATED_NOW

if TYPE_CHECKING:
    from pathlib import Path

LICENSE_NAMES = {
    0: "All Rights Reserved",
    4: "Attribution License",
    9: "Public Domain Dedication (CC0)",
}


def read_account(folder: Path) -> dict[str, Any]:
    """Every JSON member of the account-data zips."""
    out: dict[str, Any] = {}
    for path in sorted(folder.glob("*_part*.zip")):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                out[name] = json.loads(zf.read(name))
    return out


def read_media(folder: Path) -> dict[str, tuple[str, str, int]]:
    """id -> (zip, member, sha256) of every original in the media zips."""
    out: dict[str, Any] = {}
    for path in sorted(folder.glob("data-download-*.zip")):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                m = re.search(r"(?:^|_)(\d+)_o\.\w+$", info.filename)
                assert m, info.filename
                digest = hashlib.sha256(zf.read(info)).hexdigest()
                out[m.group(1)] = (path.name, info.filename, digest)
    return out


def test_cli_export_matches_the_account(tmp_path: Path) -> None:
    export = tmp_path / "export"
    split = 60_000
    args = ("--image-size", "small", "--photos", "14", "--videos", "2", "--albums", "3",
            "--video-size", "50000", "--export-dir", str(export), "--export-split", str(split),
            "--export-leave-out", "2")  # fmt: skip
    with Sandbox(*args) as sb:
        truth = sb.account()
    owner = truth["owner"]
    account_zips = sorted(p.name for p in export.glob("*_part*.zip"))
    assert len(account_zips) == 1
    assert re.fullmatch(r"\d+_[0-9a-f]+_part1\.zip", account_zips[0])
    media_zips = sorted(p.name for p in export.glob("data-download-*.zip"))
    assert len(media_zips) >= 2, "split at 60 kB, the videos alone need two parts"
    for name in media_zips:
        assert re.fullmatch(r"data-download-\d+\.zip", name)
        with zipfile.ZipFile(export / name) as zf:
            sizes = [i.file_size for i in zf.infolist()]
        assert len(sizes) == 1 or sum(sizes) <= split, (name, sizes)

    files = read_account(export)
    for name in ("account_profile.json", "albums.json", "galleries.json", "faves_part001.json",
                 "photos_comments_part001.json"):  # fmt: skip
        assert name in files, name
    assert files["account_profile.json"]["nsid"] == owner["nsid"]
    assert files["account_profile.json"]["screen_name"] == owner["username"]
    photos = {p["id"]: p for p in truth["photos"]}
    assert {n[6:-5] for n in files if n.startswith("photo_")} == set(photos)

    albums = {a["id"]: a for a in files["albums.json"]["albums"]}
    assert set(albums) == {a["id"] for a in truth["albums"]}
    for a in truth["albums"]:
        assert albums[a["id"]]["photos"] == a["photo_ids"]
        assert albums[a["id"]]["photo_count"] == str(len(a["photo_ids"]))

    users = {u["nsid"]: u for u in truth["users"]}

    def url(nsid: str) -> str:
        return f"https://www.flickr.com/photos/{users[nsid]['path_alias'] or nsid}/"

    for pid, p in photos.items():
        j = files[f"photo_{pid}.json"]
        assert j["name"] == p["title"]
        assert j["description"] == p["description"]
        assert j["count_views"] == str(p["views"])
        assert j["count_comments"] == str(len(p["comments"]))
        assert j["date_taken"] == p["datetaken"]
        imported = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(p["dateupload"]))
        assert j["date_imported"] == imported
        if p["license"] in LICENSE_NAMES:
            assert j["license"] == LICENSE_NAMES[p["license"]]
        if p["geo"]:
            assert j["geo"]["latitude"] == str(round(p["geo"]["latitude"] * 1_000_000))
            assert j["geo"]["longitude"] == str(round(p["geo"]["longitude"] * 1_000_000))
        else:
            assert not j["geo"]
        assert [t["tag"] for t in j["tags"]] == [t["raw"] for t in p["tags"]]
        assert [t["user"] for t in j["tags"]] == [url(t["author"]) for t in p["tags"]]
        assert [c["comment"] for c in j["comments"]] == [c["text"] for c in p["comments"]]
        assert [c["user"] for c in j["comments"]] == [url(c["author"]) for c in p["comments"]]
        assert [n["note"] for n in j["notes"]] == [n["text"] for n in p["notes"]]
        assert [x["user"] for x in j["people"]] == [url(x["nsid"]) for x in p["people"]]
        assert sorted(j["albums"]) == sorted(p["album_ids"])
        assert j["privacy"] == p["privacy"].replace("+", " & ")
        if p["camera"]:
            assert j["exif"]["IFD0:Make"]["raw_value"] == p["camera"]["make"]

    media = read_media(export)
    with_original = [pid for pid, p in photos.items() if p["original"]]
    left_out = set(with_original) - set(media)
    assert len(left_out) == 2
    assert set(media) <= set(with_original)
    videos = [pid for pid, p in photos.items() if p["video"]]
    assert videos
    assert set(videos) - left_out <= set(media)
    for pid, (_zip, member, digest) in media.items():
        p = photos[pid]
        want = p["video"]["sha256"] if p["video"] else p["original"]["sha256"]
        assert digest == want, member
        ext = p["video"]["container"] if p["video"] else p["original"]["format"]
        assert re.fullmatch(rf"([a-z0-9._-]+_)?{pid}_o\.{ext}", member), member


def test_export_date_keeps_later_changes_out(tmp_path: Path) -> None:
    args = ("--image-size", "small", "--photos", "8", "--videos", "0", "--albums", "2")
    with Sandbox(*args) as sb:
        old = sb.account()["photos"][-1]["id"]
        changed = sb.mutate(
            [
                {"op": "add_photo", "title": "after the export"},
                {"op": "add_comment", "photo_id": old, "text": "late comment"},
            ]
        )
        new = next(i for i in changed["photo_ids"] if i != old)
        before = sb.export(tmp_path / "before", export_date=GENERATED_NOW)
        after = sb.export(tmp_path / "after", export_date=int(time.time()) + 60)
    assert new not in before["photo_ids"]
    assert new not in before["media"]
    assert new in after["photo_ids"]
    assert new in after["media"]
    member = f"photo_{old}.json"
    texts_before = [c["comment"] for c in read_account(tmp_path / "before")[member]["comments"]]
    texts_after = [c["comment"] for c in read_account(tmp_path / "after")[member]["comments"]]
    assert "late comment" not in texts_before
    assert texts_after[-1] == "late comment"
    for name in ("before", "after"):
        zip_path = next((tmp_path / name).glob("*_part1.zip"))
        with zipfile.ZipFile(zip_path) as zf:
            stamps = {i.date_time for i in zf.infolist()}
        want = before["export_date"] if name == "before" else after["export_date"]
        assert len(stamps) == 1  # zip times have a 2-second grain
        assert 0 <= want - calendar.timegm((*stamps.pop(), 0, 0, 0)) < 2
