"""What the last run left in catalog.db, read once, read-only, as a crawl starts.

One read serves the whole crawl (``flickr_crawl.extensions.lastrun`` shares it between the
spider and the pipelines), before the run saves anything, so "known" means "known from earlier
runs":

- every photo with its ``lastupdate``, counts, and which parts were stored (comments, faves,
  the deep pass, a complete file): what an unchanged photo need not be asked for again; and
  whether it owes a getInfo an incremental run skipped (the next sweep asks it);
- the watermarks (``sync_state``);
- the albums and galleries with the ``date_update`` and counts Flickr gave last time (an album
  whose getList entry still matches keeps its stored membership, so it costs no
  photosets.getPhotos call), and each of the account's photos with the album folders it was
  filed under (to find photos whose folders changed without the photo itself changing:
  renamed, deleted or re-arranged albums);
- where each complete file and each video's still are on disk (the media pipeline moves them
  when their folders change, and keeps them while they are the same bytes on Flickr), and what
  the file's record says (its source's key, camera, the digest of the fields embedded into
  it): enough to keep it without reading its JSON sidecar;
- while the files were brought to an older ``EMBED_FORMAT`` than this version writes, the
  photos whose file may hold less than it embeds (once rebuilt from catalog.db, they go through
  the media step, which embeds again from the bytes on disk); the faves of other people's
  photos apart, as the favorites run brings them there.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from flickr_crawl.archive.refile import Filed
from flickr_crawl.catalog.db import column_names, read_catalog, table_names
from flickr_crawl.catalog.runs import (
    ACTIVITY_LAST_CALL,
    ACTIVITY_WATERMARK,
    EMBED_FORMAT_STATE,
    FAVORITES_EMBED_FORMAT_STATE,
    FAVORITES_WATERMARK,
    RUNS_SINCE_SWEEP,
    WATERMARK,
)
from flickr_crawl.flickr.api import GALLERIES_GET_LIST
from flickr_crawl.metadata.exif import EMBED_FORMAT

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

COMPLETE = ("downloaded", "uptodate")  # file statuses of media that is in the archive


class Known(NamedTuple):
    """A photo as catalog.db had it: its lastupdate, counts, and which parts were stored."""

    last_update: int
    comments: int
    faves: int
    has_comments: bool
    has_faves: bool
    has_info: bool
    has_file: bool
    owner: str = ""
    listed: bool = False  # a list call described it (not a stub), and it is still on Flickr
    # the lastupdate an incremental run skipped its getInfo at (0: none owed): the next sweep
    # asks it again
    info_owed: int = 0


class Recorded(NamedTuple):
    """A complete file as catalog.db recorded it (schema version 5 on), with what a re-run
    needs to keep it without reading the photo's JSON sidecar."""

    status: str
    path: str
    size: int | None
    sha256: str | None
    original_sha256: str | None
    original_size: int | None
    content_type: str | None
    label: str | None
    is_original: bool
    reason: str | None
    metadata: str | None
    source_key: str  # what names the bytes on Flickr (``flickr_crawl.flickr.identity``)
    camera: str | None  # the camera's EXIF as JSON: decoded only for the photo that needs it
    exif_fields_sha256: str | None  # ``flickr_crawl.metadata.exif.exif_fields_sha256``

    def as_record(self) -> dict[str, Any]:
        """The parts of a sidecar record this row stands for (``file``, ``source.key``,
        ``camera``), in the sidecar's shape."""
        file = {name: getattr(self, name) for name in _FILE_FIELDS}
        camera = json.loads(self.camera) if self.camera is not None else None
        return {"file": file, "source": {"key": self.source_key}, "camera": camera}


_FILE_FIELDS = ("status", "path", "size", "sha256", "original_sha256", "original_size",
                "content_type", "label", "is_original", "reason", "metadata")  # fmt: skip


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
    """What an incremental photostream run needs before it asks Flickr anything."""

    watermark: int = 0
    runs_since_sweep: int = 0
    # new comments and faves are all in up to here (0: never known; the watermark stands in)
    activity_watermark: int = 0
    activity_last_call: int = 0  # when flickr.activity.userPhotos was last called
    albums: dict[str, Listed] = field(default_factory=dict)
    galleries: dict[str, Listed] = field(default_factory=dict)
    # photo id -> {(album id, folder)} for the account's own photos still on Flickr
    filed: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # those of them without a complete file (failed, missing video): tried again every run
    incomplete: set[str] = field(default_factory=set)
    # those whose file an older version embedded less into (``LastRun.embeddable``), until a
    # clean run brought them to this version's EMBED_FORMAT
    upgrade: set[str] = field(default_factory=set)


