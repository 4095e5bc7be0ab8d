"""Storing items in ``catalog.db``: one ``save_*`` function per item class.

Fetching and saving are separate: spiders build items, and the ``save_*`` functions here store
one item each, in one transaction, so a crash loses at most the item in flight. Items arrive in
any order (comments before their photo, an album before its photos), so a referenced row that is
not known yet is inserted as a stub holding only its key, and the full save fills it later.
Foreign keys hold at every commit.

Nothing is deleted because Flickr stopped returning it: comments and faves that disappear are
kept and flagged ``deleted_on_flickr``. Tags, notes, people and album/gallery/collection order
are the photo's or album's *current* state and are replaced on every save.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from flickr_crawl.catalog.db import to_json, transaction, utc_now
from flickr_crawl.items import User
from flickr_crawl.metadata.exif import exif_fields_sha256, photo_fields
from flickr_crawl.metadata.text import html_to_text

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable

    from flickr_crawl.items import (
        AlbumItem,
        CollectionItem,
        CommentsItem,
        FavesItem,
        FavoriteItem,
        GalleryItem,
        InfoOwedItem,
        MediaFile,
        PhotoInfoItem,
        PhotoItem,
        Source,
    )


def _save_users(db: sqlite3.Connection, users: Iterable[User], now: str, w: Counter[str]) -> None:
    """Upsert users, keeping the richest values known: a blank never overwrites a value."""
    for user in users:
        db.execute(
            """
            INSERT INTO users (nsid, username, realname, path_alias, buddy_icon_url,
                               profile_url, deleted, first_seen, last_seen)
            VALUES (:nsid, :username, :realname, :path_alias, :buddy_icon_url,
                    :profile_url, :deleted, :now, :now)
            ON CONFLICT (nsid) DO UPDATE SET
                username = COALESCE(NULLIF(excluded.username, ''), users.username),
                realname = COALESCE(NULLIF(excluded.realname, ''), users.realname),
                path_alias = COALESCE(NULLIF(excluded.path_alias, ''), users.path_alias),
                buddy_icon_url = COALESCE(NULLIF(excluded.buddy_icon_url, ''),
                                          users.buddy_icon_url),
                -- an answer without the alias gives the /people/<nsid>/ form: keep the alias one
                profile_url = CASE
                    WHEN excluded.path_alias IS NULL AND users.path_alias IS NOT NULL
                         AND users.profile_url IS NOT NULL THEN users.profile_url
                    ELSE COALESCE(NULLIF(excluded.profile_url, ''), users.profile_url) END,
                deleted = MAX(users.deleted, excluded.deleted),
                first_seen = COALESCE(users.first_seen, excluded.first_seen),
                last_seen = excluded.last_seen
            """,
            {
                "nsid": user.nsid,
                "username": user.username,
                "realname": user.realname,
                "path_alias": user.path_alias or None,
                "buddy_icon_url": user.buddy_icon_url,
                "profile_url": user.profile_url,
                "deleted": int(user.deleted),
                "now": now,
            },
        )
        w["users"] += 1


def _user_stub(db: sqlite3.Connection, nsid: str | None, w: Counter[str]) -> str | None:
    """Make sure a referenced user row exists; '' means unknown and becomes NULL."""
    if not nsid:
        return None
    if db.execute("INSERT OR IGNORE INTO users (nsid) VALUES (?)", (nsid,)).rowcount:
        w["users"] += 1
    return nsid


def _photo_stub(db: sqlite3.Connection, photo_id: str, w: Counter[str]) -> None:
    if db.execute("INSERT OR IGNORE INTO photos (id) VALUES (?)", (photo_id,)).rowcount:
        w["photos"] += 1


def _album_stub(db: sqlite3.Connection, album_id: str, w: Counter[str], title: str = "") -> None:
    if db.execute(
        "INSERT OR IGNORE INTO albums (id, title) VALUES (?, ?)", (album_id, title)
    ).rowcount:
        w["albums"] += 1


def _gallery_stub(db: sqlite3.Connection, gallery_id: str, w: Counter[str]) -> None:
    if db.execute("INSERT OR IGNORE INTO galleries (id) VALUES (?)", (gallery_id,)).rowcount:
        w["galleries"] += 1


def _collection_stub(db: sqlite3.Connection, collection_id: str, w: Counter[str]) -> None:
    if db.execute("INSERT OR IGNORE INTO collections (id) VALUES (?)", (collection_id,)).rowcount:
        w["collections"] += 1


def _refresh_tags_text(db: sqlite3.Connection, photo_id: str) -> None:
    """photos.tags: every tag as in URLs, plus the author's spelling where it differs."""
    words: list[str] = []
    for row in db.execute(
        "SELECT tag, raw FROM tags WHERE photo_id = ? ORDER BY position, tag", (photo_id,)
    ):
        words.append(row["tag"])
        if row["raw"] and row["raw"] != row["tag"]:
            words.append(row["raw"])
    db.execute("UPDATE photos SET tags = ? WHERE id = ?", (" ".join(words), photo_id))


