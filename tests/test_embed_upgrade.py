"""An archive an earlier version made gets what this version embeds, without a download.

Before XMP and IPTC were embedded (``EMBED_FORMAT`` 1), a JPEG original got EXIF alone and a
PNG or GIF original was stored as served, with no ``metadata`` in its record. A backup made
then is rebuilt here from a real crawl of the sandbox, as that version left it on disk, in the
JSON sidecars and in catalog.db (its digest of the embedded fields as it computed it, without
the place's privacy or a format), and checked with ``scrapy verify``. The next run with this
version embeds XMP and IPTC into every such JPEG and XMP into the PNG and GIF, from the bytes on
disk, restorable to Flickr's: no media request, no API call a normal re-run does not make. The
run after that has nothing left to do. A file changed since Flickr served it is left alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import sqlite3
import struct
import subprocess
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.archive.placed import JOURNAL_NAME
from flickr_crawl.metadata.exif import (
    EMBED_FORMAT,
    EXIF_FIELDS,
    embedded_fields,
    exif_fields_sha256,
    restore_original,
)
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, run_log, scrapy

if TYPE_CHECKING:
    from pathlib import Path

ACCOUNT = ("--photos", "24", "--videos", "0", "--albums", "3", "--image-size", "small",
           "--seed", "7")  # fmt: skip
XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
PHOTOSHOP_APP13 = b"Photoshop 3.0\x00"
UPGRADED = "flickr/exif/upgraded"
NOT_SERVED = "is not the file catalog.db recorded"
FORMAT_STATE = "files.embed_format"  # catalog.db sync_state: the format a clean run reached
FAVORITES_FORMAT_STATE = "favorites.embed_format"  # the same, of a clean favorites run


def _stat(log: str, key: str) -> int | None:
    found = re.search(rf"'{re.escape(key)}': (\d+)", log)
    return int(found.group(1)) if found else None


def _sidecar_paths(archive: Path) -> dict[str, list[Path]]:
    """Each photo's JSON sidecars (one per album folder it is in), by photo id."""
    found: dict[str, list[Path]] = {}
    for path in sorted(archive.rglob("*.json")):
        if path.parent.name in ("logs", "Galleries", "Collections") or path.name == "album.json":
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        found.setdefault(record["id"], []).append(path)
    return found


def _records(archive: Path) -> dict[str, dict[str, Any]]:
    return {pid: json.loads(paths[0].read_text(encoding="utf-8"))
            for pid, paths in _sidecar_paths(archive).items()}  # fmt: skip


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment of a JPEG's head, SOS included."""
    segments, pos = [], 2
    while True:
        assert data[pos] == 0xFF, pos
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((marker, pos, pos + 2 + length))
        if marker == 0xDA:
            return segments
        pos += 2 + length


def _exif_only(data: bytes, count: int) -> bytes:
    """The JPEG as format 1 embedded it: the ``count - 1`` segments after the EXIF segment
    (our XMP packet and IPTC record) taken out."""
    segments = _jpeg_segments(data)
    index = next(i for i, (m, s, _e) in enumerate(segments)
                 if m == 0xE1 and data[s + 4 : s + 10] == b"Exif\x00\x00")  # fmt: skip
    ours = segments[index + 1 : index + count]
    assert [(m, data[s + 4 : s + 4 + len(sig)]) for (m, s, _e), sig in
            zip(ours, (XMP_APP1, PHOTOSHOP_APP13), strict=False)] == [
        (0xE1, XMP_APP1), (0xED, PHOTOSHOP_APP13)][: count - 1]  # fmt: skip
    return data[: ours[0][1]] + data[ours[-1][2] :] if ours else data


def _digest(fields: dict[str, Any]) -> str:
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_in_place(archive: Path, file: dict[str, Any], data: bytes) -> None:
    """New bytes for a media file and its album copies (a hard link shares them)."""
    path = archive / file["path"]
    path.write_bytes(data)  # the same inode: its hard links follow
    for link in file.get("links") or []:
        other = archive / link
        if not other.samefile(path):
            other.write_bytes(data)