@dataclass
class LastRun:
    """The catalog as this crawl found it; empty when there is none (or it is unusable)."""

    found: bool = False  # there was a catalog, and it could be read
    state: dict[str, str] = field(default_factory=dict)
    known: dict[str, Known] = field(default_factory=dict)
    albums: dict[str, Listed] = field(default_factory=dict)
    galleries: dict[str, Listed] = field(default_factory=dict)
    files: dict[str, Filed] = field(default_factory=dict)  # complete files: where, what size
    posters: dict[str, dict[str, Any]] = field(default_factory=dict)  # video stills, as files
    # complete files whose row records their source's key (saved by a version-5 catalog)
    recorded: dict[str, Recorded] = field(default_factory=dict)
    # complete files this version embeds into: embedded ones, and PNGs and GIFs that versions
    # before their XMP stored as served (no ``metadata`` recorded)
    embeddable: set[str] = field(default_factory=set)
    # the same among the faves of other people's photos (stored under Favorites/), until a
    # clean favorites run brought them to this version's EMBED_FORMAT
    favorites_upgrade: set[str] = field(default_factory=set)

    def state_int(self, key: str) -> int:
        try:
            return int(self.state.get(key) or 0)
        except ValueError:
            return 0

    @property
    def favorites_watermark(self) -> int:
        return self.state_int(FAVORITES_WATERMARK)

    def view_for(self, owner: str) -> CatalogView:
        """The photostream's view of ``owner``'s account (computed, nothing is read)."""
        view = CatalogView(
            watermark=self.state_int(WATERMARK),
            runs_since_sweep=self.state_int(RUNS_SINCE_SWEEP),
            activity_watermark=self.state_int(ACTIVITY_WATERMARK),
            activity_last_call=self.state_int(ACTIVITY_LAST_CALL),
            albums=self.albums,
            galleries=self.galleries,
        )
        for photo_id, known in self.known.items():
            if owner and known.owner == owner and known.listed:
                view.filed[photo_id] = set()
                if not known.has_file:
                    view.incomplete.add(photo_id)
        view.upgrade = self.embeddable & view.filed.keys()  # (empty once the format is reached)
        for album_id, album in self.albums.items():
            for photo_id in album.photo_ids:
                if photo_id in view.filed:
                    view.filed[photo_id].add((album_id, album.folder))
        return view


def read_last_run(path: Path) -> LastRun:
    """The catalog at ``path`` as this run starts, in one read-only connection."""
    return read_catalog(
        path, _read, LastRun(), otherwise="every photo counts as new; no file is moved this run"
    )