def _refresh_comments_text(db: sqlite3.Connection, photo_id: str) -> None:
    """photos.comments: the visible text of every comment we hold, deleted ones included."""
    texts = [
        html_to_text(row["html"])
        for row in db.execute(
            "SELECT html FROM comments WHERE photo_id = ? ORDER BY date, id", (photo_id,)
        )
    ]
    db.execute("UPDATE photos SET comments = ? WHERE id = ?", ("\n".join(texts), photo_id))


def _place_name(value: Any) -> str | None:
    """A place name from getInfo's location: ``{"_content": name, ...}`` or a plain string."""
    if isinstance(value, dict):
        value = value.get("_content")
    return str(value) if value not in (None, "") else None


def _optional_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


# --- saves ------------------------------------------------------------------------------------
def save_photo(db: sqlite3.Connection, item: PhotoItem, *, now: str | None = None) -> Counter[str]:
    """Store a photo (row, file, tags, album and gallery membership); rows written per table."""
    now = now or utc_now()
    w: Counter[str] = Counter()
    geo = item.geo or {}
    with transaction(db):
        _save_users(db, _owner_of(item), now, w)
        db.execute(
            """
            INSERT INTO photos (
                id, owner, media, title, description, description_text, date_posted, date_taken,
                date_taken_granularity, date_taken_unknown, last_update, last_update_unix,
                license, license_name, license_url, is_public, is_friend, is_family,
                safety_level, views, count_comments, count_faves, latitude, longitude, accuracy,
                geo_context, place_id, woeid, original_format, original_secret, rotation,
                path_alias, page_url, raw, first_seen, last_seen, deleted_on_flickr
            ) VALUES (
                :id, :owner, :media, :title, :description, :description_text, :date_posted,
                :date_taken, :date_taken_granularity, :date_taken_unknown, :last_update,
                :last_update_unix,
                :license, :license_name, :license_url, :is_public, :is_friend, :is_family,
                :safety_level, :views, :count_comments, :count_faves, :latitude, :longitude,
                :accuracy, :geo_context, :place_id, :woeid, :original_format, :original_secret,
                :rotation, :path_alias, :page_url, :raw, :now, :now, 0
            )
            ON CONFLICT (id) DO UPDATE SET
                owner = excluded.owner, media = excluded.media, title = excluded.title,
                description = excluded.description,
                description_text = excluded.description_text, date_posted = excluded.date_posted,
                date_taken = excluded.date_taken,
                date_taken_granularity = excluded.date_taken_granularity,
                date_taken_unknown = excluded.date_taken_unknown,
                last_update = excluded.last_update, last_update_unix = excluded.last_update_unix,
                license = excluded.license, license_name = excluded.license_name,
                license_url = excluded.license_url, is_public = excluded.is_public,
                is_friend = excluded.is_friend, is_family = excluded.is_family,
                safety_level = excluded.safety_level, views = excluded.views,
                count_comments = excluded.count_comments, count_faves = excluded.count_faves,
                latitude = excluded.latitude, longitude = excluded.longitude,
                accuracy = excluded.accuracy, geo_context = excluded.geo_context,
                -- getInfo may have filled these where the list call does not say them
                place_id = CASE WHEN excluded.latitude IS NULL THEN NULL
                                ELSE COALESCE(excluded.place_id, photos.place_id) END,
                woeid = CASE WHEN excluded.latitude IS NULL THEN NULL
                             ELSE COALESCE(excluded.woeid, photos.woeid) END,
                original_format = excluded.original_format,
                original_secret = excluded.original_secret, rotation = excluded.rotation,
                path_alias = excluded.path_alias, page_url = excluded.page_url,
                raw = excluded.raw, first_seen = COALESCE(photos.first_seen, excluded.first_seen),
                last_seen = excluded.last_seen, deleted_on_flickr = 0
            """,
            {
                "id": item.id,
                "owner": item.owner or None,
                "media": item.media,
                "title": item.title,
                "description": item.description,
                "description_text": html_to_text(item.description),
                "date_posted": item.date_posted,
                "date_taken": item.date_taken,
                "date_taken_granularity": item.date_taken_granularity,
                "date_taken_unknown": int(item.date_taken_unknown),
                "last_update": item.last_update,
                "last_update_unix": item.last_update_unix,
                "license": item.license,
                "license_name": item.license_name,
                "license_url": item.license_url,
                "is_public": int(item.is_public),
                "is_friend": int(item.is_friend),
                "is_family": int(item.is_family),
                "safety_level": item.safety_level,
                "views": item.views,
                "count_comments": item.count_comments,
                "count_faves": item.count_faves,
                "latitude": geo.get("latitude"),
                "longitude": geo.get("longitude"),
                "accuracy": geo.get("accuracy"),
                "geo_context": geo.get("context"),
                "place_id": _optional_str(geo.get("place_id")),
                "woeid": _optional_str(geo.get("woeid")),
                "original_format": item.original_format,
                "original_secret": item.original_secret,
                "rotation": item.rotation,
                "path_alias": item.path_alias,
                "page_url": item.page_url,
                "raw": to_json(item.raw),
                "now": now,
            },
        )
        w["photos"] += 1
        if item.file is not None:
            _save_file(db, item.id, item.file, item.source, now, item.poster_file,
                       item.poster.key if item.poster else None, camera=item.camera,
                       exif_fields=exif_fields_sha256(photo_fields(item)),
                       )  # fmt: skip
            w["files"] += 1
        _sync_list_tags(db, item, w)
        for ref in item.albums:
            _album_stub(db, ref.id, w, ref.title)
            db.execute(
                "UPDATE albums SET folder = ? WHERE id = ? AND folder IS NULL", (ref.folder, ref.id)
            )
            db.execute(
                """
                INSERT INTO album_photos (album_id, photo_id, position) VALUES (?, ?, ?)
                ON CONFLICT (album_id, photo_id) DO UPDATE SET position = excluded.position
                """,
                (ref.id, item.id, ref.position),
            )
            w["album_photos"] += 1
        for gallery_id in item.galleries:
            _gallery_stub(db, gallery_id, w)
            if db.execute(
                "INSERT OR IGNORE INTO gallery_photos (gallery_id, photo_id) VALUES (?, ?)",
                (gallery_id, item.id),
            ).rowcount:
                w["gallery_photos"] += 1
    return w


