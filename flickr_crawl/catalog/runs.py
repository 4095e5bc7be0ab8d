"""A crawl's own records in the catalog: its ``runs`` row, the ``sync_state`` watermarks the
next run starts from, and the flags a complete listing (or ``scrapy verify``) sets on what
Flickr no longer has or the disk no longer holds. Nothing is deleted: rows stay, flagged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flickr_crawl.catalog.db import to_json, transaction, utc_now

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable

# The count columns of ``runs``, filled from ``finish_run(counts=...)``.
RUN_COUNTS = ("photos_listed", "files_downloaded", "failed", "videos_missing")

# sync_state keys
WATERMARK = "photostream.watermark"  # unix time a clean run started at
RUNS_SINCE_SWEEP = "photostream.runs_since_sweep"
FAVORITES_WATERMARK = "favorites.min_fave_date"  # the newest date_faved of a clean run
# The start of the last clean run whose new comments and faves are all in: a complete sweep,
# or an incremental run that read flickr.activity.userPhotos to its last page.
ACTIVITY_WATERMARK = "activity.watermark"
# When flickr.activity.userPhotos was last called (unix), whatever became of that run: Flickr
# asks for one call an hour at most (FLICKR_ACTIVITY_MIN_INTERVAL).
ACTIVITY_LAST_CALL = "activity.last_call"
# The EMBED_FORMAT (flickr_crawl.metadata.exif) a clean photostream run brought every file of
# the account to; none: 1, what versions before this key embedded.
EMBED_FORMAT_STATE = "files.embed_format"
# The same for the faves stored under Favorites/, brought there by a clean favorites run (an
# incremental one lists only new faves, so it rebuilds the others from catalog.db once).
FAVORITES_EMBED_FORMAT_STATE = "favorites.embed_format"


def mark_gone_favorites(
    db: sqlite3.Connection, seen: Iterable[str], *, now: str | None = None
) -> list[str]:
    """After a complete, full listing: flag the faves not in it (the files stay). Their ids."""
    now = now or utc_now()
    seen = set(seen)
    with transaction(db):
        known = [r[0] for r in db.execute(
            "SELECT photo_id FROM favorites WHERE gone_from_flickr = 0")]  # fmt: skip
        gone = [photo_id for photo_id in known if photo_id not in seen]
        db.executemany(
            "UPDATE favorites SET gone_from_flickr = 1, gone_since = ? WHERE photo_id = ?",
            [(now, photo_id) for photo_id in gone],
        )
    return gone


def mark_deleted_photos(db: sqlite3.Connection, owner: str, seen: Iterable[str]) -> list[str]:
    """After a complete listing of the whole photostream: flag the owner's photos that were
    not in it as deleted on Flickr (rows and files stay). The ids newly flagged."""
    seen = set(seen)
    with transaction(db):
        known = [r[0] for r in db.execute(
            "SELECT id FROM photos WHERE owner = ? AND deleted_on_flickr = 0"
            " AND last_update_unix IS NOT NULL", (owner,))]  # fmt: skip
        gone = [photo_id for photo_id in known if photo_id not in seen]
        db.executemany("UPDATE photos SET deleted_on_flickr = 1 WHERE id = ?", [(i,) for i in gone])
    return gone


def mark_deleted_album(db: sqlite3.Connection, album_id: str) -> bool:
    """Flag an album Flickr no longer lists (its rows and membership stay, for the record)."""
    with transaction(db):
        return bool(db.execute(
            "UPDATE albums SET deleted_on_flickr = 1 WHERE id = ? AND deleted_on_flickr = 0",
            (album_id,)).rowcount)  # fmt: skip


def info_owed_count(db: sqlite3.Connection) -> int:
    """Photos still on Flickr whose getInfo an incremental run skipped and no run has asked
    since (``save_info_owed``): the next sweep asks them."""
    return int(db.execute(
        "SELECT COUNT(*) FROM photos WHERE info_owed IS NOT NULL AND deleted_on_flickr = 0"
    ).fetchone()[0])  # fmt: skip


def get_state(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_state(db: sqlite3.Connection, key: str, value: str, *, now: str | None = None) -> None:
    with transaction(db):
        db.execute(
            "INSERT INTO sync_state (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, now or utc_now()),
        )


def start_run(db: sqlite3.Connection, spider: str, *, now: str | None = None) -> int:
    """Record the start of a crawl; its id."""
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO runs (spider, started) VALUES (?, ?)", (spider, now or utc_now())
        )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def finish_run(
    db: sqlite3.Connection,
    run_id: int,
    *,
    reason: str,
    counts: dict[str, int],
    api_calls: int,
    now: str | None = None,
) -> None:
    """Record how a crawl ended: reason, the RUN_COUNTS columns (all of counts as JSON)."""
    with transaction(db):
        db.execute(
            """
            UPDATE runs SET finished = :now, reason = :reason, api_calls = :api_calls,
                photos_listed = :photos_listed, files_downloaded = :files_downloaded,
                failed = :failed, videos_missing = :videos_missing, counts = :counts
            WHERE id = :id
            """,
            {
                "id": run_id,
                "now": now or utc_now(),
                "reason": reason,
                "api_calls": api_calls,
                "counts": to_json(counts),
                **{name: counts.get(name, 0) for name in RUN_COUNTS},
            },
        )


def mark_broken(db: sqlite3.Connection, problems: Iterable[tuple[str, str]]) -> int:
    """Record what ``scrapy verify`` found, (photo id, reason) each, as status "broken" (so a
    redownload picks them up), in one transaction; the rows changed."""
    with db:
        cursor = db.executemany(
            "UPDATE files SET status = 'broken', reason = ? WHERE photo_id = ?",
            [(f"verify: {reason}", photo_id) for photo_id, reason in problems],
        )
    return cursor.rowcount
