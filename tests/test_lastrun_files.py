"""A re-run keeps each complete file on catalog.db's word: no JSON sidecar is read for it.

The media step used to read every known photo's sidecar to decide whether its file is complete
and the same bytes on Flickr. catalog.db now records all that decision needs (the source's
key, the camera's EXIF, a digest of the fields embedded), so a re-run reads none; without a
catalog (deleted, switched off, or older than those columns) the sidecars still decide, and
the decisions are the same. Sidecar reads are counted two ways: by the stat the media step
keeps, and by Python's audit hooks in the real crawl (every ``<id>.json`` opened for reading
outside the sidecar pipeline's own writer thread, which merges each record into the next).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from flickr_crawl.metadata.exif import restore_original
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT, as_old_catalog, crawl_args, run_log, sidecars

if TYPE_CHECKING:
    from pathlib import Path

ACCOUNT = ("--photos", "24", "--videos", "0", "--albums", "3", "--image-size", "small",
           "--seed", "7")  # fmt: skip
SIDECAR_READ = "flickr/file/sidecar_read"

# A crawl as ``scrapy crawl`` runs it, counting the sidecars opened for reading.
COUNT_READS = r"""
import atexit, json, re, sys, threading
reads = []
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and re.search(r"/\d+\.json$", args[0]):
        reading = (args[1] or "r").startswith("r")
        if reading and threading.current_thread().name != "flickr-sidecar":
            reads.append(args[0])