def _owner_of(item: PhotoItem) -> list[User]:
    if item.owner_user is not None:
        return [item.owner_user]
    if not item.owner:
        return []
    return [User(nsid=item.owner, username=item.owner_name, path_alias=item.path_alias)]


def _save_file(
    db: sqlite3.Connection,
    photo_id: str,
    file: MediaFile,
    source: Source | None,
    now: str,
    poster: MediaFile | None = None,
    poster_key: str | None = None,
    *,
    camera: dict[str, Any] | None = None,
    exif_fields: str | None = None,
) -> None:
    """The latest outcome for the photo's media file (one row per photo), and a video's
    still where one is complete on disk (a still that could not be had this time keeps the
    earlier one's row: its file stays). With the source's key, the camera's EXIF and the
    digest of the fields embedded (``exif_fields``), the next run keeps the file on this row's
    word alone (``flickr_crawl.catalog.lastrun``)."""
    db.execute(
        """
        INSERT INTO files (photo_id, status, path, links, size, sha256, original_sha256,
                           original_size, content_type, label, is_original, width, height,
                           reason, metadata, updated_at, source_key, camera,
                           exif_fields_sha256)
        VALUES (:photo_id, :status, :path, :links, :size, :sha256, :original_sha256,
                :original_size, :content_type, :label, :is_original, :width, :height,
                :reason, :metadata, :now, :source_key, :camera, :exif_fields_sha256)
        ON CONFLICT (photo_id) DO UPDATE SET
            status = excluded.status, path = excluded.path, links = excluded.links,
            size = excluded.size, sha256 = excluded.sha256,
            original_sha256 = excluded.original_sha256, original_size = excluded.original_size,
            content_type = excluded.content_type, label = excluded.label,
            is_original = excluded.is_original, width = excluded.width, height = excluded.height,
            reason = excluded.reason, metadata = excluded.metadata,
            updated_at = excluded.updated_at, source_key = excluded.source_key,
            camera = excluded.camera, exif_fields_sha256 = excluded.exif_fields_sha256
        """,
        {
            "photo_id": photo_id,
            "status": file.status,
            "path": file.path,
            "links": to_json(file.links),
            "size": file.size,
            "sha256": file.sha256,
            "original_sha256": file.original_sha256,
            "original_size": file.original_size,
            "content_type": file.content_type,
            "label": file.label or (source.label if source else None),
            "is_original": int(file.is_original),
            "width": source.width if source else None,
            "height": source.height if source else None,
            "reason": file.reason,
            "metadata": file.metadata,
            "now": now,
            "source_key": source.key if source else None,
            # In the camera's own order: the sidecar a re-run writes from it stays the same.
            "camera": json.dumps(camera, ensure_ascii=False) if camera is not None else None,
            "exif_fields_sha256": exif_fields,
        },
    )
    if poster is not None and poster.status in ("downloaded", "uptodate"):
        db.execute(
            "UPDATE files SET poster_path = ?, poster_size = ?, poster_sha256 = ?, poster_key = ?"
            " WHERE photo_id = ?",
            (poster.path, poster.size, poster.sha256, poster_key, photo_id),
        )


