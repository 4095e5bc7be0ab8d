"""catalog.db: exact rows, hostile item order, idempotence, flags, FTS, migrations, crashes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from flickr_crawl.catalog.db import close_catalog, open_catalog
from flickr_crawl.catalog.lastrun import read_last_run
from flickr_crawl.catalog.runs import finish_run, info_owed_count, set_state, start_run
from flickr_crawl.catalog.saves import (
    save_album,
    save_collection,
    save_comments,
    save_faves,
    save_favorite,
    save_gallery,
    save_info_owed,
    save_photo,
    save_photo_info,
)
from flickr_crawl.catalog.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    CatalogVersionError,
    iter_tables,
    migrate,
    rebuild_fts,
    schema_version,
)
from flickr_crawl.items import (
    AlbumItem,
    AlbumRef,
    CollectionItem,
    Comment,
    CommentsItem,
    Fave,
    FavesItem,
    FavoriteItem,
    GalleryItem,
    InfoOwedItem,
    MediaFile,
    Note,
    Person,
    PhotoInfoItem,
    PhotoItem,
    Source,
    Tag,
    User,
)
from flickr_crawl.metadata.exif import exif_fields_sha256, photo_fields
from pipelines.catalog import CatalogPipeline
from tests.helpers import as_old_catalog

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
NOW = "2024-05-01T10:00:00Z"
LATER = "2024-06-01T10:00:00Z"
OWNER = "111@N01"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_catalog(tmp_path / "catalog.db")
    yield conn
    conn.close()


def photo(photo_id: str = "5001", **kw: Any) -> PhotoItem:
    fields: dict[str, Any] = {
        "id": photo_id,
        "owner": OWNER,
        "owner_name": "ada",
        "title": "Harbour at dawn",
        "description": 'Fog over the <a href="https://example.org">pier</a>',
        "tags": ["harbour", "fog", "geo:lat=51.5"],
        "machine_tags": ["geo:lat=51.5"],
        "date_posted": "2020-01-02T03:04:05Z",
        "date_taken": "2020-01-01T07:00:00",
        "last_update": "2021-01-01T00:00:00Z",
        "last_update_unix": 1609459200,
        "license": 4,
        "license_name": "CC BY 2.0",
        "license_url": "https://creativecommons.org/licenses/by/2.0/",
        "is_public": True,
        "views": 42,
        "count_comments": 2,
        "count_faves": 1,
        "geo": {
            "latitude": 51.5,
            "longitude": -0.1,
            "accuracy": 16,
            "context": 0,
            "place_id": "abc",
            "woeid": "44418",
        },
        "original_format": "jpg",
        "original_secret": "s3cr3t",
        "path_alias": "ada",
        "page_url": f"https://www.flickr.com/photos/ada/{photo_id}/",
        "albums": [AlbumRef(id="72001", title="Sea", position=1, folder="Sea")],
        "galleries": ["g-1"],
        "source": Source(
            url="https://live.example/o.jpg",
            label="Original",
            is_original=True,
            width=4000,
            height=3000,
            extension="jpg",
        ),
        "file": MediaFile(
            status="downloaded",
            path=f"Sea/{photo_id}.jpg",
            size=1234,
            sha256="ab" * 32,
            original_sha256="cd" * 32,
            original_size=1200,
            content_type="image/jpeg",
            label="Original",
            is_original=True,
            metadata="embedded",
            links=["Other/x.jpg"],
        ),
        "camera": {"Model": "X-T4", "Make": "FUJIFILM"},
        "raw": {"flickr.people.getPhotos": {"id": photo_id, "title": "Harbour at dawn"}},
    }
    fields.update(kw)
    return PhotoItem(**fields)


def comments(photo_id: str = "5001", ids: tuple[str, ...] = ("c1", "c2")) -> CommentsItem:
    texts = {"c1": "What a <b>lovely</b> zeppelin &amp; sky", "c2": "Nice, ada!"}
    return CommentsItem(
        photo_id=photo_id,
        comments=[
            Comment(
                id=cid,
                author="222@N02",
                author_name="bob",
                date=f"2020-02-0{n}T00:00:00Z",
                permalink=f"https://flickr.com/c/{cid}",
                html=texts.get(cid, cid),
            )
            for n, cid in enumerate(ids, start=1)
        ],
        users=[User(nsid="222@N02", username="bob", realname="Bob Jones")],
        raw={"flickr.photos.comments.getList": {"comments": {"photo_id": photo_id}}},
    )


def faves(photo_id: str = "5001", nsids: tuple[str, ...] = ("333@N03",)) -> FavesItem:
    return FavesItem(
        photo_id=photo_id,
        total=len(nsids),
        faves=[
            Fave(nsid=n, username=f"u{n[:3]}", date_faved="2020-03-01T00:00:00Z") for n in nsids
        ],
        raw={"flickr.photos.getFavorites": {"photo": {"total": len(nsids)}}},
    )


def info(photo_id: str = "5001") -> PhotoInfoItem:
    return PhotoInfoItem(
        photo_id=photo_id,
        tags=[
            Tag(id="1-5001-1", content="harbour", raw="Harbour", author=OWNER, author_name="ada"),
            Tag(id="1-5001-2", content="fog", raw="fog", author=OWNER, author_name="ada"),
            Tag(
                id="1-5001-3",
                content="saopaulo",
                raw="São Paulo",
                author="444@N04",
                author_name="cy",
            ),
        ],
        notes=[
            Note(
                id="n1",
                author="222@N02",
                author_name="bob",
                x=1,
                y=2,
                w=3,
                h=4,
                html="a <i>gull</i>",
            )
        ],
        people=[
            Person(
                nsid="555@N05",
                username="dee",
                realname="Dee",
                added_by=OWNER,
                x=10,
                y=20,
                w=30,
                h=40,
            )
        ],
        location={
            "latitude": "51.5",
            "longitude": "-0.1",
            "accuracy": "16",
            "context": "0",
            "locality": {"_content": "London", "place_id": "p1", "woeid": "44418"},
            "county": {"_content": "Greater London"},
            "region": "England",
            "country": {"_content": "United Kingdom"},
            "place_id": "p1",
            "woeid": "44418",
        },
        users=[User(nsid="444@N04", username="cy", realname="Cy", path_alias="cyc")],
        raw={"flickr.photos.getInfo": {"photo": {"id": photo_id}}},
    )


def album(photo_ids: tuple[str, ...] = ("5001", "5002")) -> AlbumItem:
    return AlbumItem(
        id="72001",
        title="Sea",
        description="By the sea",
        primary=photo_ids[0],
        count_photos=len(photo_ids),
        collection_ids=["col-child"],
        date_create="2019-01-01T00:00:00Z",
        photo_ids=list(photo_ids),
        folder="Sea",
        raw={"flickr.photosets.getList": {"id": "72001"}},
    )


def gallery() -> GalleryItem:
    return GalleryItem(
        id="g-1",
        title="Best",
        url="https://flickr.com/g/1",
        photo_ids=["5001", "999-someone-else"],
        raw={"g": 1},
    )


def collections() -> list[CollectionItem]:
    return [
        CollectionItem(
            id="col-child",
            title="Trips",
            parent_id="col-root",
            position=1,
            album_ids=["72001", "72002"],
        ),
        CollectionItem(id="col-root", title="All", position=0),
    ]


def save_everything(db: sqlite3.Connection, now: str = NOW) -> None:
    """Every item type, in a hostile order: children before what they point at."""
    save_comments(db, comments(), now=now)
    save_faves(db, faves(), now=now)
    save_photo_info(db, info(), now=now)
    save_album(db, album(), now=now)
    for item in collections():
        save_collection(db, item, now=now)
    save_gallery(db, gallery(), now=now)
    save_photo(db, photo("5001"), now=now)
    save_photo(
        db,
        photo(
            "5002",
            title="Second",
            description="",
            tags=[],
            machine_tags=[],
            albums=[AlbumRef(id="72001", title="Sea", position=2, folder="Sea")],
            galleries=[],
            file=MediaFile(status="failed", reason="HTTP 500"),
        ),
        now=now,
    )


def rows(db: sqlite3.Connection, sql: str, *params: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in db.execute(sql, params)]


def dump(db: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, in a stable order (rowids may change when a list is rewritten)."""
    return {
        table: sorted(rows(db, f"SELECT * FROM [{table}]"), key=lambda r: json.dumps(r))
        for table in iter_tables(db)
    }


