"""What is missing or broken in an archive, from catalog.db and the disk. No Scrapy here.

``find_missing`` is cheap (catalog rows and file sizes); ``verify`` reads every byte: present,
size, SHA-256, and that the bytes are the kind of file the record says (a video is a video, a
JPEG a JPEG). ``mark_broken`` records what verify found, so a redownload picks it up.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from flickr_crawl.archive.filetypes import is_image, is_video, sniff
from flickr_crawl.archive.paths import archive_dir
from flickr_crawl.archive.storage import sha256_file
from flickr_crawl.catalog import runs
from flickr_crawl.catalog.db import open_archive_catalog
from flickr_crawl.catalog.views import photo_files

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable
    from pathlib import Path

COMPLETE = ("downloaded", "uptodate")
CSV_FIELDS = ("id", "media", "title", "page_url", "path", "reason")


@dataclass
class Problem:
    id: str
    media: str
    title: str
    page_url: str
    path: str
    reason: str


def _problem(row: sqlite3.Row, reason: str) -> Problem:
    return Problem(row["id"], row["media"], row["title"] or "", row["page_url"] or "",
                   row["path"] or "", reason)  # fmt: skip


def find_missing(archive: Path, db: sqlite3.Connection) -> list[Problem]:
    """Every photo or video whose media is not complete on disk, with the reason."""
    problems = []
    for row in photo_files(db):
        if row["status"] is None:
            problems.append(_problem(row, "listed, never downloaded"))
        elif row["status"] not in COMPLETE:
            problems.append(_problem(row, f"{row['status']}: {row['reason'] or 'no reason'}"))
        elif not row["path"] or not (archive / row["path"]).is_file():
            problems.append(_problem(row, "file not on disk"))
        elif (size := (archive / row["path"]).stat().st_size) != row["size"]:
            problems.append(_problem(row, f"incomplete: {size} of {row['size']} bytes"))
    return problems


def verify(archive: Path, db: sqlite3.Connection) -> tuple[int, list[Problem]]:
    """Check every complete file byte by byte: (files checked, problems)."""
    checked = 0
    problems = []
    for row in photo_files(db):
        if row["status"] not in COMPLETE:
            continue
        checked += 1
        path = archive / (row["path"] or "")
        if not row["path"] or not path.is_file():
            problems.append(_problem(row, "file not on disk"))
            continue
        with path.open("rb") as fh:
            kind = sniff(fh.read(64))
        size, sha256 = sha256_file(path)
        if size != row["size"]:
            problems.append(_problem(row, f"size {size}, catalog says {row['size']}"))
        elif sha256 != row["sha256"]:
            problems.append(_problem(row, "content changed (sha256 differs)"))
        elif row["media"] == "video" and not is_video(kind):
            problems.append(_problem(row, f"not a video: the bytes are {kind or 'unknown'}"))
        elif row["media"] != "video" and not is_image(kind):
            problems.append(_problem(row, f"not an image: the bytes are {kind or 'unknown'}"))
        else:
            problems += _check_links(archive, row, path)
    return checked, problems


def _check_links(archive: Path, row: sqlite3.Row, path: Path) -> list[Problem]:
    """The copies in further album folders: there, and the same bytes (a hard link is)."""
    problems = []
    for link in json.loads(row["links"] or "[]"):
        other = archive / link
        if not other.is_file():
            problems.append(_problem(row, f"album copy missing: {link}"))
        elif not other.samefile(path) and sha256_file(other) != (row["size"], row["sha256"]):
            problems.append(_problem(row, f"album copy differs: {link}"))
    return problems


def mark_broken(db: sqlite3.Connection, problems: Iterable[Problem]) -> int:
    """Record verify's findings in the catalog (status "broken"), one transaction."""
    return runs.mark_broken(db, [(p.id, p.reason) for p in problems])


def write_csv(path: Path, problems: Iterable[Problem]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        write_csv_to(fh, problems)


def write_csv_to(fh: TextIO, problems: Iterable[Problem]) -> None:
    """The problems as CSV with a header; a title with commas, quotes, tabs or line breaks
    stays one quoted field."""
    writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for p in problems:
        writer.writerow({field: getattr(p, field) for field in CSV_FIELDS})


def read_ids(path: Path) -> list[str]:
    """Photo ids from a file: one per line, or findmissing's CSV (its ``id`` column)."""
    text = path.read_text(encoding="utf-8-sig")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].split(",")[0] == "id":
        # Parsed from the whole text: a quoted title may hold line breaks.
        return [row["id"] for row in csv.DictReader(io.StringIO(text)) if row.get("id")]
    return [line for line in lines if not line.startswith("#")]


def archive_of(settings: Any) -> tuple[Path, sqlite3.Connection]:
    """The archive folder of FLICKR_ARCHIVE_DIR and its open catalog (or NoCatalog)."""
    archive = archive_dir(settings)
    return archive, open_archive_catalog(archive)