def _sync_list_tags(db: sqlite3.Connection, item: PhotoItem, w: Counter[str]) -> None:
    """Tags from the list extras (content only); keeps the getInfo details of known tags."""
    machine = set(item.machine_tags)
    tags = list(dict.fromkeys([*item.tags, *item.machine_tags]))
    db.execute(
        "DELETE FROM tags WHERE photo_id = ? AND tag NOT IN (SELECT value FROM json_each(?))",
        (item.id, to_json(tags)),
    )
    for position, tag in enumerate(tags, start=1):
        db.execute(
            """
            INSERT INTO tags (photo_id, tag, machine, position) VALUES (?, ?, ?, ?)
            ON CONFLICT (photo_id, tag) DO UPDATE SET
                machine = excluded.machine, position = excluded.position
            """,
            (item.id, tag, int(tag in machine), position),
        )
        w["tags"] += 1
    _refresh_tags_text(db, item.id)


def save_photo_info(
    db: sqlite3.Connection, item: PhotoInfoItem, *, now: str | None = None
) -> Counter[str]:
    """Store the deep pass of a photo: tags with author and spelling, notes, people, places."""
    now = now or utc_now()
    w: Counter[str] = Counter()
    with transaction(db):
        _photo_stub(db, item.photo_id, w)
        _save_users(db, item.users, now, w)
        contents = [tag.content for tag in item.tags]
        db.execute(
            "DELETE FROM tags WHERE photo_id = ? AND tag NOT IN (SELECT value FROM json_each(?))",
            (item.photo_id, to_json(contents)),
        )
        for position, tag in enumerate(item.tags, start=1):
            db.execute(
                """
                INSERT INTO tags (photo_id, tag, raw, tag_id, author, author_name, machine,
                                  position)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (photo_id, tag) DO UPDATE SET
                    raw = excluded.raw, tag_id = excluded.tag_id, author = excluded.author,
                    author_name = excluded.author_name, machine = excluded.machine,
                    position = excluded.position
                """,
                (
                    item.photo_id,
                    tag.content,
                    tag.raw,
                    tag.id,
                    _user_stub(db, tag.author, w),
                    tag.author_name,
                    int(tag.machine),
                    position,
                ),
            )
            w["tags"] += 1
        _refresh_tags_text(db, item.photo_id)
        db.execute(
            "DELETE FROM notes WHERE photo_id = ? AND id NOT IN (SELECT value FROM json_each(?))",
            (item.photo_id, to_json([note.id for note in item.notes])),
        )
        for note in item.notes:
            db.execute(
                """
                INSERT INTO notes (id, photo_id, author, author_name, x, y, w, h, html)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    photo_id = excluded.photo_id, author = excluded.author,
                    author_name = excluded.author_name, x = excluded.x, y = excluded.y,
                    w = excluded.w, h = excluded.h, html = excluded.html
                """,
                (
                    note.id,
                    item.photo_id,
                    _user_stub(db, note.author, w),
                    note.author_name,
                    note.x,
                    note.y,
                    note.w,
                    note.h,
                    note.html,
                ),
            )
            w["notes"] += 1
        db.execute(
            "DELETE FROM people"
            " WHERE photo_id = ? AND nsid NOT IN (SELECT value FROM json_each(?))",
            (item.photo_id, to_json([person.nsid for person in item.people])),
        )
        for person in item.people:
            _save_users(db, [_user_of(person.nsid, person.username, person.realname)], now, w)
            db.execute(
                """
                INSERT INTO people (photo_id, nsid, added_by, x, y, w, h)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (photo_id, nsid) DO UPDATE SET
                    added_by = excluded.added_by, x = excluded.x, y = excluded.y,
                    w = excluded.w, h = excluded.h
                """,
                (
                    item.photo_id,
                    person.nsid,
                    _user_stub(db, person.added_by, w),
                    person.x,
                    person.y,
                    person.w,
                    person.h,
                ),
            )
            w["people"] += 1
        _save_location(db, item.photo_id, item.location)
        db.execute(  # getInfo's answer is in: a debt a skip left (``save_info_owed``) is paid
            "UPDATE photos SET info_raw = ?, info_owed = NULL WHERE id = ?",
            (to_json(item.raw), item.photo_id),
        )
    return w