def saved_as_version(path: Path, version: int) -> dict[str, list[dict[str, Any]]]:
    """Save everything into a new catalog at ``path``, then take it back to what version
    ``version`` of the schema left (``as_old_catalog``); the new catalog's ``dump``."""
    db = open_catalog(path)
    save_everything(db)
    fresh = dump(db)
    close_catalog(db)
    as_old_catalog(path, version)
    return fresh


def search(db: sqlite3.Connection, query: str) -> list[str]:
    """What Datasette's ?_search= runs: photos whose rowid matches in photos_fts."""
    return [
        row["id"]
        for row in db.execute(
            "SELECT id FROM photos WHERE rowid IN "
            "(SELECT rowid FROM photos_fts WHERE photos_fts MATCH ?) ORDER BY id",
            (query,),
        )
    ]


def assert_consistent(db: sqlite3.Connection) -> None:
    assert [tuple(row) for row in db.execute("PRAGMA integrity_check")] == [("ok",)]
    assert [tuple(row) for row in db.execute("PRAGMA foreign_key_check")] == []
    db.execute("INSERT INTO photos_fts(photos_fts) VALUES ('integrity-check')")


# --- schema and opening -------------------------------------------------------------------------
def test_new_catalog_is_wal_with_foreign_keys(db: sqlite3.Connection) -> None:
    assert schema_version(db) == SCHEMA_VERSION == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert list(iter_tables(db)) == [
        "album_photos",
        "albums",
        "collection_albums",
        "collections",
        "comments",
        "faves",
        "favorites",
        "files",
        "galleries",
        "gallery_photos",
        "notes",
        "people",
        "photos",
        "runs",
        "sync_state",
        "tags",
        "users",
    ]


