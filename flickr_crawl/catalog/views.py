"""Read-only questions the rest of flickr-crawl asks catalog.db, so its SQL stays here.

For the commands that check an archive (verify, findmissing), the redownload spider (a photo's
stored list payload, albums and galleries), the estimate (what an incremental run would skip),
the photostream spider (a changed photo's stored list payload and notes count) and the demo.
The offline site reads the whole catalog through ``catalog.siteview``; a crawl reads what the
last run left through ``catalog.lastrun``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flickr_crawl.catalog.db import column_names, open_read_only
from flickr_crawl.flickr.api import FAVORITES_GET_LIST, PHOTOS_GET_SIZES
from flickr_crawl.flickr.mapping import (
    best_video_source,
    favorite_photo,
    photo_from_list,
    video_play_source,
)

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator
    from pathlib import Path

    from flickr_crawl.items import PhotoItem


def photo_files(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """Every photo with its file's record (NULLs where none): id, media, title, page_url,
    status, path, size, sha256, reason, links; in id order."""
    yield from db.execute(
        "SELECT p.id, COALESCE(p.media, 'photo') AS media, p.title, p.page_url,"
        " f.status, f.path, f.size, f.sha256, f.reason"
        ", f.links FROM photos p LEFT JOIN files f ON f.photo_id = p.id ORDER BY p.id"
    )


def items_from_catalog(
    path: Path, photo_ids: list[str], *, me: str, web_url: str
) -> dict[str, PhotoItem]:
    """Photo items rebuilt from the list payloads catalog.db stored, without albums and
    galleries (the caller knows those). Costs no API call: for re-filing and redownloads."""
    items: dict[str, PhotoItem] = {}
    db = open_read_only(path)
    try:
        for photo_id in photo_ids:
            row = db.execute("SELECT raw FROM photos WHERE id = ?", (photo_id,)).fetchone()
            raw = json.loads(row["raw"]) if row and row["raw"] else {}
            method, listed = next(iter(raw.items()), ("", None))
            if not listed:
                continue
            if method == FAVORITES_GET_LIST:
                item = favorite_photo(listed, me=me, web_url=web_url)
                if item.media == "video" and item.source is None and raw.get(PHOTOS_GET_SIZES):
                    item.source = best_video_source({"sizes": raw[PHOTOS_GET_SIZES]})
            else:
                item = photo_from_list(listed, method=method, owner=me, web_url=web_url)
                item.source = item.source or video_play_source(item, web_url)
            items[photo_id] = item
    finally:
        db.close()
    return items


def note_counts(path: Path, photo_ids: list[str]) -> dict[str, int]:
    """How many notes catalog.db holds for each photo (as its last getInfo gave them)."""
    db = open_read_only(path)
    try:
        return {photo_id: int(db.execute(
            "SELECT COUNT(*) FROM notes WHERE photo_id = ?", (photo_id,)).fetchone()[0])
            for photo_id in photo_ids}  # fmt: skip
    finally:
        db.close()


def album_titles(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """(id, title) of every album still on Flickr."""
    return [(r[0], r[1] or "") for r in db.execute(
        "SELECT id, title FROM albums WHERE deleted_on_flickr = 0")]  # fmt: skip


def photo_albums(db: sqlite3.Connection, photo_id: str) -> list[tuple[str, str, int]]:
    """(album id, title, position) of the albums still on Flickr that hold the photo."""
    return [(r[0], r[1] or "", r[2]) for r in db.execute(
        "SELECT ap.album_id, a.title, ap.position FROM album_photos ap"
        " JOIN albums a ON a.id = ap.album_id"
        " WHERE ap.photo_id = ? AND a.deleted_on_flickr = 0", (photo_id,))]  # fmt: skip


def photo_galleries(db: sqlite3.Connection, photo_id: str) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT gallery_id FROM gallery_photos WHERE photo_id = ?", (photo_id,))]  # fmt: skip


def file_path(db: sqlite3.Connection, photo_id: str) -> str | None:
    """Where the photo's file is (relative to the archive), if the catalog says."""
    row = db.execute("SELECT path FROM files WHERE photo_id = ?", (photo_id,)).fetchone()
    return str(row[0]) if row and row[0] else None


def estimate_basis(path: Path, owner: str) -> tuple[dict[str, int], float | None, set[str]]:
    """(photo id -> last_update_unix, share of deep-passed photos with people, the photos that
    owe a getInfo an incremental run skipped) of a catalog (``owner``'s photos; everyone's when
    it is ''). sqlite3.Error if it cannot be read."""
    db = open_read_only(path)
    try:
        owed = set() if "info_owed" not in column_names(db, "photos") else {  # (version 7)
            str(pid) for (pid,) in db.execute(
                "SELECT id FROM photos WHERE info_owed IS NOT NULL AND deleted_on_flickr = 0"
                " AND (owner = ? OR ? = '')", (owner, owner),
            )
        }  # fmt: skip
        known = {
            str(pid): int(unix or 0)
            for pid, unix in db.execute(
                "SELECT id, last_update_unix FROM photos"
                " WHERE deleted_on_flickr = 0 AND (owner = ? OR ? = '')",
                (owner, owner),
            )
        }
        (with_info,) = db.execute(
            "SELECT count(*) FROM photos WHERE info_raw IS NOT NULL AND (owner = ? OR ? = '')",
            (owner, owner),
        ).fetchone()
        (with_people,) = db.execute(
            "SELECT count(DISTINCT pe.photo_id) FROM people pe JOIN photos p ON p.id = pe.photo_id"
            " WHERE (p.owner = ? OR ? = '')",
            (owner, owner),
        ).fetchone()
    finally:
        db.close()
    return known, (with_people / with_info if with_info else None), owed


def file_counts(db: sqlite3.Connection) -> dict[str, int]:
    """Files the catalog holds, by media and status (``photo downloaded``, ``video missing``)."""
    rows = db.execute(
        "SELECT p.media, f.status, count(*) FROM files f JOIN photos p ON p.id = f.photo_id"
        " GROUP BY 1, 2"
    ).fetchall()
    return {f"{media} {status}": n for media, status, n in rows}