def save_info_owed(
    db: sqlite3.Connection, item: InfoOwedItem, *, now: str | None = None
) -> Counter[str]:
    """Record that a photo owes a getInfo (skipped at its lastupdate ``item.last_update``):
    the next sweep asks it. A photo not stored yet owes nothing (its first run asks getInfo)."""
    w: Counter[str] = Counter()
    with transaction(db):
        w["info_owed"] = db.execute(
            "UPDATE photos SET info_owed = ? WHERE id = ? AND info_raw IS NOT NULL",
            (item.last_update, item.photo_id),
        ).rowcount
    return w


def _user_of(nsid: str, username: str, realname: str) -> User:
    return User(nsid=nsid, username=username, realname=realname)


def _save_location(db: sqlite3.Connection, photo_id: str, location: dict[str, Any] | None) -> None:
    """Coordinates and place names from getInfo; no location leaves what we knew untouched."""
    if not location:
        return
    db.execute(
        """
        UPDATE photos SET
            latitude = COALESCE(:latitude, latitude), longitude = COALESCE(:longitude, longitude),
            accuracy = COALESCE(:accuracy, accuracy), geo_context = COALESCE(:context, geo_context),
            place_id = COALESCE(:place_id, place_id), woeid = COALESCE(:woeid, woeid),
            neighbourhood = :neighbourhood, locality = :locality, county = :county,
            region = :region, country = :country
        WHERE id = :id
        """,
        {
            "id": photo_id,
            "latitude": _number(location.get("latitude")),
            "longitude": _number(location.get("longitude")),
            "accuracy": _number(location.get("accuracy")),
            "context": _number(location.get("context")),
            "place_id": _optional_str(location.get("place_id")),
            "woeid": _optional_str(location.get("woeid")),
            **{
                name: _place_name(location.get(name))
                for name in ("neighbourhood", "locality", "county", "region", "country")
            },
        },
    )


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def save_comments(
    db: sqlite3.Connection, item: CommentsItem, *, now: str | None = None
) -> Counter[str]:
    """Store a photo's comments; ones Flickr no longer returns stay, flagged deleted_on_flickr."""
    now = now or utc_now()
    w: Counter[str] = Counter()
    with transaction(db):
        _photo_stub(db, item.photo_id, w)
        _save_users(db, item.users, now, w)
        for comment in item.comments:
            _user_stub(db, comment.author, w)
            db.execute(
                """
                INSERT INTO comments (id, photo_id, author, author_name, realname, date,
                                      permalink, html, author_is_deleted, first_seen,
                                      last_seen, deleted_on_flickr)
                VALUES (:id, :photo_id, :author, :author_name, :realname, :date, :permalink,
                        :html, :author_is_deleted, :now, :now, 0)
                ON CONFLICT (id) DO UPDATE SET
                    photo_id = excluded.photo_id, author = excluded.author,
                    author_name = excluded.author_name, realname = excluded.realname,
                    date = excluded.date, permalink = excluded.permalink, html = excluded.html,
                    author_is_deleted = excluded.author_is_deleted,
                    last_seen = excluded.last_seen, deleted_on_flickr = 0
                """,
                {
                    "id": comment.id,
                    "photo_id": item.photo_id,
                    "author": comment.author or None,
                    "author_name": comment.author_name,
                    "realname": comment.realname,
                    "date": comment.date,
                    "permalink": comment.permalink,
                    "html": comment.html,
                    "author_is_deleted": int(comment.author_is_deleted),
                    "now": now,
                },
            )
            w["comments"] += 1
        w["comments"] += db.execute(
            """
            UPDATE comments SET deleted_on_flickr = 1
            WHERE photo_id = ? AND deleted_on_flickr = 0
              AND id NOT IN (SELECT value FROM json_each(?))
            """,
            (item.photo_id, to_json([comment.id for comment in item.comments])),
        ).rowcount
        _refresh_comments_text(db, item.photo_id)
        db.execute(
            "UPDATE photos SET comments_raw = ? WHERE id = ?", (to_json(item.raw), item.photo_id)
        )
    return w