def test_fts_table_is_what_datasette_detects(db: sqlite3.Connection) -> None:
    # datasette.utils.detect_fts_sql("photos"), verbatim apart from the table name.
    found = db.execute(
        """
        select name from sqlite_master where rootpage = 0 and (
            sql like '%VIRTUAL TABLE%USING FTS%content="photos"%'
            or sql like '%VIRTUAL TABLE%USING FTS%content=[photos]%'
            or (tbl_name = "photos" and sql like '%VIRTUAL TABLE%USING FTS%'))
        """
    ).fetchall()
    assert [row[0] for row in found] == ["photos_fts"]
    triggers = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert triggers == {"photos_ai", "photos_ad", "photos_au"}


# --- exact rows ----------------------------------------------------------------------------------
def test_every_table_gets_exact_rows(db: sqlite3.Connection) -> None:
    save_everything(db)
    save_favorite(db, FavoriteItem(photo_id="5002", owner="555@N05", date_faved_unix=1))
    set_state(db, "favorites.min_fave_date", "1")
    assert_consistent(db)
    tables = dump(db)
    assert all(tables[name] for name in tables if name != "runs"), tables

    p = rows(db, "SELECT * FROM photos WHERE id = '5001'")[0]
    assert p == {
        "id": "5001",
        "owner": OWNER,
        "media": "photo",
        "title": "Harbour at dawn",
        "description": 'Fog over the <a href="https://example.org">pier</a>',
        "description_text": "Fog over the pier (https://example.org)",
        "tags": "harbour Harbour fog geo:lat=51.5",
        "comments": "What a lovely zeppelin & sky\nNice, ada!",
        "date_posted": "2020-01-02T03:04:05Z",
        "date_taken": "2020-01-01T07:00:00",
        "date_taken_granularity": 0,
        "date_taken_unknown": 0,
        "last_update": "2021-01-01T00:00:00Z",
        "last_update_unix": 1609459200,
        "license": 4,
        "license_name": "CC BY 2.0",
        "license_url": "https://creativecommons.org/licenses/by/2.0/",
        "is_public": 1,
        "is_friend": 0,
        "is_family": 0,
        "safety_level": 0,
        "views": 42,
        "count_comments": 2,
        "count_faves": 1,
        "latitude": 51.5,
        "longitude": -0.1,
        "accuracy": 16,
        "geo_context": 0,
        "place_id": "abc",
        "woeid": "44418",
        "neighbourhood": None,
        "locality": "London",
        "county": "Greater London",
        "region": "England",
        "country": "United Kingdom",
        "original_format": "jpg",
        "original_secret": "s3cr3t",
        "rotation": 0,
        "path_alias": "ada",
        "page_url": "https://www.flickr.com/photos/ada/5001/",
        "raw": '{"flickr.people.getPhotos": {"id": "5001", "title": "Harbour at dawn"}}',
        "info_raw": '{"flickr.photos.getInfo": {"photo": {"id": "5001"}}}',
        "comments_raw": '{"flickr.photos.comments.getList": {"comments": {"photo_id": "5001"}}}',
        "faves_raw": '{"flickr.photos.getFavorites": {"photo": {"total": 1}}}',
        "faves_total": 1,
        "first_seen": NOW,
        "last_seen": NOW,
        "deleted_on_flickr": 0,
        "info_owed": None,  # its getInfo is stored: nothing owed
    }
    # The photo saved after its getInfo keeps the place names and the tags' authors; the list
    # call's tags decide which tags exist (geo:lat=51.5 is new, saopaulo was dropped...
    assert rows(
        db,
        "SELECT tag, raw, tag_id, author, machine, position FROM tags"
        " WHERE photo_id = '5001' ORDER BY position",
    ) == [
        {
            "tag": "harbour",
            "raw": "Harbour",
            "tag_id": "1-5001-1",
            "author": OWNER,
            "machine": 0,
            "position": 1,
        },
        {
            "tag": "fog",
            "raw": "fog",
            "tag_id": "1-5001-2",
            "author": OWNER,
            "machine": 0,
            "position": 2,
        },
        {
            "tag": "geo:lat=51.5",
            "raw": "",
            "tag_id": "",
            "author": None,
            "machine": 1,
            "position": 3,
        },
    ]
    # ...and photos.tags follows.
    assert rows(db, "SELECT tags FROM photos WHERE id = '5001'") == [
        {"tags": "harbour Harbour fog geo:lat=51.5"}
    ]
    assert rows(db, "SELECT * FROM files ORDER BY photo_id") == [
        {
            "photo_id": "5001",
            "status": "downloaded",
            "path": "Sea/5001.jpg",
            "links": '["Other/x.jpg"]',
            "size": 1234,
            "sha256": "ab" * 32,
            "original_sha256": "cd" * 32,
            "original_size": 1200,
            "content_type": "image/jpeg",
            "label": "Original",
            "is_original": 1,
            "width": 4000,
            "height": 3000,
            "reason": None,
            "metadata": "embedded",
            "updated_at": NOW,
            "poster_path": None,
            "poster_size": None,
            "poster_sha256": None,
            "poster_key": None,
            "source_key": "/o.jpg",  # what names the bytes (no Flickr URL here: its path)
            "camera": '{"Model": "X-T4", "Make": "FUJIFILM"}',  # in the camera's order
            "exif_fields_sha256": exif_fields_sha256(photo_fields(photo("5001"))),
        },
        {
            "photo_id": "5002",
            "status": "failed",
            "path": None,
            "links": "[]",
            "size": None,
            "sha256": None,
            "original_sha256": None,
            "original_size": None,
            "content_type": None,
            "label": "Original",
            "is_original": 0,
            "width": 4000,
            "height": 3000,
            "reason": "HTTP 500",
            "metadata": None,
            "updated_at": NOW,
            "poster_path": None,
            "poster_size": None,
            "poster_sha256": None,
            "poster_key": None,
            "source_key": "/o.jpg",
            "camera": '{"Model": "X-T4", "Make": "FUJIFILM"}',
            "exif_fields_sha256": exif_fields_sha256(
                photo_fields(photo("5002", title="Second", description="", tags=[]))
            ),
        },
    ]
    assert rows(db, "SELECT * FROM albums") == [
        {
            "id": "72001",
            "title": "Sea",
            "description": "By the sea",
            "primary_photo_id": "5001",
            "count_photos": 2,
            "count_videos": 0,
            "date_create": "2019-01-01T00:00:00Z",
            "date_update": None,
            "folder": "Sea",
            "raw": '{"flickr.photosets.getList": {"id": "72001"}}',
            "first_seen": NOW,
            "last_seen": NOW,
            "deleted_on_flickr": 0,
        },
        {
            "id": "72002",
            "title": "",
            "description": "",
            "primary_photo_id": None,
            "count_photos": None,
            "count_videos": None,
            "date_create": None,
            "date_update": None,
            "folder": None,
            "raw": None,
            "first_seen": None,
            "last_seen": None,
            "deleted_on_flickr": 0,
        },
    ]
    assert rows(db, "SELECT * FROM album_photos ORDER BY position") == [
        {"album_id": "72001", "photo_id": "5001", "position": 1},
        {"album_id": "72001", "photo_id": "5002", "position": 2},
    ]
    assert rows(db, "SELECT * FROM gallery_photos ORDER BY position") == [
        {"gallery_id": "g-1", "photo_id": "5001", "position": 1},
        {"gallery_id": "g-1", "photo_id": "999-someone-else", "position": 2},
    ]
    assert rows(db, "SELECT id, title, url, raw FROM galleries") == [
        {"id": "g-1", "title": "Best", "url": "https://flickr.com/g/1", "raw": '{"g": 1}'}
    ]
    assert rows(db, "SELECT id, title, parent_id, position FROM collections ORDER BY id") == [
        {"id": "col-child", "title": "Trips", "parent_id": "col-root", "position": 1},
        {"id": "col-root", "title": "All", "parent_id": None, "position": 0},
    ]
    assert rows(db, "SELECT * FROM collection_albums ORDER BY position") == [
        {"collection_id": "col-child", "album_id": "72001", "position": 1},
        {"collection_id": "col-child", "album_id": "72002", "position": 2},
    ]
    assert rows(db, "SELECT * FROM comments ORDER BY id") == [
        {
            "id": "c1",
            "photo_id": "5001",
            "author": "222@N02",
            "author_name": "bob",
            "realname": "",
            "date": "2020-02-01T00:00:00Z",
            "permalink": "https://flickr.com/c/c1",
            "html": "What a <b>lovely</b> zeppelin &amp; sky",
            "author_is_deleted": 0,
            "first_seen": NOW,
            "last_seen": NOW,
            "deleted_on_flickr": 0,
        },
        {
            "id": "c2",
            "photo_id": "5001",
            "author": "222@N02",
            "author_name": "bob",
            "realname": "",
            "date": "2020-02-02T00:00:00Z",
            "permalink": "https://flickr.com/c/c2",
            "html": "Nice, ada!",
            "author_is_deleted": 0,
            "first_seen": NOW,
            "last_seen": NOW,
            "deleted_on_flickr": 0,
        },
    ]
    assert rows(db, "SELECT * FROM faves") == [
        {
            "photo_id": "5001",
            "nsid": "333@N03",
            "date_faved": "2020-03-01T00:00:00Z",
            "first_seen": NOW,
            "last_seen": NOW,
            "deleted_on_flickr": 0,
        }
    ]
    assert rows(db, "SELECT * FROM notes") == [
        {
            "id": "n1",
            "photo_id": "5001",
            "author": "222@N02",
            "author_name": "bob",
            "x": 1,
            "y": 2,
            "w": 3,
            "h": 4,
            "html": "a <i>gull</i>",
        }
    ]
    assert rows(db, "SELECT * FROM people") == [
        {
            "photo_id": "5001",
            "nsid": "555@N05",
            "added_by": OWNER,
            "x": 10,
            "y": 20,
            "w": 30,
            "h": 40,
        }
    ]
    assert rows(db, "SELECT nsid, username, realname, path_alias FROM users ORDER BY nsid") == [
        {"nsid": OWNER, "username": "ada", "realname": "", "path_alias": "ada"},
        {"nsid": "222@N02", "username": "bob", "realname": "Bob Jones", "path_alias": None},
        {"nsid": "333@N03", "username": "u333", "realname": "", "path_alias": None},
        {"nsid": "444@N04", "username": "cy", "realname": "Cy", "path_alias": "cyc"},
        {"nsid": "555@N05", "username": "dee", "realname": "Dee", "path_alias": None},
    ]


