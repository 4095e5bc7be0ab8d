"""What the site shows, read from catalog.db in one read-only snapshot. No HTML here.

Only named columns are read, so columns the crawl adds later do not disturb the site. The
photostream is every photo the catalog holds with its data (not a stub) that is not a favourite;
favourites are other people's photos the account faved. Orders follow Flickr: photostream by
date posted (newest first), albums and galleries by their stored position, favourites by date
faved (newest first). Flickr's own order of the album list is not in the catalog, so albums are
listed newest first, as Flickr does until the owner rearranges them.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flickr_crawl.archive.integrity import COMPLETE
from flickr_crawl.catalog import siteview
from flickr_crawl.catalog.db import read_snapshot
from flickr_crawl.flickr.api import GALLERIES_GET_PHOTOS

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

_PROFILE = re.compile(r"^(https?://[^/]+/)(?:people|photos)/[^/?#]+/?$")


@dataclass
class User:
    nsid: str
    username: str = ""
    realname: str = ""
    profile_url: str = ""
    deleted: bool = False

    @property
    def name(self) -> str:
        return self.realname or self.username or self.nsid


@dataclass
class Comment:
    id: str
    author: str
    author_name: str
    date: str
    permalink: str
    html: str
    author_is_deleted: bool
    deleted_on_flickr: bool


@dataclass
class Note:
    id: str
    author: str
    author_name: str
    x: int
    y: int
    w: int
    h: int
    html: str


@dataclass
class Person:
    nsid: str
    added_by: str


@dataclass
class Fave:
    nsid: str
    date_faved: str
    deleted_on_flickr: bool


@dataclass
class Photo:
    """A photo or video with everything its page shows."""

    id: str
    owner: str
    media: str
    title: str
    description: str
    date_posted: str | None
    date_taken: str | None
    date_taken_granularity: int | None
    date_taken_unknown: bool
    views: int | None
    license_name: str | None
    license_url: str | None
    is_public: bool
    is_friend: bool
    is_family: bool
    latitude: float | None
    longitude: float | None
    places: list[str]
    page_url: str
    deleted_on_flickr: bool
    file_status: str | None
    file_path: str | None
    file_sha256: str | None
    file_size: int | None
    width: int | None  # the original's size as Flickr gave it (notes are placed against it)
    height: int | None
    poster_path: str | None = None  # a video's still (Flickr's largest), beside the video
    poster_sha256: str | None = None
    geo_public: bool = False  # Flickr shows its location to everyone (the map shows only these)
    tags: list[tuple[str, str, bool]] = field(default_factory=list)  # (tag, raw, machine)
    notes: list[Note] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    faves: list[Fave] = field(default_factory=list)
    albums: list[str] = field(default_factory=list)
    galleries: list[str] = field(default_factory=list)
    favorite: Favorite | None = None

    on_disk: bool = False  # set by the build: the catalog's file is complete and on disk

    @property
    def has_file(self) -> bool:
        """The catalog says the media file is complete (``on_disk`` says the disk agrees)."""
        return self.file_status in COMPLETE and bool(self.file_path)


@dataclass
class Favorite:
    photo_id: str
    owner: str
    date_faved: str | None
    gone_from_flickr: bool


@dataclass
class Album:
    id: str
    title: str
    description: str
    primary_photo_id: str | None
    date_create: str | None
    deleted_on_flickr: bool
    photo_ids: list[str] = field(default_factory=list)
    missing: int = 0  # photos Flickr listed in the album that the catalog holds no data for


@dataclass
class GalleryItem:
    photo_id: str
    title: str
    owner: str
    comment: str


@dataclass
class Gallery:
    id: str
    title: str
    description: str
    url: str
    date_create: str | None
    deleted_on_flickr: bool
    items: list[GalleryItem] = field(default_factory=list)


@dataclass
class Collection:
    id: str
    title: str
    description: str
    parent_id: str | None
    position: int | None
    album_ids: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


@dataclass
class Archive:
    """Everything in the catalog the site needs, in display order."""

    owner: User | None
    users: dict[str, User]
    photos: dict[str, Photo]
    photostream: list[str]
    favorites: list[str]
    albums: list[Album]
    galleries: list[Gallery]
    collections: dict[str, Collection]
    top_collections: list[str]
    tags: dict[str, list[str]]  # tag -> photo ids, photostream order then favourites
    tag_names: dict[str, str]  # tag -> how its author first wrote it


def open_readonly(archive: Path) -> sqlite3.Connection:
    """The archive's catalog, read-only (a crawl may be writing it meanwhile); NoCatalog."""
    return siteview.open_site_catalog(archive)