def save_faves(db: sqlite3.Connection, item: FavesItem, *, now: str | None = None) -> Counter[str]:
    """Store who faved a photo; an un-fave keeps the row, flagged deleted_on_flickr."""
    now = now or utc_now()
    w: Counter[str] = Counter()
    with transaction(db):
        _photo_stub(db, item.photo_id, w)
        _save_users(db, item.users, now, w)
        for fave in item.faves:
            _save_users(db, [_user_of(fave.nsid, fave.username, fave.realname)], now, w)
            db.execute(
                """
                INSERT INTO faves (photo_id, nsid, date_faved, first_seen, last_seen,
                                   deleted_on_flickr)
                VALUES (?, ?, ?, ?, ?, 0)
                ON CONFLICT (photo_id, nsid) DO UPDATE SET
                    date_faved = excluded.date_faved, last_seen = excluded.last_seen,
                    deleted_on_flickr = 0
                """,
                (item.photo_id, fave.nsid, fave.date_faved, now, now),
            )
            w["faves"] += 1
        w["faves"] += db.execute(
            """
            UPDATE faves SET deleted_on_flickr = 1
            WHERE photo_id = ? AND deleted_on_flickr = 0
              AND nsid NOT IN (SELECT value FROM json_each(?))
            """,
            (item.photo_id, to_json([fave.nsid for fave in item.faves])),
        ).rowcount
        db.execute(
            "UPDATE photos SET faves_total = ?, faves_raw = ? WHERE id = ?",
            (item.total, to_json(item.raw), item.photo_id),
        )
    return w