def test_hostile_order_keeps_foreign_keys_at_every_commit(db: sqlite3.Connection) -> None:
    save_comments(db, comments("7001"), now=NOW)
    assert_consistent(db)
    assert rows(db, "SELECT id, owner, title, first_seen FROM photos") == [
        {"id": "7001", "owner": None, "title": "", "first_seen": None}
    ]
    save_album(db, album(("7002", "7003")), now=NOW)
    save_collection(db, collections()[0], now=NOW)  # child before its parent
    save_photo_info(db, info("7004"), now=NOW)
    save_faves(db, faves("7005"), now=NOW)
    assert_consistent(db)
    assert [r["id"] for r in rows(db, "SELECT id FROM photos ORDER BY id")] == [
        "7001",
        "7002",
        "7003",
        "7004",
        "7005",
    ]
    # The full saves fill the stubs in place.
    for photo_id in ("7001", "7002", "7003", "7004", "7005"):
        save_photo(db, photo(photo_id, albums=[], galleries=[]), now=NOW)
    save_collection(db, collections()[1], now=NOW)
    assert_consistent(db)
    assert rows(
        db, "SELECT count(*) AS n FROM photos WHERE owner = ? AND first_seen = ?", OWNER, NOW
    ) == [{"n": 5}]
    assert search(db, "zeppelin") == ["7001"]  # comment text kept when the photo arrived


