"""A full disk stops the run with one clear line and leaves nothing that lies; more space and the
same command again completes the backup.

The archive lives on a real, small tmpfs (mounted for the test), so the crawl meets a genuine
ENOSPC from the kernel: in a media body, a sidecar, the catalog, wherever it comes first.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.extensions.leftovers import LOCK_NAME
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, sidecars, web_session
from tests.reliability.common import SMALL_ACCOUNT, run_summary

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DISK_MB = 16
FREE_KB = 900  # about half of what the small account's archive needs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0755", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here, so no real ENOSPC: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path, leave_kb: int) -> Path:
    """A file taking all but ``leave_kb`` of the disk."""
    filler = mount / "filler"
    with filler.open("wb") as fh:
        fh.write(b"\0" * ((DISK_MB << 20) - (leave_kb << 10) - (64 << 10)))
    return filler


def _media(archive: Path) -> list[Path]:
    return [p for p in archive.rglob("*") if p.is_file()
            and p.suffix.lower() in (".jpg", ".png", ".gif", ".mp4", ".mov")]  # fmt: skip


def _expected_sha256(photo: dict[str, Any], sidecar: Path, *, still: bool = False) -> str | None:
    """What the file must hash to: Flickr's original (ground truth; for a video's still, the
    largest still it lists, url_o here), else, for photos whose owner offers no original, the
    size the sidecar says was verified."""
    if still:
        return photo["original"]["sha256"] if photo["original"] else None
    if photo["media"] == "video":
        return photo["video"]["sha256"]
    if photo["original"]:
        return photo["original"]["sha256"]
    if sidecar.exists():
        return json.loads(sidecar.read_text(encoding="utf-8"))["file"]["original_sha256"]
    return None  # a smaller size without its sidecar cannot be vouched for: fails the check


def test_a_full_disk_stops_cleanly_and_a_rerun_completes(small_disk, tmp_path):
    with Sandbox(*SMALL_ACCOUNT, "--seed", "31", auth_file=tmp_path / "auth.json") as sandbox:
        truth = {p["id"]: p for p in sandbox.account()["photos"]}
        session = web_session(sandbox, tmp_path / "web-session.json")
        archive = small_disk / "archive"
        # EXIF off: every file on disk must then be byte for byte what Flickr serves.
        args = ("-s", f"FLICKR_WEB_SESSION_FILE={session}", "-s", "FLICKR_EXIF_ENABLED=False",
                "-s", "FLICKR_DISK_RESERVE_MB=0")  # fmt: skip
        filler = _fill(small_disk, FREE_KB)
        full = crawl(sandbox, archive, *args)

        assert full.returncode == 1, full.stderr[-3000:]
        last = full.stderr.strip().splitlines()[-1]
        assert last.startswith("error: disk full: "), last
        assert "run the same command again" in last
        assert "Traceback" not in full.stderr
        # nothing half-written under a final name, no temp files left behind
        assert not [p for p in archive.rglob(".*") if p.is_file() and p.name != LOCK_NAME]
        for path in _media(archive):
            photo_id, _, kind = path.stem.partition(".")  # <id>.jpg, or <id>.poster.jpg
            want = _expected_sha256(truth[photo_id], path.with_name(f"{photo_id}.json"),
                                    still=kind == "poster")  # fmt: skip
            assert hashlib.sha256(path.read_bytes()).hexdigest() == want, path
        for path in archive.rglob("*.json"):
            json.loads(path.read_text(encoding="utf-8"))  # every sidecar is whole
        db = sqlite3.connect(archive / "catalog.db")
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            saved = db.execute("SELECT count(*) FROM photos").fetchone()[0]
        finally:
            db.close()
        assert len(_media(archive)) < len(truth), "the disk never filled up"
        assert saved <= len(truth)

        filler.unlink()
        again = crawl(sandbox, archive, *args)
        assert again.returncode == 0, again.stderr[-3000:]
        assert run_summary(archive)["failed"] == []
        records = sidecars(archive)
        assert set(records) == set(truth)
        for photo_id, photo in truth.items():
            file = records[photo_id][0]["file"]
            assert file["status"] in ("downloaded", "uptodate"), (photo_id, file)
            path = archive / file["path"]
            want = _expected_sha256(photo, path.with_suffix(".json"))
            assert hashlib.sha256(path.read_bytes()).hexdigest() == want, photo_id