def load(db: sqlite3.Connection) -> Archive:
    """Read the whole archive in one transaction, so it is one consistent state."""
    return read_snapshot(db, _load)


def profile_link(nsid: str, profile_url: str) -> str:
    """A member's Flickr page in its NSID form (``/people/<nsid>/``), which always works.

    The catalog keeps whichever form the last API answer gave (``/people/<alias>/`` or the
    NSID), which alternates between crawls; a stable link keeps pages from being rewritten.
    """
    m = _PROFILE.match(profile_url)
    return f"{m.group(1)}people/{quote(nsid, safe='@')}/" if m and nsid else profile_url


def _load(db: sqlite3.Connection) -> Archive:
    users = {
        r["nsid"]: User(
            r["nsid"],
            r["username"] or "",
            r["realname"] or "",
            profile_link(r["nsid"], r["profile_url"] or ""),
            bool(r["deleted"]),
        )
        for r in siteview.users(db)
    }
    photos = _photos(db)
    _attach(db, photos)
    favorites = _favorites(db, photos)
    stream = [pid for pid, p in photos.items() if p.favorite is None]
    stream.sort(key=lambda pid: (photos[pid].date_posted or "", _id_key(pid)), reverse=True)
    owners = Counter(photos[pid].owner for pid in stream if photos[pid].owner)
    owner = users.get(owners.most_common(1)[0][0]) if owners else None
    albums = _albums(db, photos)
    tags, names = _tags(photos, [*stream, *favorites])
    collections, top = _collections(db)
    return Archive(
        owner=owner,
        users=users,
        photos=photos,
        photostream=stream,
        favorites=favorites,
        albums=albums,
        galleries=_galleries(db, photos),
        collections=collections,
        top_collections=top,
        tags=tags,
        tag_names=names,
    )


def _id_key(photo_id: str) -> tuple[int, str]:
    return (int(photo_id), "") if photo_id.isdigit() else (0, photo_id)


def _photos(db: sqlite3.Connection) -> dict[str, Photo]:
    photos = {}
    for r in siteview.photos(db):
        lat, lon = r["latitude"], r["longitude"]
        if (not lat and not lon) or r["accuracy"] == 0:
            lat = lon = None  # Flickr's 0,0 / accuracy 0 means "no location"
        places = [r[k] for k in ("neighbourhood", "locality", "county", "region", "country")]
        photos[r["id"]] = Photo(
            id=r["id"],
            owner=r["owner"] or "",
            media=r["media"],
            title=r["title"] or "",
            description=r["description"] or "",
            date_posted=r["date_posted"],
            date_taken=r["date_taken"],
            date_taken_granularity=r["date_taken_granularity"],
            date_taken_unknown=bool(r["date_taken_unknown"]),
            views=r["views"],
            license_name=r["license_name"],
            license_url=r["license_url"],
            is_public=bool(r["is_public"]),
            is_friend=bool(r["is_friend"]),
            is_family=bool(r["is_family"]),
            latitude=lat,
            longitude=lon,
            places=list(dict.fromkeys(p for p in places if p)),
            page_url=r["page_url"] or "",
            deleted_on_flickr=bool(r["deleted_on_flickr"]),
            file_status=r["status"],
            file_path=r["path"],
            file_sha256=r["sha256"],
            file_size=r["size"],
            width=r["width"],
            height=r["height"],
            poster_path=r["poster_path"],
            poster_sha256=r["poster_sha256"],
            geo_public=lat is not None and r["geo_is_public"] == 1,
        )
    return photos


