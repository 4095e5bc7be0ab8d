"""The faves of an archive an earlier version made get what this version embeds, too.

``scrapy crawl favorites`` is incremental: after its first run it lists only what was faved
since (``min_fave_date``), so the faves an earlier version stored are not listed again. The
backup here holds the account's photos and its faves of other people's photos, made as the
version before XMP and IPTC left them (``tests.test_embed_upgrade.make_old``). The next
favorites run embeds XMP and IPTC into every faved file from the bytes on disk (no media
request, the API calls of a normal re-run), whether or not a photostream run (which brings the
account's own files to this version, and says so in catalog.db) came first; the run after that
has nothing left to do.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.metadata.exif import EMBED_FORMAT, restore_original
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl
from tests.test_embed_upgrade import (
    FAVORITES_FORMAT_STATE,
    FORMAT_STATE,
    UPGRADED,
    _copy,
    _exiftool,
    _files,
    _records,
    _run,
    _stat,
    make_old,
)

if TYPE_CHECKING:
    from pathlib import Path

ACCOUNT = ("--photos", "10", "--videos", "0", "--albums", "2", "--image-size", "small",
           "--seed", "31")  # fmt: skip


@pytest.fixture(scope="module")
def old(tmp_path_factory) -> Any:
    """The account's photostream and its faves, a normal favorites re-run's API calls, and
    the backup made as the version before XMP and IPTC left it."""
    tmp = tmp_path_factory.mktemp("upgrade-faves")
    with Sandbox(*ACCOUNT, auth_file=tmp / "auth.json") as sandbox:
        archive = tmp / "made"
        for spider in ("photostream", "favorites"):
            result = crawl(sandbox, archive, spider=spider)
            assert result.returncode == 0, result.stderr[-3000:]
        normal = _run(sandbox, archive, spider="favorites")
        assert normal.media == []
        records = _records(archive)
        faves = {pid for pid, r in records.items() if r.get("collection") == "favorites"}
        others = {p["id"] for p in sandbox.account()["other_photos"]}
        assert faves
        assert faves <= others
        keep_newer = next(pid for pid, r in records.items() if pid not in faves
                          and r["file"]["content_type"] == "image/jpeg"
                          and r["file"]["embedded_segments"] == 3)  # fmt: skip
        made = make_old(archive, keep_newer=keep_newer)
        assert faves <= made.keys()  # every faved file is as that version left it
        read = _exiftool([archive / records[pid]["file"]["path"] for pid in faves])
        assert all(set(entry) == {"SourceFile"} for entry in read.values()), read
        served = {p["id"]: (p.get("original") or {}).get("sha256")
                  for p in sandbox.account()["other_photos"]}  # fmt: skip
        yield SimpleNamespace(sandbox=sandbox, archive=archive, made=made, faves=faves,
                              own=made.keys() - faves, normal=normal, served=served)  # fmt: skip


def _state(archive: Path, key: str) -> list[tuple[str]]:
    db = sqlite3.connect(archive / "catalog.db")
    try:
        return db.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchall()
    finally:
        db.close()


def _check_upgraded(
    old: Any, archive: Path, before: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Every faved file holds this version's XMP and IPTC, restorable to Flickr's bytes; the
    rest of each fave's record is as it was."""
    records = _records(archive)
    for pid in old.faves:
        now = {k: v for k, v in records[pid].items() if k != "file"}
        assert now == {k: v for k, v in before[pid].items() if k != "file"}, pid
    read = _exiftool([archive / records[pid]["file"]["path"] for pid in old.faves])
    for pid in old.faves:
        record = records[pid]
        file = record["file"]
        path = archive / file["path"]
        assert path.parts[len(archive.parts)] == "Favorites"
        data = path.read_bytes()
        assert file["metadata"] == "embedded"
        assert file["embed_format"] == EMBED_FORMAT, pid
        assert file["embedded_segments"] == (3 if old.made[pid] == "jpeg" else 1)
        assert (file["size"], file["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
        served = restore_original(data, base64.b64decode(file["original_exif"]),
                                  file["embedded_segments"])  # fmt: skip
        assert hashlib.sha256(served).hexdigest() == file["original_sha256"]
        if file["is_original"]:  # else the largest size the owner allows: not in the truth
            assert old.served[pid] == file["original_sha256"]
        tags = read[path.name]
        assert tags["XMPToolkit"] == "flickr-crawl", tags
        title = record["title"].strip()
        if title:
            assert str(tags["Title"]) == title, tags
        assert record["date_faved"]  # still a fave, with its context
        assert record["owner_user"]["nsid"] == record["owner"]
    return records


def _nothing_left(old: Any, archive: Path, spider: str) -> None:
    files, records = _files(archive), _records(archive)
    again = _run(old.sandbox, archive, spider=spider)
    assert again.media == []
    assert _stat(again.log, UPGRADED) is None, again.log[-3000:]
    assert _stat(again.log, "flickr/exif/refreshed") is None
    assert "Metadata upgraded" not in again.log + again.stderr
    assert _files(archive) == files
    assert _records(archive) == records


def test_the_next_favorites_run_upgrades_every_faved_file(old, tmp_path):
    archive = _copy(old, tmp_path)
    before = _records(archive)

    run = _run(old.sandbox, archive, spider="favorites")

    assert run.media == []  # from the bytes on disk
    assert run.calls == old.normal.calls  # what any favorites re-run asks Flickr
    assert _stat(run.log, UPGRADED) == len(old.faves), run.log[-3000:]
    assert f"Metadata upgraded in {len(old.faves)} files kept from earlier runs" in run.stderr
    progress = next(line for line in run.log.splitlines() if "Progress (finished)" in line)
    n = len(old.faves)
    assert f"deep pass {n}/{n}, photos {n}/{n}," in progress, progress  # their getInfo stored
    records = _check_upgraded(old, archive, before)
    for pid in old.own:  # the photostream's files are the photostream run's to upgrade
        assert "embed_format" not in records[pid]["file"], pid
    assert _state(archive, FAVORITES_FORMAT_STATE) == [(str(EMBED_FORMAT),)]
    assert _state(archive, FORMAT_STATE) == []
    _nothing_left(old, archive, "favorites")


def test_faves_are_upgraded_after_a_photostream_run_brought_its_files_to_this_version(
    old, tmp_path
):
    archive = _copy(old, tmp_path)
    before = _records(archive)
    stream = _run(old.sandbox, archive)
    assert stream.media == []
    assert _stat(stream.log, UPGRADED) == len(old.own), stream.log[-3000:]
    assert _state(archive, FORMAT_STATE) == [(str(EMBED_FORMAT),)]

    run = _run(old.sandbox, archive, spider="favorites")

    assert run.media == []
    assert run.calls == old.normal.calls
    assert _stat(run.log, UPGRADED) == len(old.faves), run.log[-3000:]
    records = _check_upgraded(old, archive, before)
    for pid in old.own:
        assert records[pid]["file"]["embed_format"] == EMBED_FORMAT, pid
    _nothing_left(old, archive, "favorites")
    _nothing_left(old, archive, "photostream")