def make_old(archive: Path, *, keep_newer: str) -> dict[str, str]:
    """Turn a backup this version made into the one the version before XMP and IPTC left;
    ``keep_newer`` (a JPEG's id) stays as the version just before this one left it (XMP and
    IPTC in, but no format in its record). The photos made old, by id: their kind."""
    assert not (archive / JOURNAL_NAME).exists()  # a run that ended leaves no placement journal
    made: dict[str, str] = {}
    db = sqlite3.connect(archive / "catalog.db")
    for pid, paths in _sidecar_paths(archive).items():
        record = json.loads(paths[0].read_text(encoding="utf-8"))
        file = record["file"]
        if file.get("metadata") != "embedded":
            continue
        data = (archive / file["path"]).read_bytes()
        segment = base64.b64decode(file["original_exif"])
        kind = file["content_type"].split("/")[1]
        # the digest of the fields that version's catalog.db kept
        if pid == keep_newer:  # the version before this one: the place's privacy, no format
            fields = embedded_fields(record)
            fields.pop("embed_format", None)
            digest = _digest(fields)
            file.pop("embed_format", None)
        elif kind == "jpeg":  # EXIF alone, its record without a count of segments
            data = _exif_only(data, file["embedded_segments"])
            assert (
                hashlib.sha256(restore_original(data, segment, 1)).hexdigest()
                == (file["original_sha256"])
            )
            _write_in_place(archive, file, data)
            for key in ("embedded_segments", "embed_format"):
                file.pop(key, None)
            file["size"], file["sha256"] = len(data), hashlib.sha256(data).hexdigest()
            digest = _digest({key: record.get(key) for key in EXIF_FIELDS})
        else:  # a PNG or GIF: stored as served, nothing said about metadata
            data = restore_original(data, segment, file["embedded_segments"])
            assert hashlib.sha256(data).hexdigest() == file["original_sha256"]
            _write_in_place(archive, file, data)
            for key in ("embedded_segments", "embed_format"):
                file.pop(key, None)
            file.update(metadata=None, original_exif=None, size=len(data),
                        sha256=file["original_sha256"])  # fmt: skip
            digest = _digest({key: record.get(key) for key in EXIF_FIELDS})
        if pid != keep_newer:
            made[pid] = kind
        for path in paths:
            path.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n",
                            encoding="utf-8")  # fmt: skip
        with db:
            db.execute(
                "UPDATE files SET size = ?, sha256 = ?, metadata = ?, exif_fields_sha256 = ?"
                " WHERE photo_id = ?",
                (file["size"], file["sha256"], file["metadata"], digest, pid),
            )
    with db:  # versions before the format was kept had no word on it
        db.execute("DELETE FROM sync_state WHERE key IN (?, ?)",
                   (FORMAT_STATE, FAVORITES_FORMAT_STATE))  # fmt: skip
    db.close()
    return made


