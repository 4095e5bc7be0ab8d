"""The rows the offline site shows, read from catalog.db (``flickr_crawl.site.model`` turns
them into its own objects). Only named columns are read, so columns the crawl adds later do not
disturb the site; a catalog no crawl has migrated since a table or column was added reads as
if that table were empty. Each function is one query, rows as ``sqlite3.Row``, in stored order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flickr_crawl.catalog.db import column_names, open_snapshot, table_names

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator
    from pathlib import Path

SITE_TABLES = {"photos", "files", "albums", "album_photos", "comments"}


def open_site_catalog(archive: Path) -> sqlite3.Connection:
    """The archive's catalog, read-only (a crawl may be writing it meanwhile); NoCatalog."""
    return open_snapshot(archive, SITE_TABLES)


def users(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    yield from db.execute("SELECT nsid, username, realname, profile_url, deleted FROM users")


# Whether Flickr shows the photo's location to everyone: the geo extra's ``geo_is_public`` in the
# list payload the catalog kept (``photos.raw``: {method: entry}); NULL where none says.
GEO_IS_PUBLIC = """(SELECT max(CAST(json_extract(m.value, '$.geo_is_public') AS INTEGER))
    FROM json_each(CASE WHEN json_valid(p.raw) THEN p.raw ELSE '{}' END) m
    WHERE m.type = 'object')"""


def photos(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """Every photo with its data (not a stub) and its file's record, its video's still, and
    whether its location is public (``geo_is_public``)."""
    columns = column_names(db, "files")
    posters = ("f.poster_path, f.poster_sha256" if "poster_path" in columns
               else "NULL AS poster_path, NULL AS poster_sha256")  # fmt: skip
    yield from db.execute(
        f"""
        SELECT p.id, p.owner, p.media, p.title, p.description, p.date_posted, p.date_taken,
               p.date_taken_granularity, p.date_taken_unknown, p.views, p.license_name,
               p.license_url, p.is_public, p.is_friend, p.is_family, p.latitude, p.longitude,
               p.accuracy, p.neighbourhood, p.locality, p.county, p.region, p.country,
               p.page_url, p.deleted_on_flickr, {GEO_IS_PUBLIC} AS geo_is_public,
               f.status, f.path, f.sha256, f.size, f.width, f.height, {posters}
        FROM photos p LEFT JOIN files f ON f.photo_id = p.id
        WHERE p.media IS NOT NULL
        """
    )


def tags(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    yield from db.execute(
        "SELECT photo_id, tag, raw, machine FROM tags ORDER BY photo_id, position"
    )


def notes(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    yield from db.execute(
        "SELECT id, photo_id, author, author_name, x, y, w, h, html FROM notes"
        " ORDER BY photo_id, rowid"
    )


def people(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    yield from db.execute("SELECT photo_id, nsid, added_by FROM people ORDER BY photo_id, rowid")


def comments(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    yield from db.execute(
        "SELECT id, photo_id, author, author_name, realname, date, permalink, html,"
        " author_is_deleted, deleted_on_flickr FROM comments ORDER BY photo_id, date, id"
    )


def faves(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    yield from db.execute(
        "SELECT photo_id, nsid, date_faved, deleted_on_flickr FROM faves"
        " ORDER BY photo_id, date_faved DESC, nsid"
    )


def album_photos(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """(album_id, photo_id) in each album's order."""
    yield from db.execute("SELECT album_id, photo_id FROM album_photos ORDER BY album_id, position")


def gallery_photos(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """(gallery_id, photo_id), grouped by gallery."""
    yield from db.execute("SELECT gallery_id, photo_id FROM gallery_photos ORDER BY gallery_id")


def favorites(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """The account's faves, newest first (none in a catalog from before favourites)."""
    if "favorites" not in table_names(db):
        return
    yield from db.execute(
        "SELECT photo_id, owner, date_faved, gone_from_flickr FROM favorites"
        " ORDER BY date_faved_unix DESC, photo_id DESC"
    )


def albums(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """Newest first: Flickr's own order of the album list is not in the catalog."""
    yield from db.execute(
        "SELECT id, title, description, primary_photo_id, date_create, deleted_on_flickr"
        " FROM albums ORDER BY date_create DESC, id DESC"
    )


def galleries(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    yield from db.execute(
        "SELECT id, title, description, url, date_create, deleted_on_flickr, raw"
        " FROM galleries ORDER BY date_create DESC, id DESC"
    )


def gallery_members(db: sqlite3.Connection, gallery_id: str) -> list[str]:
    """The gallery's photo ids in its order."""
    return [r[0] for r in db.execute(
        "SELECT photo_id FROM gallery_photos WHERE gallery_id = ? ORDER BY position, rowid",
        (gallery_id,))]  # fmt: skip


def collections(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    yield from db.execute(
        "SELECT id, title, description, parent_id, position FROM collections ORDER BY position, id"
    )


def collection_albums(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    yield from db.execute(
        "SELECT collection_id, album_id FROM collection_albums"
        " ORDER BY collection_id, position, rowid"
    )
