"""What an incremental photostream run needs from catalog.db before it asks Flickr anything.

The watermark and sweep counter (``sync_state``), the albums and galleries with the
``date_update`` and counts Flickr gave last time (an album whose getList entry still matches
keeps its stored membership, so it costs no photosets.getPhotos call), and each of the
account's photos with the album folders it was filed under (to find photos whose folders
changed without the photo itself changing: renamed, deleted or re-arranged albums).

Read once, read-only, before the run saves anything.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flickr_crawl.catalog.store import open_read_only, read_catalog
from flickr_crawl.flickr.api import FAVORITES_GET_LIST, GALLERIES_GET_LIST, PHOTOS_GET_SIZES
from flickr_crawl.flickr.mapping import (
    best_video_source,
    favorite_photo,
    photo_from_list,
    video_play_source,
)

if TYPE_CHECKING:
    from pathlib import Path

    from flickr_crawl.items import PhotoItem

WATERMARK = "photostream.watermark"  # unix time a clean run started at
RUNS_SINCE_SWEEP = "photostream.runs_since_sweep"


@dataclass
class Listed:
    """A container (album or gallery) as its list call described it last time."""

    title: str
    date_update: str | None
    counts: tuple[int, int]
    folder: str
    photo_ids: list[str]

    def same_as(self, title: str, date_update: str | None, counts: tuple[int, int]) -> bool:
        """Flickr sets ``date_update`` when photos are added, removed or re-ordered. Old
        albums untouched since may say 0 (None here); their first change sets it, so an
        equal value, zero included, means the same photos."""
        return (title, date_update, counts) == (self.title, self.date_update, self.counts)


@dataclass
class CatalogView:
    watermark: int = 0
    runs_since_sweep: int = 0
    albums: dict[str, Listed] = field(default_factory=dict)
    galleries: dict[str, Listed] = field(default_factory=dict)
    # photo id -> {(album id, folder)} for the account's own photos still on Flickr
    filed: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # those of them without a complete file (failed, missing video): tried again every run
    incomplete: set[str] = field(default_factory=set)


def load_view(path: Path, owner: str) -> CatalogView:
    """The catalog as this run starts; an empty view when there is none (or it is unusable)."""
    return read_catalog(path, lambda db: _read(db, owner), CatalogView(),
                        otherwise="listing everything")  # fmt: skip


def _members(db: sqlite3.Connection, table: str, key: str) -> dict[str, list[str]]:
    """Container id -> its photo ids in order, from album_photos or gallery_photos."""
    members: dict[str, list[str]] = defaultdict(list)
    for row in db.execute(f"SELECT {key}, photo_id FROM {table} ORDER BY {key}, position"):
        members[row[0]].append(row[1])
    return members


def _read(db: sqlite3.Connection, owner: str) -> CatalogView:
    view = CatalogView()
    state = dict(db.execute("SELECT key, value FROM sync_state").fetchall())
    view.watermark = int(state.get(WATERMARK) or 0)
    view.runs_since_sweep = int(state.get(RUNS_SINCE_SWEEP) or 0)
    members = _members(db, "album_photos", "album_id")
    for row in db.execute(
        "SELECT id, title, date_update, count_photos, count_videos, folder FROM albums"
        " WHERE deleted_on_flickr = 0"
    ):
        view.albums[row["id"]] = Listed(
            row["title"] or "", row["date_update"],
            (row["count_photos"] or 0, row["count_videos"] or 0), row["folder"] or "",
            members.get(row["id"], []),
        )  # fmt: skip
    gallery_members = _members(db, "gallery_photos", "gallery_id")
    for row in db.execute(
        "SELECT id, title, date_update, raw FROM galleries WHERE deleted_on_flickr = 0"
    ):
        listed = json.loads(row["raw"] or "{}").get(GALLERIES_GET_LIST, {})
        view.galleries[row["id"]] = Listed(
            row["title"] or "", row["date_update"], gallery_counts(listed), "",
            gallery_members.get(row["id"], []),
        )  # fmt: skip
    for row in db.execute(
        "SELECT p.id FROM photos p WHERE p.owner = ? AND p.deleted_on_flickr = 0"
        " AND p.last_update_unix IS NOT NULL",
        (owner,),
    ):
        view.filed[row[0]] = set()
    complete = {row[0] for row in db.execute(
        "SELECT photo_id FROM files WHERE status IN ('downloaded', 'uptodate')")}  # fmt: skip
    view.incomplete = view.filed.keys() - complete
    for album_id, album in view.albums.items():
        for photo_id in album.photo_ids:
            if photo_id in view.filed:
                view.filed[photo_id].add((album_id, album.folder))
    return view


def gallery_counts(raw: dict[str, Any]) -> tuple[int, int]:
    """A galleries.getList entry's photo and video counts."""

    def number(key: str) -> int:
        try:
            return int(raw.get(key) or 0)
        except (TypeError, ValueError):
            return 0

    return number("count_photos"), number("count_videos")


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
            method, listed = next(iter(raw.items()), (None, None))
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