def _read(db: sqlite3.Connection) -> LastRun:
    last = LastRun(found=True)
    if "sync_state" in table_names(db):  # a version 1 catalog has none (this run migrates it)
        last.state = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM sync_state")}
    # A catalog from before getInfo could be owed (version 7) has no info_owed: none is.
    owed = "COALESCE(info_owed, 0)" if "info_owed" in column_names(db, "photos") else "0"
    for row in db.execute(
        "SELECT id, COALESCE(last_update_unix, 0), COALESCE(count_comments, 0),"
        " COALESCE(count_faves, 0), comments_raw IS NOT NULL, faves_raw IS NOT NULL,"
        " info_raw IS NOT NULL, EXISTS (SELECT 1 FROM files f WHERE f.photo_id = photos.id"
        " AND f.status IN ('downloaded', 'uptodate')), COALESCE(owner, ''),"
        f" deleted_on_flickr = 0 AND last_update_unix IS NOT NULL, {owed} FROM photos"
    ):
        last.known[row[0]] = Known(
            last_update=row[1], comments=row[2], faves=row[3],
            has_comments=bool(row[4]), has_faves=bool(row[5]), has_info=bool(row[6]),
            has_file=bool(row[7]), owner=row[8], listed=bool(row[9]), info_owed=row[10],
        )  # fmt: skip
    members = _members(db, "album_photos", "album_id")
    for row in db.execute(
        "SELECT id, title, date_update, count_photos, count_videos, folder FROM albums"
        " WHERE deleted_on_flickr = 0"
    ):
        last.albums[row["id"]] = Listed(
            row["title"] or "", row["date_update"],
            (row["count_photos"] or 0, row["count_videos"] or 0), row["folder"] or "",
            members.get(row["id"], []),
        )  # fmt: skip
    gallery_members = _members(db, "gallery_photos", "gallery_id")
    for row in db.execute(
        "SELECT id, title, date_update, raw FROM galleries WHERE deleted_on_flickr = 0"
    ):
        listed = json.loads(row["raw"] or "{}").get(GALLERIES_GET_LIST, {})
        last.galleries[row["id"]] = Listed(
            row["title"] or "", row["date_update"], gallery_counts(listed), "",
            gallery_members.get(row["id"], []),
        )  # fmt: skip
    for row in db.execute(
        "SELECT photo_id, path, links, size FROM files"
        " WHERE status IN ('downloaded', 'uptodate') AND path IS NOT NULL"
    ):
        paths = [row["path"], *json.loads(row["links"] or "[]")]
        last.files[row["photo_id"]] = Filed(paths, row["size"])
    if (last.state_int(EMBED_FORMAT_STATE) or 1) < EMBED_FORMAT:
        last.embeddable = {row[0] for row in db.execute(
            f"SELECT photo_id FROM files f WHERE {_EMBEDDABLE}")}  # fmt: skip
    if (last.state_int(FAVORITES_EMBED_FORMAT_STATE) or 1) < EMBED_FORMAT and (
        "favorites" in table_names(db)
    ):
        last.favorites_upgrade = {row[0] for row in db.execute(
            "SELECT f.photo_id FROM files f JOIN favorites fv ON fv.photo_id = f.photo_id"
            f" WHERE fv.stored_as = 'favorite' AND {_EMBEDDABLE}")}  # fmt: skip
    columns = column_names(db, "files")
    # A catalog from before videos had stills has no poster columns: this run migrates it.
    if "poster_key" in columns:
        for row in db.execute(
            "SELECT photo_id, poster_path AS path, poster_size AS size, poster_sha256 AS sha256,"
            " poster_key AS key FROM files WHERE poster_path IS NOT NULL"
        ):
            last.posters[row["photo_id"]] = dict(row)
    if "source_key" in columns:  # version 5 on (this run migrates an older one)
        last.recorded = _recorded(db)
    return last


# A complete file this version embeds into (of ``files f``): an embedded one, or a PNG or GIF
# that versions before their XMP stored as served (no ``metadata`` recorded).
_EMBEDDABLE = (
    "f.status IN ('downloaded', 'uptodate') AND f.path IS NOT NULL"
    " AND (f.metadata = 'embedded' OR (f.metadata IS NULL AND"
    " (f.content_type IN ('image/png', 'image/gif') OR lower(f.path) LIKE '%.png'"
    " OR lower(f.path) LIKE '%.gif')))"
)


def _recorded(db: sqlite3.Connection) -> dict[str, Recorded]:
    """Complete files with their source's key; rows saved before there was one (NULL) are left
    to the sidecar. Repeated short strings are shared: one copy per account, not per photo."""
    recorded = {}
    for row in db.execute(
        "SELECT photo_id, status, path, size, sha256, original_sha256, original_size,"
        " content_type, label, is_original, reason, metadata, source_key, camera,"
        " exif_fields_sha256 FROM files WHERE status IN ('downloaded', 'uptodate')"
        " AND path IS NOT NULL AND source_key IS NOT NULL"
    ):
        recorded[row["photo_id"]] = Recorded(
            sys.intern(row["status"]), row["path"], row["size"], row["sha256"],
            row["original_sha256"], row["original_size"], _shared(row["content_type"]),
            _shared(row["label"]), bool(row["is_original"]), row["reason"],
            _shared(row["metadata"]), row["source_key"], row["camera"],
            row["exif_fields_sha256"],
        )  # fmt: skip
    return recorded


def _shared(value: str | None) -> str | None:
    return sys.intern(value) if value is not None else None


def _members(db: sqlite3.Connection, table: str, key: str) -> dict[str, list[str]]:
    """Container id -> its photo ids in order, from album_photos or gallery_photos."""
    members: dict[str, list[str]] = defaultdict(list)
    for row in db.execute(f"SELECT {key}, photo_id FROM {table} ORDER BY {key}, position"):
        members[row[0]].append(row[1])
    return members


def gallery_counts(raw: dict[str, Any]) -> tuple[int, int]:
    """A galleries.getList entry's photo and video counts."""

    def number(key: str) -> int:
        try:
            return int(raw.get(key) or 0)
        except (TypeError, ValueError):
            return 0

    return number("count_photos"), number("count_videos")
