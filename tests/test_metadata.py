"""Nothing lost: comments, faves, notes, people, albums, galleries and collections of the
sandbox account end up in the sidecars (and the catalog), and the metadata goes into EXIF and
XMP where exiftool, as photo managers do, reads it back."""

from __future__ import annotations

import base64
import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import piexif
import pytest
from PIL import Image

from flickr_crawl.metadata.exif import restore_original
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, exiv2, kill_crawl_when, run_log, sidecars, web_session

EXIFTOOL = shutil.which("exiftool")


@pytest.fixture(scope="module")
def meta(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("metadata")
    auth = tmp / "auth.json"
    args = ("--photos", "60", "--videos", "2", "--albums", "6", "--image-size", "small",
            "--seed", "11")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        session = web_session(sandbox, tmp / "web-session.json")
        archive = tmp / "archive"
        result = crawl(sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}")
        yield SimpleNamespace(
            result=result, account=sandbox.account(), archive=archive, stats=sandbox.stats(),
            records=sidecars(archive), sandbox=sandbox,
        )  # fmt: skip


def test_run_completes(meta):
    assert meta.result.returncode == 0, meta.result.stderr[-3000:]


def test_every_comment_is_kept(meta):
    total = 0
    for photo in meta.account["photos"]:
        record = meta.records[photo["id"]][0]
        got = [(c["id"], c["author"], c["html"]) for c in record.get("comments", [])]
        want = [(c["id"], c["author"], c["text"]) for c in photo["comments"]]
        assert got == want, photo["id"]
        total += len(want)
        for comment in record.get("comments", []):
            assert comment["author"] in record["users"]
            assert record["users"][comment["author"]]["profile_url"].endswith("/")
    assert total > 100, "the sandbox should have a photo with 100+ comments"


def test_every_fave_is_kept_beyond_50(meta):
    most = 0
    for photo in meta.account["photos"]:
        record = meta.records[photo["id"]][0]
        got = sorted(f["nsid"] for f in record.get("faves", []))
        assert got == sorted(f["nsid"] for f in photo["faves"]), photo["id"]
        most = max(most, len(got))
    assert most > 50


def test_notes_people_and_tag_authors_from_the_deep_pass(meta):
    notes = people = 0
    for photo in meta.account["photos"]:
        record = meta.records[photo["id"]][0]
        assert [n["html"] for n in record["notes"]] == [n["text"] for n in photo["notes"]]
        assert sorted(p["nsid"] for p in record["people"]) == sorted(
            p["nsid"] for p in photo["people"])  # fmt: skip
        assert sorted(t["raw"] for t in record["tag_details"]) == sorted(
            t["raw"] for t in photo["tags"])  # fmt: skip
        notes += len(photo["notes"])
        people += len(photo["people"])
        assert "flickr.photos.getInfo" in record["raw"]
    assert notes > 0
    assert people > 0


def test_albums_galleries_and_collections(meta):
    gallery_of: dict[str, list[str]] = {}
    for gallery in meta.account["galleries"]:
        for photo_id in gallery["photo_ids"]:
            gallery_of.setdefault(photo_id, []).append(gallery["id"])
    for photo in meta.account["photos"]:
        record = meta.records[photo["id"]][0]
        assert sorted(a["id"] for a in record["albums"]) == sorted(photo["album_ids"])
        assert sorted(record["galleries"]) == sorted(gallery_of.get(photo["id"], []))
    galleries = list((meta.archive / "Galleries").glob("*.json"))
    assert len(galleries) == len(meta.account["galleries"])
    collections = [json.loads(p.read_text()) for p in (meta.archive / "Collections").glob("*")]

    def count(nodes: list[dict]) -> int:
        return sum(1 + count(n["collections"]) for n in nodes)

    assert len(collections) == count(meta.account["collections"])


def test_calls_are_spent_only_where_needed(meta):
    by_method = meta.stats["api_calls"]["by_method"]
    photos = meta.account["photos"]
    assert by_method["flickr.photos.comments.getList"] == sum(1 for p in photos if p["comments"])
    fave_pages = sum(-(-len(p["faves"]) // 50) for p in photos if p["faves"])
    assert by_method["flickr.photos.getFavorites"] == fave_pages
    assert by_method["flickr.photos.getInfo"] == len(photos)
    assert by_method["flickr.photos.people.getList"] == sum(1 for p in photos if p["people"])
    assert "flickr.photos.getExif" not in by_method
    assert "flickr.photos.getSizes" not in by_method


def _exiftool(path: Path) -> dict[str, Any]:
    assert EXIFTOOL, "exiftool is needed (Debian: libimage-exiftool-perl; dev.py test installs it)"
    out = subprocess.run([EXIFTOOL, "-j", "-n", "-G1", str(path)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return json.loads(out)[0]


def _scan(data: bytes) -> bytes:
    """The JPEG's entropy-coded image data: everything from the first SOS marker on."""
    return data[data.index(b"\xff\xda") :]


def test_exif_in_the_jpeg_and_camera_data_untouched(meta):
    checked, private_places = 0, 0
    for photo in meta.account["photos"]:
        record = meta.records[photo["id"]][0]
        if photo["media"] != "photo" or not record["file"]["path"].endswith(".jpg"):
            continue
        if not photo["title"] or not photo["geo"] or not photo["tags"]:
            continue
        path = meta.archive / record["file"]["path"]
        served = meta.sandbox.get("/" + photo["original"]["url"].split("/", 3)[3])
        assert record["file"]["original_sha256"] == photo["original"]["sha256"]
        assert record["camera"]["make"] == photo["camera"]["make"]  # read locally, no getExif
        assert record["camera"]["model"] == photo["camera"]["model"]
        assert record["file"]["metadata"] == "embedded"
        data = path.read_bytes()
        assert _scan(data) == _scan(served)  # image data byte-identical
        before, after = piexif.load(served), piexif.load(data)
        for ifd, tag in (("0th", piexif.ImageIFD.Make), ("0th", piexif.ImageIFD.Model),
                         ("Exif", piexif.ExifIFD.MakerNote)):  # fmt: skip
            assert after[ifd].get(tag) == before[ifd].get(tag)
        assert Image.open(io.BytesIO(data)).tobytes() == Image.open(io.BytesIO(served)).tobytes()
        # and the served bytes can always be restored exactly
        segment = base64.b64decode(record["file"]["original_exif"])
        assert record["file"]["embedded_segments"] == 3  # EXIF, XMP, IPTC
        assert restore_original(data, segment, record["file"]["embedded_segments"]) == served
        tags = _exiftool(path)
        assert str(tags["IFD0:XPTitle"]) == photo["title"]
        keywords = str(tags["IFD0:XPKeywords"])
        for tag in photo["tags"]:
            assert tag["raw"] in keywords or tag["content"] in keywords
        if not photo["takenunknown"]:
            assert tags["ExifIFD:DateTimeOriginal"].startswith(
                photo["datetaken"][:4])  # fmt: skip
        # XMP and IPTC in the JPEG itself, for apps that read no sidecar for a JPEG
        contents = [t["content"] for t in photo["tags"]]
        assert str(tags["XMP-dc:Title"]) == photo["title"]
        assert [str(t) for t in _as_list(tags["XMP-dc:Subject"])] == contents
        assert [str(t) for t in _as_list(tags["IPTC:Keywords"])] == [
            t.encode()[:64].decode("utf-8", "ignore") for t in contents]  # fmt: skip
        assert str(tags["IPTC:ObjectName"]) == photo["title"].encode()[:64].decode(
            "utf-8", "ignore")  # fmt: skip
        assert str(tags["IPTC:By-line"]) == record["owner_name"]
        exiv2_tags, _stderr = exiv2(path)
        assert exiv2_tags["Xmp.dc.title"] == [f'lang="x-default" {photo["title"]}']
        assert exiv2_tags["Iptc.Application2.Keywords"] == [
            t.encode()[:64].decode("utf-8", "ignore") for t in contents]  # fmt: skip
        public = [a["geo_is_public"] for a in record["raw"].values()
                  if isinstance(a, dict) and "geo_is_public" in a]  # fmt: skip
        if public == [1]:
            lat, lon = photo["geo"]["latitude"], photo["geo"]["longitude"]
            assert tags["GPS:GPSLatitude"] == pytest.approx(abs(lat), abs=1e-4)
            assert tags["GPS:GPSLongitude"] == pytest.approx(abs(lon), abs=1e-4)
            assert tags["XMP-exif:GPSLatitude"] == pytest.approx(lat, abs=1e-5)
            assert tags["XMP-exif:GPSLongitude"] == pytest.approx(lon, abs=1e-5)
        else:  # a place only friends, family or nobody may see: not added to the file (the
            # camera's own GPS, which the sandbox writes like a phone, stays as served)
            assert not [key for key in tags if key.startswith("XMP-exif:GPS")], photo["id"]
            assert after["GPS"] == before["GPS"]
            private_places += 1
        checked += 1
    assert checked - private_places >= 3
    assert private_places >= 1


def test_xmp_of_a_video(meta):
    video = next(p for p in meta.account["photos"] if p["media"] == "video")
    record = meta.records[video["id"]][0]
    assert record["file"]["status"] == "downloaded", record["file"]
    path = meta.archive / record["file"]["path"]
    assert path.suffix == "." + video["video"]["container"]
    assert record["file"]["sha256"] == video["video"]["sha256"]
    xmp = Path(f"{path}.xmp")
    tags = _exiftool(xmp)
    assert str(tags["XMP-dc:Title"]) == video["title"]
    assert sorted(str(t) for t in _as_list(tags.get("XMP-dc:Subject"))) == sorted(
        t["content"] for t in video["tags"])  # fmt: skip
    # libexiv2 (digiKam, darktable) reads the video's sidecar alone, without a warning
    exiv2_tags, stderr = exiv2(xmp)
    assert stderr == ""
    assert exiv2_tags["Xmp.dc.title"] == [f'lang="x-default" {video["title"]}']
    assert video["tags"]
    assert exiv2_tags["Xmp.lr.HierarchicalSubject"] == [_keyword_paths(video["tags"], "|")]


def _keyword_paths(tags: list[dict[str, Any]], separator: str) -> str:
    """How exiv2 prints a bag of tags as keyword paths: ``ns:pred=value`` -> ns|pred|value."""
    return ", ".join(
        t["content"].replace(":", separator, 1).replace("=", separator, 1) if t["machine"]
        else t["content"] for t in tags)  # fmt: skip


def test_machine_tags_as_keyword_paths_in_sidecars(meta):
    checked = 0
    for photo in meta.account["photos"]:
        record = meta.records[photo["id"]][0]
        if not any(t["machine"] for t in photo["tags"]) or not record["file"].get("path"):
            continue
        tags, stderr = exiv2(Path(f"{meta.archive / record['file']['path']}.xmp"))
        assert stderr == ""
        assert tags["Xmp.dc.subject"] == [", ".join(t["content"] for t in photo["tags"])]
        assert tags["Xmp.lr.HierarchicalSubject"] == [_keyword_paths(photo["tags"], "|")]
        assert tags["Xmp.digiKam.TagsList"] == [_keyword_paths(photo["tags"], "/")]
        checked += 1
    assert checked >= 2


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def test_catalog_holds_everything(meta):
    db = sqlite3.connect(meta.archive / "catalog.db")
    photos = meta.account["photos"]
    assert db.execute("select count(*) from photos").fetchone()[0] == len(photos)
    comments = sum(len(p["comments"]) for p in photos)
    assert db.execute("select count(*) from comments").fetchone()[0] == comments
    faves = sum(len(p["faves"]) for p in photos)
    assert db.execute("select count(*) from faves").fetchone()[0] == faves
    assert db.execute("select count(*) from notes").fetchone()[0] == sum(
        len(p["notes"]) for p in photos)  # fmt: skip
    assert db.execute("select count(*) from albums").fetchone()[0] == len(meta.account["albums"])
    assert db.execute("pragma foreign_key_check").fetchall() == []
    runs = db.execute("select * from runs").fetchall()
    assert len(runs) == 1


def test_a_hard_kill_mid_run_leaves_the_catalog_consistent(tmp_path):
    """SIGKILL while items are being saved: the catalog opens clean, and a re-run completes."""
    auth = tmp_path / "auth.json"
    args = ("--photos", "400", "--videos", "0", "--albums", "4", "--image-size", "small",
            "--seed", "5")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        archive = tmp_path / "archive"
        kill_crawl_when(lambda: _count_files(archive / "catalog.db") >= 50, sandbox, archive)
        db = sqlite3.connect(archive / "catalog.db")
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert db.execute("pragma foreign_key_check").fetchall() == []
        # every file row the catalog calls downloaded is really there, complete
        for path, size in db.execute("select path, size from files where status='downloaded'"):
            assert (archive / path).stat().st_size == size
        db.close()
        result = crawl(sandbox, archive)
        assert result.returncode == 0, result.stderr[-2000:]
        assert not list(archive.rglob("*.part"))  # half downloads never outlive a finished run
        db = sqlite3.connect(archive / "catalog.db")
        assert db.execute("select count(*) from files where status in ('downloaded', 'uptodate')"
                          ).fetchone()[0] == 400  # fmt: skip


def _count_files(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)
        try:
            return db.execute("select count(*) from files").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_a_comment_deleted_on_flickr_stays_in_the_archive(meta):
    """Runs last on this module's sandbox: it changes the account."""
    photo = next(p for p in meta.account["photos"] if len(p["comments"]) >= 2)
    gone = photo["comments"][0]
    meta.sandbox.mutate([{"op": "delete_comment", "photo_id": photo["id"],
                          "comment_id": gone["id"]}])  # fmt: skip
    session = meta.archive.parent / "web-session.json"
    result = crawl(meta.sandbox, meta.archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}")
    assert result.returncode == 0, result.stderr[-2000:]
    for record in sidecars(meta.archive)[photo["id"]]:
        by_id = {c["id"]: c for c in record["comments"]}
        assert len(by_id) == len(photo["comments"])
        assert by_id[gone["id"]]["deleted_on_flickr"] is True
        assert by_id[gone["id"]]["html"] == gone["text"]
        assert not by_id[photo["comments"][1]["id"]].get("deleted_on_flickr")
    db = sqlite3.connect(meta.archive / "catalog.db")
    flagged = db.execute("select deleted_on_flickr from comments where id = ?",
                         (gone["id"],)).fetchone()  # fmt: skip
    assert flagged == (1,)


def _deep_pass_timing(tmp_path: Path, per_hour: int) -> tuple[str, dict[str, list[float]]]:
    """A backup with one download at a time under ``per_hour``; the crawl log, and when the
    sandbox got each kind of request."""
    args = ("--photos", "40", "--videos", "0", "--albums", "3", "--image-size", "small")
    with Sandbox(*args, auth_file=tmp_path / "auth.json") as sandbox:
        result = crawl(
            sandbox, tmp_path / "archive", "-s", f"FLICKR_API_CALLS_PER_HOUR={per_hour}",
            "-s", f"FLICKR_API_BUDGET_FILE={tmp_path / 'budget.json'}",
            "-s", "FLICKR_MEDIA_CONCURRENCY=1",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        times: dict[str, list[float]] = {}
        for entry in sandbox.requests():
            key = "media" if entry["kind"] == "media" else entry["method"] or "other"
            times.setdefault(key, []).append(entry["t"])
    return run_log(tmp_path / "archive"), times


def test_deep_pass_goes_along_with_downloads_when_the_budget_has_room(tmp_path):
    """40 photos need at most 3 x 40 + 100 calls: an hourly budget of 3600 has room, so
    getInfo calls go out while the originals still download."""
    log, times = _deep_pass_timing(tmp_path, 3600)
    assert "getInfo goes along with the downloads" in log
    assert len(times["flickr.photos.getInfo"]) == 40
    assert min(times["flickr.photos.getInfo"]) < max(times["media"])


def test_deep_pass_waits_for_the_end_when_the_budget_is_tight(tmp_path):
    """One call less than that bound: every original, comment and fave first, as always."""
    log, times = _deep_pass_timing(tmp_path, 3 * 40 + 100 - 1)
    assert "getInfo goes along" not in log
    first_info = min(times["flickr.photos.getInfo"])
    assert first_info > max(times["media"])
    for method in ("flickr.photos.comments.getList", "flickr.photos.getFavorites"):
        assert first_info > max(times[method])


def test_sidecars_named_for_lightroom(tmp_path):
    """FLICKR_XMP_SIDECAR_NAMING=file.xmp: 123.xmp beside 123.jpg (and in every album folder),
    for photos and videos alike; switching back renames them, leaving no stale copy."""
    auth = tmp_path / "auth.json"
    args = ("--photos", "8", "--videos", "1", "--albums", "2", "--image-size", "small",
            "--seed", "3")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        session = web_session(sandbox, tmp_path / "web-session.json")
        archive = tmp_path / "archive"
        web = ("-s", f"FLICKR_WEB_SESSION_FILE={session}")
        result = crawl(sandbox, archive, *web, "-s", "FLICKR_XMP_SIDECAR_NAMING=file.xmp")
        assert result.returncode == 0, result.stderr[-3000:]
        media = []
        for records in sidecars(archive).values():
            file = records[0]["file"]
            if file.get("path"):
                media += [archive / p for p in (file["path"], *file["links"])]
        assert len(media) >= 9
        assert any(path.suffix in (".mp4", ".mov") for path in media)  # a video too
        for path in media:
            assert path.with_suffix(".xmp").is_file(), path
            assert not Path(f"{path}.xmp").exists()
        assert len(list(archive.rglob("*.xmp"))) == len(media)
        tags, stderr = exiv2(media[0].with_suffix(".xmp"))
        assert stderr == ""
        assert "Xmp.dc.rights" in tags

        # the default again, on a full run (an incremental one writes only what changed)
        result = crawl(sandbox, archive, *web, "-a", "full=1")
        assert result.returncode == 0, result.stderr[-3000:]
        for path in media:
            assert Path(f"{path}.xmp").is_file(), path
            assert not path.with_suffix(".xmp").exists()
        assert len(list(archive.rglob("*.xmp"))) == len(media)