def _attach(db: sqlite3.Connection, photos: dict[str, Photo]) -> None:
    """Tags, notes, people, comments, faves and memberships, each in its stored order."""
    for r in siteview.tags(db):
        if (p := photos.get(r["photo_id"])) is not None:
            p.tags.append((r["tag"], r["raw"] or r["tag"], bool(r["machine"])))
    for r in siteview.notes(db):
        if (p := photos.get(r["photo_id"])) is not None:
            p.notes.append(
                Note(
                    r["id"],
                    r["author"] or "",
                    r["author_name"] or "",
                    r["x"] or 0,
                    r["y"] or 0,
                    r["w"] or 0,
                    r["h"] or 0,
                    r["html"] or "",
                )
            )
    for r in siteview.people(db):
        if (p := photos.get(r["photo_id"])) is not None:
            p.people.append(Person(r["nsid"], r["added_by"] or ""))
    for r in siteview.comments(db):
        if (p := photos.get(r["photo_id"])) is not None:
            p.comments.append(
                Comment(
                    r["id"],
                    r["author"] or "",
                    r["realname"] or r["author_name"] or "",
                    r["date"] or "",
                    r["permalink"] or "",
                    r["html"] or "",
                    bool(r["author_is_deleted"]),
                    bool(r["deleted_on_flickr"]),
                )
            )
    for r in siteview.faves(db):
        if (p := photos.get(r["photo_id"])) is not None:
            p.faves.append(Fave(r["nsid"], r["date_faved"] or "", bool(r["deleted_on_flickr"])))
    for r in siteview.album_photos(db):
        if (p := photos.get(r["photo_id"])) is not None:
            p.albums.append(r["album_id"])
    for r in siteview.gallery_photos(db):
        if (p := photos.get(r["photo_id"])) is not None:
            p.galleries.append(r["gallery_id"])


def _favorites(db: sqlite3.Connection, photos: dict[str, Photo]) -> list[str]:
    order = []
    for r in siteview.favorites(db):
        if (p := photos.get(r["photo_id"])) is not None:
            p.favorite = Favorite(
                r["photo_id"], r["owner"] or p.owner, r["date_faved"], bool(r["gone_from_flickr"])
            )
            order.append(p.id)
    return order


def _albums(db: sqlite3.Connection, photos: dict[str, Photo]) -> list[Album]:
    members: dict[str, list[str]] = defaultdict(list)
    for r in siteview.album_photos(db):
        members[r["album_id"]].append(r["photo_id"])
    albums = []
    for r in siteview.albums(db):
        ids = members.get(r["id"], [])
        held = [pid for pid in ids if pid in photos]
        albums.append(
            Album(
                r["id"],
                r["title"] or "",
                r["description"] or "",
                r["primary_photo_id"],
                r["date_create"],
                bool(r["deleted_on_flickr"]),
                held,
                len(ids) - len(held),
            )
        )
    return albums


def _galleries(db: sqlite3.Connection, photos: dict[str, Photo]) -> list[Gallery]:
    galleries = []
    for r in siteview.galleries(db):
        listed = _gallery_listing(r["raw"])
        items = []
        for pid in siteview.gallery_members(db, r["id"]):
            info = listed.get(pid, {})
            comment = info.get("comment")
            comment = comment.get("_content", "") if isinstance(comment, dict) else comment or ""
            title = photos[pid].title if pid in photos else str(info.get("title") or "")
            items.append(GalleryItem(pid, title, str(info.get("owner") or ""), comment))
        galleries.append(
            Gallery(
                r["id"],
                r["title"] or "",
                r["description"] or "",
                r["url"] or "",
                r["date_create"],
                bool(r["deleted_on_flickr"]),
                items,
            )
        )
    return galleries


def _gallery_listing(raw: str | None) -> dict[str, dict[str, Any]]:
    """The gallery's photo entries as Flickr listed them (title, owner, curator's comment):
    photos of other people are not in the catalog, so this is where their titles are."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    pages = data.get(GALLERIES_GET_PHOTOS) if isinstance(data, dict) else None
    found: dict[str, dict[str, Any]] = {}
    for page in pages if isinstance(pages, list) else []:
        for photo in page.get("photo", []) if isinstance(page, dict) else []:
            if isinstance(photo, dict) and photo.get("id"):
                found[str(photo["id"])] = photo
    return found


def _collections(db: sqlite3.Connection) -> tuple[dict[str, Collection], list[str]]:
    collections: dict[str, Collection] = {}
    for r in siteview.collections(db):
        collections[r["id"]] = Collection(
            r["id"], r["title"] or "", r["description"] or "", r["parent_id"], r["position"]
        )
    for r in siteview.collection_albums(db):
        if (c := collections.get(r["collection_id"])) is not None:
            c.album_ids.append(r["album_id"])
    top = []
    for c in collections.values():
        parent = collections.get(c.parent_id or "")
        if parent is None:
            top.append(c.id)
        else:
            parent.children.append(c.id)
    return collections, top


def _tags(
    photos: dict[str, Photo], order: list[str]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    tags: dict[str, list[str]] = defaultdict(list)
    names: dict[str, str] = {}
    for pid in order:
        for tag, raw, _machine in photos[pid].tags:
            tags[tag].append(pid)
            names.setdefault(tag, raw)
    return dict(sorted(tags.items())), names