def save_album(db: sqlite3.Connection, item: AlbumItem, *, now: str | None = None) -> Counter[str]:
    """Store an album and its photos in the owner's order (the order is replaced)."""
    now = now or utc_now()
    w: Counter[str] = Counter()
    with transaction(db):
        for photo_id in dict.fromkeys([*([item.primary] if item.primary else []), *item.photo_ids]):
            _photo_stub(db, photo_id, w)
        db.execute(
            """
            INSERT INTO albums (id, title, description, primary_photo_id, count_photos,
                                count_videos, date_create, date_update, folder, raw,
                                first_seen, last_seen, deleted_on_flickr)
            VALUES (:id, :title, :description, :primary, :count_photos, :count_videos,
                    :date_create, :date_update, :folder, :raw, :now, :now, 0)
            ON CONFLICT (id) DO UPDATE SET
                title = excluded.title, description = excluded.description,
                primary_photo_id = excluded.primary_photo_id,
                count_photos = excluded.count_photos, count_videos = excluded.count_videos,
                date_create = excluded.date_create, date_update = excluded.date_update,
                folder = COALESCE(excluded.folder, albums.folder), raw = excluded.raw,
                first_seen = COALESCE(albums.first_seen, excluded.first_seen),
                last_seen = excluded.last_seen, deleted_on_flickr = 0
            """,
            {
                "id": item.id,
                "title": item.title,
                "description": item.description,
                "primary": item.primary or None,
                "count_photos": item.count_photos,
                "count_videos": item.count_videos,
                "date_create": item.date_create,
                "date_update": item.date_update,
                "folder": item.folder,
                "raw": to_json(item.raw),
                "now": now,
            },
        )
        w["albums"] += 1
        db.execute("DELETE FROM album_photos WHERE album_id = ?", (item.id,))
        for position, photo_id in enumerate(dict.fromkeys(item.photo_ids), start=1):
            db.execute(
                "INSERT INTO album_photos (album_id, photo_id, position) VALUES (?, ?, ?)",
                (item.id, photo_id, position),
            )
            w["album_photos"] += 1
        for collection_id in item.collection_ids:
            _collection_stub(db, collection_id, w)
            if db.execute(
                "INSERT OR IGNORE INTO collection_albums (collection_id, album_id) VALUES (?, ?)",
                (collection_id, item.id),
            ).rowcount:
                w["collection_albums"] += 1
    return w