def test_the_file_row_tells_an_edit_of_what_is_embedded(db: sqlite3.Connection) -> None:
    """The digest of the embedded fields changes with a caption, tags or place; not with
    what no file holds (views, counts)."""
    save_photo(db, photo("5001"), now=NOW)
    digest = "SELECT exif_fields_sha256 FROM files WHERE photo_id = '5001'"
    first = db.execute(digest).fetchone()[0]
    save_photo(db, photo("5001", views=9000, count_faves=7), now=NOW)
    assert db.execute(digest).fetchone()[0] == first
    for edit in ({"title": "Harbour at dusk"}, {"tags": ["harbour"]}, {"geo": None},
                 {"description": "Fog"}, {"license": 7}):  # fmt: skip
        save_photo(db, photo("5001", **edit), now=NOW)
        assert db.execute(digest).fetchone()[0] != first, edit


def test_saving_again_changes_nothing(db: sqlite3.Connection) -> None:
    save_everything(db)
    before = dump(db)
    save_everything(db)
    assert dump(db) == before
    assert_consistent(db)


def test_saving_later_keeps_first_seen(db: sqlite3.Connection) -> None:
    save_everything(db)
    save_everything(db, now=LATER)
    assert rows(db, "SELECT first_seen, last_seen FROM photos WHERE id = '5001'") == [
        {"first_seen": NOW, "last_seen": LATER}
    ]
    assert rows(db, "SELECT DISTINCT first_seen, last_seen FROM comments") == [
        {"first_seen": NOW, "last_seen": LATER}
    ]


def test_comment_gone_from_flickr_is_kept_and_flagged(db: sqlite3.Connection) -> None:
    save_photo(db, photo(), now=NOW)
    save_comments(db, comments(ids=("c1", "c2")), now=NOW)
    save_comments(db, comments(ids=("c2", "c3")), now=LATER)
    assert rows(db, "SELECT id, last_seen, deleted_on_flickr FROM comments ORDER BY id") == [
        {"id": "c1", "last_seen": NOW, "deleted_on_flickr": 1},
        {"id": "c2", "last_seen": LATER, "deleted_on_flickr": 0},
        {"id": "c3", "last_seen": LATER, "deleted_on_flickr": 0},
    ]
    assert search(db, "zeppelin") == ["5001"]  # the archive still finds what it holds
    save_comments(db, comments(ids=("c1",)), now=LATER)  # back again (Flickr hiccup)
    assert rows(db, "SELECT id, deleted_on_flickr FROM comments ORDER BY id") == [
        {"id": "c1", "deleted_on_flickr": 0},
        {"id": "c2", "deleted_on_flickr": 1},
        {"id": "c3", "deleted_on_flickr": 1},
    ]
    assert_consistent(db)


def test_unfave_is_kept_and_flagged(db: sqlite3.Connection) -> None:
    save_faves(db, faves(nsids=("333@N03", "334@N03")), now=NOW)
    save_faves(db, faves(nsids=("334@N03",)), now=LATER)
    assert rows(db, "SELECT nsid, deleted_on_flickr FROM faves ORDER BY nsid") == [
        {"nsid": "333@N03", "deleted_on_flickr": 1},
        {"nsid": "334@N03", "deleted_on_flickr": 0},
    ]
    assert rows(db, "SELECT faves_total FROM photos") == [{"faves_total": 1}]