sys.addaudithook(hook)
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(reads)))
sys.argv = ["scrapy", *sys.argv[2:]]
from scrapy.cmdline import execute
execute()
"""


def crawl_counting(sandbox: Any, archive: Path, *extra: str) -> list[str]:
    """Run a crawl; the sidecars it read outside the sidecar pipeline."""
    out = archive.parent / f"reads-{len(list(archive.parent.glob('reads-*')))}.json"
    done = subprocess.run(
        [sys.executable, "-c", COUNT_READS, str(out), *crawl_args(sandbox, archive, *extra)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "SCRAPY_SETTINGS_MODULE": "flickr_crawl.settings"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def stat_value(log: str, key: str) -> int | None:
    found = re.search(rf"'{re.escape(key)}': (\d+)", log)
    return int(found.group(1)) if found else None


def archive_state(archive: Path) -> dict[str, Any]:
    """Every media file (path -> sha256 of its bytes) and photo sidecar (path -> its record,
    the file's status aside: a kept file is "uptodate" where it was "downloaded")."""
    found: dict[str, Any] = {}
    for path in archive.rglob("*"):
        relative = path.relative_to(archive)
        if not path.is_file() or relative.parts[0] == "logs" or path.name.startswith("catalog"):
            continue
        if path.name in ("album.json", ".flickr-crawl.lock") or path.suffix == ".xmp":
            continue
        if path.suffix == ".json":
            record = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(record.get("file"), dict) and record["file"]["path"]:
                record["file"]["status"] = "complete"
            found[relative.as_posix()] = record
        else:
            found[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def media_requests(sandbox: Any) -> list[str]:
    return [e["path"] for e in sandbox.requests() if e["kind"] == "media"]


def run_again(sandbox: Any, archive: Path, photos: int) -> list[str]:
    """Every photo through the media step again (-a full=1), nothing changed on Flickr:
    all are kept, none fetched. The sidecars read meanwhile."""
    sandbox.reset_stats()
    reads = crawl_counting(sandbox, archive, "-a", "full=1")
    log = run_log(archive)
    assert stat_value(log, "flickr/file/uptodate") == photos
    assert stat_value(log, "flickr/file/downloaded") is None
    assert stat_value(log, "flickr/exif/refreshed") is None
    assert media_requests(sandbox) == []
    return reads


def test_a_rerun_reads_no_sidecar_for_files_the_catalog_has(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with Sandbox(*ACCOUNT, auth_file=tmp_path / "auth.json") as sandbox:
        photos = len(sandbox.account(hashes=False)["photos"])
        crawl_counting(sandbox, archive)
        before = archive_state(archive)
        records = [r[0] for r in sidecars(archive).values()]
        assert len(records) == photos
        assert {r["file"]["status"] for r in records} == {"downloaded"}
        # EXIF written (the fields' digest decides), camera EXIF read: both must survive
        assert "embedded" in {r["file"]["metadata"] for r in records}
        assert any(r["camera"] for r in records), "no camera EXIF: the test would prove less"

        reads = run_again(sandbox, archive, photos)

        assert reads == []
        assert stat_value(run_log(archive), SIDECAR_READ) in (None, 0)
        # Media files byte for byte as they were, sidecars as they were (the camera's EXIF and
        # the served file's EXIF segment are in the records the run wrote again).
        assert archive_state(archive) == before


def test_without_the_catalog_the_sidecars_still_keep_every_file(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with Sandbox(*ACCOUNT, auth_file=tmp_path / "auth.json") as sandbox:
        photos = len(sandbox.account(hashes=False)["photos"])
        crawl_counting(sandbox, archive)
        before = archive_state(archive)
        for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm"):
            (archive / name).unlink(missing_ok=True)

        reads = run_again(sandbox, archive, photos)

        assert len(reads) == photos  # each photo's own sidecar, once
        assert stat_value(run_log(archive), SIDECAR_READ) == photos
        assert archive_state(archive) == before
        # The catalog this run made anew vouches for the files from now on.
        assert run_again(sandbox, archive, photos) == []
        assert archive_state(archive) == before


def test_a_catalog_from_before_the_file_keys_reads_each_sidecar_once(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with Sandbox(*ACCOUNT, auth_file=tmp_path / "auth.json") as sandbox:
        photos = len(sandbox.account(hashes=False)["photos"])
        crawl_counting(sandbox, archive)
        before = archive_state(archive)
        as_old_catalog(archive / "catalog.db", 4)  # files rows without source keys

        assert len(run_again(sandbox, archive, photos)) == photos
        assert stat_value(run_log(archive), SIDECAR_READ) == photos
        assert run_again(sandbox, archive, photos) == []
        assert archive_state(archive) == before


def test_an_edit_after_a_catalog_only_rerun_embeds_again_from_the_served_bytes(
    tmp_path: Path,
) -> None:
    """A re-run on catalog.db's word writes each sidecar again without reading it: the served
    file's EXIF segment and the count of segments embedded in its place must survive that, or
    a later edit on Flickr could not give back Flickr's bytes to embed the new caption in."""
    archive = tmp_path / "archive"
    with Sandbox(*ACCOUNT, auth_file=tmp_path / "auth.json") as sandbox:
        photos = len(sandbox.account(hashes=False)["photos"])
        crawl_counting(sandbox, archive)
        assert run_again(sandbox, archive, photos) == []
        photo_id, (record, *_rest) = next(
            (pid, recs) for pid, recs in sidecars(archive).items()
            if recs[0]["file"]["metadata"] == "embedded" and recs[0]["file"]["embedded_segments"]
        )  # fmt: skip
        assert record["file"]["embedded_segments"] == 3  # EXIF, XMP, IPTC
        sandbox.mutate([{"op": "edit_photo", "id": photo_id, "title": "Renamed on Flickr"}])
        sandbox.reset_stats()

        crawl_counting(sandbox, archive)

        log = run_log(archive)
        assert stat_value(log, "flickr/exif/refreshed") == 1, log[-3000:]
        assert "is not the file catalog.db recorded" not in log
        assert media_requests(sandbox) == []  # embedded again from the file on disk
        after = sidecars(archive)[photo_id][0]["file"]
        data = (archive / after["path"]).read_bytes()
        assert b"Renamed on Flickr" in data  # in the XMP packet and the IPTC record
        served = restore_original(data, base64.b64decode(after["original_exif"]),
                                  after["embedded_segments"])  # fmt: skip
        assert hashlib.sha256(served).hexdigest() == record["file"]["original_sha256"]


def test_a_place_made_private_on_flickr_leaves_the_file_at_the_next_run(tmp_path: Path) -> None:
    """GPS goes into a media file (which may be shared) only while Flickr shows the place to
    everyone; the owner hiding it is an edit like a new caption, though no field of the photo
    but its privacy changed."""
    archive = tmp_path / "archive"
    with Sandbox(*ACCOUNT, auth_file=tmp_path / "auth.json") as sandbox:
        crawl_counting(sandbox, archive)
        placed = {
            pid: recs[0] for pid, recs in sidecars(archive).items()
            if recs[0]["geo"] and recs[0]["file"]["metadata"] == "embedded"
            and b"exif:GPSLatitude" in (archive / recs[0]["file"]["path"]).read_bytes()
        }  # fmt: skip
        assert placed, "no public place embedded: the test would prove nothing"
        photo_id, record = next(iter(placed.items()))
        sandbox.mutate([{"op": "edit_photo", "id": photo_id, "ispublic": 0, "isfriend": 1}])

        crawl_counting(sandbox, archive)

        log = run_log(archive)
        assert stat_value(log, "flickr/exif/refreshed") == 1, log[-3000:]
        data = (archive / sidecars(archive)[photo_id][0]["file"]["path"]).read_bytes()
        assert b"exif:GPSLatitude" not in data  # the XMP packet has no place any more
        assert sidecars(archive)[photo_id][0]["geo"] == record["geo"]  # the sidecar keeps it