def save_gallery(
    db: sqlite3.Connection, item: GalleryItem, *, now: str | None = None
) -> Counter[str]:
    """Store a gallery and its photos in order (the order is replaced)."""
    now = now or utc_now()
    w: Counter[str] = Counter()
    with transaction(db):
        db.execute(
            """
            INSERT INTO galleries (id, title, description, url, date_create, date_update, raw,
                                   first_seen, last_seen, deleted_on_flickr)
            VALUES (:id, :title, :description, :url, :date_create, :date_update, :raw,
                    :now, :now, 0)
            ON CONFLICT (id) DO UPDATE SET
                title = excluded.title, description = excluded.description, url = excluded.url,
                date_create = excluded.date_create, date_update = excluded.date_update,
                raw = excluded.raw,
                first_seen = COALESCE(galleries.first_seen, excluded.first_seen),
                last_seen = excluded.last_seen, deleted_on_flickr = 0
            """,
            {
                "id": item.id,
                "title": item.title,
                "description": item.description,
                "url": item.url,
                "date_create": item.date_create,
                "date_update": item.date_update,
                "raw": to_json(item.raw),
                "now": now,
            },
        )
        w["galleries"] += 1
        db.execute("DELETE FROM gallery_photos WHERE gallery_id = ?", (item.id,))
        for position, photo_id in enumerate(dict.fromkeys(item.photo_ids), start=1):
            db.execute(
                "INSERT INTO gallery_photos (gallery_id, photo_id, position) VALUES (?, ?, ?)",
                (item.id, photo_id, position),
            )
            w["gallery_photos"] += 1
    return w


def save_collection(
    db: sqlite3.Connection, item: CollectionItem, *, now: str | None = None
) -> Counter[str]:
    """Store a collection, its place in the tree and its albums in order (order replaced)."""
    now = now or utc_now()
    w: Counter[str] = Counter()
    with transaction(db):
        if item.parent_id:
            _collection_stub(db, item.parent_id, w)
        db.execute(
            """
            INSERT INTO collections (id, title, description, parent_id, position, raw,
                                     first_seen, last_seen, deleted_on_flickr)
            VALUES (:id, :title, :description, :parent_id, :position, :raw, :now, :now, 0)
            ON CONFLICT (id) DO UPDATE SET
                title = excluded.title, description = excluded.description,
                parent_id = excluded.parent_id, position = excluded.position,
                raw = excluded.raw,
                first_seen = COALESCE(collections.first_seen, excluded.first_seen),
                last_seen = excluded.last_seen, deleted_on_flickr = 0
            """,
            {
                "id": item.id,
                "title": item.title,
                "description": item.description,
                "parent_id": item.parent_id or None,
                "position": item.position,
                "raw": to_json(item.raw),
                "now": now,
            },
        )
        w["collections"] += 1
        db.execute("DELETE FROM collection_albums WHERE collection_id = ?", (item.id,))
        for position, album_id in enumerate(dict.fromkeys(item.album_ids), start=1):
            _album_stub(db, album_id, w)
            db.execute(
                "INSERT INTO collection_albums (collection_id, album_id, position)"
                " VALUES (?, ?, ?)",
                (item.id, album_id, position),
            )
            w["collection_albums"] += 1
    return w


def save_favorite(
    db: sqlite3.Connection, item: FavoriteItem, *, now: str | None = None
) -> Counter[str]:
    """One fave of the account; seen again, it is no longer gone."""
    now = now or utc_now()
    w: Counter[str] = Counter()
    with transaction(db):
        _user_stub(db, item.owner, w)
        _photo_stub(db, item.photo_id, w)
        db.execute(
            """
            INSERT INTO favorites (photo_id, owner, date_faved, date_faved_unix, stored_as,
                                   first_seen, last_seen, gone_from_flickr, gone_since)
            VALUES (:photo_id, :owner, :date_faved, :unix, :stored_as, :now, :now, 0, NULL)
            ON CONFLICT (photo_id) DO UPDATE SET
                owner = excluded.owner, date_faved = excluded.date_faved,
                date_faved_unix = excluded.date_faved_unix, stored_as = excluded.stored_as,
                last_seen = excluded.last_seen, gone_from_flickr = 0, gone_since = NULL
            """,
            {"photo_id": item.photo_id, "owner": item.owner or None,
             "date_faved": item.date_faved, "unix": item.date_faved_unix,
             "stored_as": item.stored_as, "now": now},
        )  # fmt: skip
        w["favorites"] += 1
    return w