def test_users_keep_the_richest_values(db: sqlite3.Connection) -> None:
    save_comments(db, comments(), now=NOW)  # bob with his real name
    save_photo_info(
        db,
        PhotoInfoItem(
            photo_id="5001", users=[User(nsid="222@N02", username="", realname="", deleted=True)]
        ),
        now=LATER,
    )
    save_faves(db, FavesItem(photo_id="5001", faves=[Fave(nsid="222@N02", username="bobby")]))
    assert rows(
        db, "SELECT username, realname, deleted, first_seen FROM users WHERE nsid = '222@N02'"
    ) == [{"username": "bobby", "realname": "Bob Jones", "deleted": 1, "first_seen": NOW}]


# --- full-text search ----------------------------------------------------------------------------
def test_fts_finds_words_in_comments_tags_titles_only_where_they_are(
    db: sqlite3.Connection,
) -> None:
    save_everything(db)
    assert search(db, "zeppelin") == ["5001"]  # only in a comment (HTML stripped)
    assert search(db, "harbour") == ["5001"]  # a tag, and in the title
    assert search(db, "tags:fog") == ["5001"]  # only in a tag
    assert search(db, "second") == ["5002"]  # a title
    assert search(db, "pier") == ["5001"]  # the description
    assert search(db, "lovely") == ["5001"]  # inside <b> in the comment
    assert search(db, "comments:b") == []  # markup is not indexed
    assert search(db, "href") == []  # nor in the description, which stays HTML in its column
    assert search(db, "example") == ["5001"]  # but a link's target is text
    save_photo_info(db, info("5002"), now=NOW)
    assert search(db, "sao") == ["5002"]  # the author's spelling, diacritics folded
    assert search(db, "tags:fog") == ["5001", "5002"]


def test_fts_follows_changes(db: sqlite3.Connection) -> None:
    save_everything(db)
    save_photo(db, photo("5001", title="Quay", tags=["mist"], machine_tags=[]), now=LATER)
    assert search(db, "harbour") == []
    assert search(db, "quay") == ["5001"]
    assert search(db, "mist") == ["5001"]
    changed = comments(ids=("c2",))
    changed.comments[0].html = "now about a kite"
    save_comments(db, changed, now=LATER)
    assert search(db, "kite") == ["5001"]
    assert search(db, "zeppelin") == ["5001"]  # c1 gone on Flickr, kept here
    rebuild_fts(db)  # what a VACUUM would need: same answers after a full re-index
    assert search(db, "kite") == ["5001"]
    assert_consistent(db)


# --- migrations ----------------------------------------------------------------------------------
EXTRA = ("ALTER TABLE photos ADD COLUMN favourite_colour TEXT", "CREATE TABLE extra_state (k TEXT)")


def test_older_catalog_opens_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    old = open_catalog(path)
    save_everything(old)
    close_catalog(old)
    newer = open_catalog(path, migrations=[*MIGRATIONS, EXTRA])
    assert schema_version(newer) == SCHEMA_VERSION + 1
    assert rows(newer, "SELECT id, favourite_colour FROM photos ORDER BY id") == [
        {"id": "5001", "favourite_colour": None},
        {"id": "5002", "favourite_colour": None},
    ]
    assert search(newer, "zeppelin") == ["5001"]
    assert_consistent(newer)
    newer.close()