def _exiftool(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """XMP title and toolkit, IPTC object name, of each file alone; by file name."""
    binary = shutil.which("exiftool")
    assert binary, "exiftool is needed (Debian: libimage-exiftool-perl; dev.py test installs it)"
    out = subprocess.run([binary, "-j", "-XMP:Title", "-XMP:XMPToolkit", "-IPTC:ObjectName",
                          *map(str, paths)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return {entry["SourceFile"].rsplit("/", 1)[1]: entry for entry in json.loads(out)}


def _settings(archive: Path) -> list[str]:
    return ["-s", f"FLICKR_ARCHIVE_DIR={archive}"]


def _run(sandbox: Any, archive: Path, *, spider: str = "photostream") -> SimpleNamespace:
    """A re-run: its log, stderr, API calls by method and media requests, and its time."""
    sandbox.reset_stats()
    started = time.monotonic()
    result = crawl(sandbox, archive, spider=spider)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    return SimpleNamespace(
        log=run_log(archive), stderr=result.stderr, took=took,
        calls=dict(sandbox.stats()["api_calls"]["by_method"]),
        media=[e["path"] for e in sandbox.requests() if e["kind"] == "media"],
    )  # fmt: skip


def _files(archive: Path) -> dict[str, bytes]:
    return {str(p.relative_to(archive)): p.read_bytes() for p in archive.rglob("*")
            if p.is_file() and p.suffix.lower() in (".jpg", ".png", ".gif")}  # fmt: skip


@pytest.fixture(scope="module")
def old(tmp_path_factory) -> Any:
    """A crawled account, a normal re-run's API calls, and the backup made as the version
    before XMP and IPTC left it (``scrapy verify``: consistent)."""
    tmp = tmp_path_factory.mktemp("upgrade")
    with Sandbox(*ACCOUNT, auth_file=tmp / "auth.json") as sandbox:
        archive = tmp / "made"
        result = crawl(sandbox, archive)
        assert result.returncode == 0, result.stderr[-3000:]
        normal = _run(sandbox, archive)
        assert normal.media == []
        records = _records(archive)
        kinds = {pid: r["file"]["content_type"] for pid, r in records.items()}
        assert {"image/jpeg", "image/png", "image/gif"} <= set(kinds.values())
        keep_newer = next(pid for pid, r in records.items()
                          if r["file"]["content_type"] == "image/jpeg"
                          and r["file"]["embedded_segments"] == 3)  # fmt: skip
        made = make_old(archive, keep_newer=keep_newer)
        assert sorted(set(made.values())) == ["gif", "jpeg", "png"]
        checked = scrapy("verify", *_settings(archive))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        # what that version left: no XMP in any of them, no IPTC in a JPEG
        read = _exiftool([archive / records[pid]["file"]["path"] for pid in made])
        assert all(set(entry) == {"SourceFile"} for entry in read.values()), read
        served = {p["id"]: (p.get("original") or {}).get("sha256")
                  for p in sandbox.account()["photos"]}  # fmt: skip
        yield SimpleNamespace(sandbox=sandbox, archive=archive, made=made, normal=normal,
                              keep_newer=keep_newer, served=served)  # fmt: skip


def _copy(old: Any, tmp_path: Path) -> Path:
    archive = tmp_path / "archive"
    subprocess.run(["cp", "-a", str(old.archive), str(archive)], check=True)  # hard links kept
    return archive


def test_the_next_run_embeds_what_this_version_does_into_an_old_archive(old, tmp_path):
    archive = _copy(old, tmp_path)
    before = _records(archive)
    newer = archive / before[old.keep_newer]["file"]["path"]
    newer_bytes, newer_inode = newer.read_bytes(), newer.stat().st_ino

    run = _run(old.sandbox, archive)

    assert run.media == []  # from the bytes on disk
    assert run.calls == old.normal.calls  # what any re-run asks Flickr, nothing more
    assert _stat(run.log, UPGRADED) == len(old.made), run.log[-3000:]
    assert _stat(run.log, "flickr/exif/refreshed") is None
    assert NOT_SERVED not in run.log
    assert f"Metadata upgraded in {len(old.made)} files kept from earlier runs" in run.log
    assert f"Metadata upgraded in {len(old.made)} files kept from earlier runs" in run.stderr
    summary = json.loads(max((archive / "logs").glob("*.json")).read_text())
    assert summary["files_upgraded"] == len(old.made)

    records = _records(archive)
    read = _exiftool([archive / records[pid]["file"]["path"] for pid in old.made])
    for pid, kind in old.made.items():
        file = records[pid]["file"]
        path = archive / file["path"]
        data = path.read_bytes()
        assert file["metadata"] == "embedded"
        assert file["embed_format"] == EMBED_FORMAT
        assert file["embedded_segments"] == (3 if kind == "jpeg" else 1)
        assert (file["size"], file["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
        served = restore_original(data, base64.b64decode(file["original_exif"]),
                                  file["embedded_segments"])  # fmt: skip
        assert hashlib.sha256(served).hexdigest() == file["original_sha256"]
        assert old.served[pid] in (None, file["original_sha256"])  # None: not the original size
        for link in file["links"]:
            assert (archive / link).read_bytes() == data
        tags = read[path.name]
        assert tags["XMPToolkit"] == "flickr-crawl", tags
        title = records[pid]["title"].strip()
        if title:
            assert str(tags["Title"]) == title, tags
        if kind == "jpeg" and title:  # IIM's 64 bytes
            assert title.encode().startswith(str(tags["ObjectName"]).encode()), tags
            assert str(tags["ObjectName"])
        elif kind != "jpeg":
            assert "ObjectName" not in tags
    # the file the version just before this one embedded XMP and IPTC into stays as it was
    assert newer.read_bytes() == newer_bytes
    assert newer.stat().st_ino == newer_inode
    assert records[old.keep_newer]["file"]["embedded_segments"] == 3
    # catalog.db says what the sidecars say, the digest of the fields and format embedded
    db = sqlite3.connect(archive / "catalog.db")
    rows = {r[0]: r[1:] for r in db.execute(
        "SELECT photo_id, size, sha256, metadata, exif_fields_sha256 FROM files")}  # fmt: skip
    db.close()
    for pid, record in records.items():
        file = record["file"]
        assert rows[pid] == (file["size"], file["sha256"], file["metadata"],
                             exif_fields_sha256(record)), pid  # fmt: skip
    checked = scrapy("verify", *_settings(archive))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    db = sqlite3.connect(archive / "catalog.db")
    state = db.execute("SELECT value FROM sync_state WHERE key = ?", (FORMAT_STATE,)).fetchall()
    db.close()
    assert state == [(str(EMBED_FORMAT),)]

    # the run after that: nothing to upgrade, no sidecar read, no file touched
    files = _files(archive)
    again = _run(old.sandbox, archive)
    assert again.media == []
    assert _stat(again.log, UPGRADED) is None, again.log[-3000:]
    assert _stat(again.log, "flickr/exif/refreshed") is None
    assert _stat(again.log, "flickr/file/sidecar_read") is None
    assert "Metadata upgraded" not in again.log + again.stderr
    assert _files(archive) == files
    assert _records(archive) == records


def test_a_file_changed_since_flickr_served_it_is_left_alone(old, tmp_path):
    archive = _copy(old, tmp_path)
    before = _records(archive)
    changed = {kind: next(pid for pid, k in old.made.items() if k == kind)
               for kind in ("jpeg", "png")}  # fmt: skip
    for pid in changed.values():  # an editor saved them over: one byte of the image differs
        path = archive / before[pid]["file"]["path"]
        data = bytearray(path.read_bytes())
        data[-20] ^= 0xFF
        path.write_bytes(bytes(data))
    edited = {pid: (archive / before[pid]["file"]["path"]).read_bytes()
              for pid in changed.values()}  # fmt: skip

    run = _run(old.sandbox, archive)

    assert run.media == []
    assert _stat(run.log, UPGRADED) == len(old.made) - 2, run.log[-3000:]
    for pid in changed.values():
        assert f"Photo {pid}: {before[pid]['file']['path']} {NOT_SERVED}" in run.log
        assert (archive / before[pid]["file"]["path"]).read_bytes() == edited[pid]
    after = _records(archive)
    # its record as it was: the served bytes' segment, EXIF alone (format 1) embedded
    assert after[changed["jpeg"]]["file"] == {**before[changed["jpeg"]]["file"],
                                              "status": "uptodate", "embed_format": 1,
                                              "embedded_segments": None}  # fmt: skip
    png = after[changed["png"]]["file"]
    assert png["metadata"] == "skipped: not the file Flickr served"
    assert png["original_exif"] is None
    assert png["sha256"] == before[changed["png"]]["file"]["sha256"]
    checked = scrapy("verify", *_settings(archive))
    assert checked.returncode == 2
    assert sorted(line.split("\t")[0] for line in checked.stdout.splitlines()) == sorted(
        changed.values()
    )
    # said once: the next run neither warns again nor reads them
    again = _run(old.sandbox, archive)
    assert NOT_SERVED not in again.log
    assert _stat(again.log, UPGRADED) is None