def test_a_version_1_catalog_gains_favorites_and_sync_state(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    saved_as_version(path, 1)
    db = open_catalog(path)
    assert schema_version(db) == SCHEMA_VERSION
    assert {"favorites", "sync_state"} <= set(iter_tables(db))
    assert {"poster_path", "poster_key"} <= {r[1] for r in db.execute("PRAGMA table_info(files)")}
    assert search(db, "zeppelin") == ["5001"]
    assert_consistent(db)
    db.close()


def test_a_version_2_catalog_is_searched_by_its_text_not_its_html(tmp_path: Path) -> None:
    """Catalogs made before version 3 indexed descriptions as HTML ("href" found every photo
    with a link); opening one re-indexes the text, keeping the HTML in its column."""
    path = tmp_path / "catalog.db"
    fresh = saved_as_version(path, 2)
    with sqlite3.connect(path) as old:  # the state a version-2 catalog is in
        assert old.execute("PRAGMA user_version").fetchone()[0] == 2
        hits = old.execute("SELECT rowid FROM photos_fts WHERE photos_fts MATCH 'href'")
        assert len(hits.fetchall()) == 1
    old.close()
    db = open_catalog(path)
    assert search(db, "href") == []
    assert search(db, "pier") == search(db, "example") == ["5001"]
    assert search(db, "zeppelin") == ["5001"]
    # Version 5's file columns are what a save of this flickr-crawl fills: NULL until then.
    for file in fresh["files"]:
        file.update(source_key=None, camera=None, exif_fields_sha256=None)
    assert dump(db) == fresh  # description HTML kept, text and comments as a new save makes them
    assert_consistent(db)
    db.close()


def test_a_skipped_getinfo_is_owed_until_its_answer_is_saved(tmp_path: Path) -> None:
    """An incremental run that skips a photo's getInfo (new comments alone changed it)
    records the debt; the next run reads it; saving getInfo's answer, even the same one as
    before, pays it. A photo whose getInfo was never stored owes nothing: its first run asks."""
    path = tmp_path / "catalog.db"
    db = open_catalog(path)
    save_everything(db)
    assert save_info_owed(db, InfoOwedItem(photo_id="5001", last_update=1714557600)) == {
        "info_owed": 1
    }
    assert save_info_owed(db, InfoOwedItem(photo_id="5002", last_update=1714557600)) == {
        "info_owed": 0
    }
    save_photo(db, photo("5001"), now=LATER)  # a later save of its list entry keeps the debt
    assert info_owed_count(db) == 1
    close_catalog(db)
    known = read_last_run(path).known
    assert (known["5001"].info_owed, known["5002"].info_owed) == (1714557600, 0)
    assert known["5001"].has_info
    db = open_catalog(path)
    save_photo_info(db, info(), now=LATER)
    assert info_owed_count(db) == 0
    assert rows(db, "SELECT info_owed FROM photos WHERE id = '5001'") == [{"info_owed": None}]
    close_catalog(db)
    assert read_last_run(path).known["5001"].info_owed == 0


def test_a_version_6_catalog_is_read_then_gains_info_owed(tmp_path: Path) -> None:
    """A run reads the last run's catalog before it migrates it: a version-6 catalog (no
    info_owed column) reads as owing nothing, and opening it adds the column, empty."""
    path = tmp_path / "catalog.db"
    fresh = saved_as_version(path, 6)
    last = read_last_run(path)
    assert last.found
    assert last.known["5001"].has_info
    assert {k.info_owed for k in last.known.values()} == {0}
    db = open_catalog(path)
    assert schema_version(db) == SCHEMA_VERSION == 7
    assert dump(db) == fresh
    assert info_owed_count(db) == 0
    db.close()


def test_blank_file_migrates_from_version_zero(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    sqlite3.connect(path).close()
    db = open_catalog(path)
    assert schema_version(db) == SCHEMA_VERSION
    db.close()


def test_newer_catalog_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    open_catalog(path, migrations=[*MIGRATIONS, EXTRA]).close()
    newer = f"version {SCHEMA_VERSION + 1} is newer than this flickr-crawl"
    with pytest.raises(CatalogVersionError, match=newer):
        open_catalog(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    db.close()


def test_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    open_catalog(path).close()
    broken = ("CREATE TABLE half_done (x)", "ALTER TABLE no_such_table ADD COLUMN y")
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        open_catalog(path, migrations=[*MIGRATIONS, broken])
    db = open_catalog(path)
    assert schema_version(db) == SCHEMA_VERSION
    assert "half_done" not in set(iter_tables(db))
    db.close()


def test_migrate_twice_is_a_no_op(db: sqlite3.Connection) -> None:
    assert migrate(db) == SCHEMA_VERSION
    assert migrate(db) == SCHEMA_VERSION


# --- crashes -------------------------------------------------------------------------------------
def test_failing_save_leaves_nothing_of_the_item(db: sqlite3.Connection) -> None:
    save_everything(db)
    before = dump(db)
    # Fails late: after the user, the photo row and its FTS entry, at the file row.
    bad = photo(
        "6001", owner="666@N06", title="Doomed", file=MediaFile(status="downloaded", size=2**70)
    )
    with pytest.raises(OverflowError):
        save_photo(db, bad, now=LATER)
    assert not db.in_transaction
    assert dump(db) == before
    assert search(db, "doomed") == []
    assert_consistent(db)


SAVE_LOOP = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from flickr_crawl.catalog.db import open_catalog
    from flickr_crawl.catalog.saves import save_comments, save_photo, save_album
    from tests.test_catalog import comments, photo, album
    db = open_catalog(Path(sys.argv[1]))
    n = 0
    while True:
        n += 1
        pid = str(100000 + n)
        save_comments(db, comments(pid))
        save_photo(db, photo(pid, albums=[], galleries=[]))
        if n % 10 == 0:
            save_album(db, album((pid, str(100000 + n + 1))))
        print(n, flush=True)
    """
)


def test_sigkill_mid_save_leaves_a_consistent_catalog(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    with subprocess.Popen(
        [sys.executable, "-c", SAVE_LOOP, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if int(line) >= 60:
                break
        proc.send_signal(signal.SIGKILL)
    db = open_catalog(path)
    assert_consistent(db)
    full = rows(db, "SELECT id FROM photos WHERE owner IS NOT NULL")
    assert len(full) >= 60
    # Every fully saved photo has everything its save wrote: nothing half-saved.
    assert (
        rows(
            db,
            "SELECT p.id FROM photos p LEFT JOIN files f ON f.photo_id = p.id"
            " WHERE p.owner IS NOT NULL AND (f.photo_id IS NULL"
            " OR p.tags != 'harbour fog geo:lat=51.5')",
        )
        == []
    )
    assert (
        rows(db, "SELECT photo_id, count(*) AS n FROM comments GROUP BY photo_id HAVING n != 2")
        == []
    )
    db.close()


# --- runs and the pipeline -----------------------------------------------------------------------
def test_runs_record_start_and_end(db: sqlite3.Connection) -> None:
    run = start_run(db, "photostream", now=NOW)
    counts = {"photos_listed": 3, "files_downloaded": 2, "failed": 1, "videos_missing": 0}
    finish_run(db, run, reason="finished", counts=counts, api_calls=7, now=LATER)
    assert rows(db, "SELECT * FROM runs") == [
        {
            "id": run,
            "spider": "photostream",
            "started": NOW,
            "finished": LATER,
            "reason": "finished",
            "photos_listed": 3,
            "files_downloaded": 2,
            "failed": 1,
            "videos_missing": 0,
            "api_calls": 7,
            "counts": json.dumps(counts, sort_keys=True),
        }
    ]


def test_pipeline_saves_items_and_the_run(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"FLICKR_ARCHIVE_DIR": str(tmp_path / "archive")})
    pipeline = CatalogPipeline.from_crawler(crawler)
    assert crawler.stats is not None
    stats = crawler.stats
    pipeline.open_spider()

    async def save_all() -> None:  # saves run on the catalog thread, awaited one by one
        for item in (comments(), photo(), album(), info(), faves(), gallery(), *collections()):
            assert await pipeline.process_item(item) is item
        other = {"not": "ours"}
        assert await pipeline.process_item(other) is other

    asyncio.run(save_all())
    for key, value in {
        "flickr/photo/listed": 2,
        "flickr/file/downloaded": 1,
        "flickr/failed": 1,
        "flickr/video/missing": 1,
        "flickr/api/calls": 9,
    }.items():
        stats.set_value(key, value)
    pipeline.spider_closed(reason="finished")  # connected to the signal: see the real crawl
    assert pipeline.db is None

    db = open_catalog(tmp_path / "archive" / "catalog.db")
    assert_consistent(db)
    run = rows(
        db,
        "SELECT spider, reason, photos_listed, files_downloaded, failed,"
        " videos_missing, api_calls, finished IS NOT NULL AS done FROM runs",
    )
    assert run == [
        {
            "spider": "default",
            "reason": "finished",
            "photos_listed": 2,
            "files_downloaded": 1,
            "failed": 1,
            "videos_missing": 1,
            "api_calls": 9,
            "done": 1,
        }
    ]
    assert len(rows(db, "SELECT id FROM photos")) == 2
    db.close()
    upserts = {
        key.rsplit("/", 1)[1]: value
        for key, value in stats.get_stats().items()
        if key.startswith("flickr/catalog/upsert/")
    }
    assert upserts["photos"] == 3  # the stub from the comments, then the photo, then album's
    assert upserts["comments"] == 2
    assert upserts["collections"] == 4  # stub from the album, stub parent, child, parent
    assert set(upserts) >= {
        "files",
        "albums",
        "album_photos",
        "tags",
        "notes",
        "people",
        "faves",
        "users",
        "galleries",
        "gallery_photos",
    }


def test_pipeline_can_be_switched_off(tmp_path: Path) -> None:
    crawler = get_crawler(
        settings_dict={"FLICKR_ARCHIVE_DIR": str(tmp_path), "FLICKR_CATALOG_ENABLED": False}
    )
    with pytest.raises(NotConfigured):
        CatalogPipeline.from_crawler(crawler)


CRAWL = textwrap.dedent(
    """
    import sys
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.exceptions import CloseSpider
    from tests.test_catalog import photo, comments

    class Items(scrapy.Spider):
        name = "items"

        async def start(self):
            yield scrapy.Request("data:,listed", callback=self.parse)

        def parse(self, response):
            self.crawler.stats.inc_value("flickr/photo/listed", 1)
            yield comments("8001")
            yield photo("8001")
            if sys.argv[2] != "finished":
                raise CloseSpider(sys.argv[2])

    process = CrawlerProcess({
        "ITEM_PIPELINES": {"pipelines.catalog.CatalogPipeline": 900},
        "FLICKR_ARCHIVE_DIR": sys.argv[1],
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
    })
    process.crawl(Items)
    process.start()
    """
)


@pytest.mark.parametrize("reason", ["finished", "flickr_auth_failed"])
def test_a_real_crawl_records_its_close_reason(tmp_path: Path, reason: str) -> None:
    # A file, not -c: Scrapy reads the source of callbacks.
    script = tmp_path / "crawl.py"
    script.write_text(CRAWL, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), reason],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    assert "Catalog: run 1 finished" in done.stderr
    db = open_catalog(tmp_path / "catalog.db")
    assert rows(db, "SELECT spider, reason, photos_listed FROM runs") == [
        {"spider": "items", "reason": reason, "photos_listed": 1}
    ]
    db.close()


def test_a_sparse_answer_keeps_the_profile_url_with_the_alias(db: sqlite3.Connection) -> None:
    from collections import Counter

    from flickr_crawl.catalog.db import utc_now
    from flickr_crawl.catalog.saves import _save_users
    from flickr_crawl.items import User

    rich = User(nsid="1@N00", username="ann", path_alias="annie",
                profile_url="https://www.flickr.com/people/annie/")  # fmt: skip
    sparse = User(nsid="1@N00", username="ann", profile_url="https://www.flickr.com/people/1@N00/")
    _save_users(db, [rich], utc_now(), Counter())
    _save_users(db, [sparse], utc_now(), Counter())
    row = db.execute("SELECT profile_url, path_alias FROM users WHERE nsid = '1@N00'").fetchone()
    assert tuple(row) == ("https://www.flickr.com/people/annie/", "annie")
