"""The items spiders yield: typed dataclasses, read by pipelines through ``isinstance``.

Each item has an ``item_type`` (``photo``, ``album``, ``comments``...: ``ITEM_TYPES``), and
each keeps the untouched API payloads it came from in ``raw`` (keyed by method), so nothing
Flickr said is lost even where our normalised fields do not cover it yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flickr_crawl.flickr.identity import media_key


def _typed(name: str) -> Any:
    """The ``item_type`` field every item carries (fixed, not an argument): in a feed export
    (``scrapy crawl photostream -O items.jsonl``) each line says which of the item shapes it
    is, so the export can be split (``jq 'select(.item_type == "photo")'``)."""
    return field(default=name, init=False)


@dataclass(kw_only=True)
class Source:
    """The URL a media file is fetched from, and what it is."""

    url: str
    label: str  # Flickr's size label: "Original", "Large 2048", "Video Original"...
    is_original: bool
    width: int | None = None
    height: int | None = None
    extension: str | None = None  # known for photo originals (originalformat); None for videos
    # What names the bytes (id, secret, size, format; see flickr_crawl.flickr.identity), never the
    # host: a file whose key is unchanged is not fetched again after a CDN move.
    key: str = ""

    def __post_init__(self) -> None:
        self.key = self.key or media_key(self.url)


@dataclass(kw_only=True)
class MediaFile:
    """What is on disk for one photo or video, filled in by the media pipeline."""

    status: str  # downloaded | uptodate | missing | failed
    path: str | None = None  # relative to the archive root
    links: list[str] = field(default_factory=list)  # further album folders it appears in
    size: int | None = None
    sha256: str | None = None  # of the file as it is on disk (after metadata was embedded)
    original_sha256: str | None = None  # of the bytes exactly as Flickr served them
    original_size: int | None = None
    content_type: str | None = None
    label: str | None = None  # the size that was taken
    is_original: bool = False
    reason: str | None = None  # why it is missing or failed
    metadata: str | None = None  # "embedded", or "skipped: <why>" (EXIF written into the file)
    # The served file's own EXIF segment (base64, "" if it had none), kept when ours was
    # embedded, so the original bytes can always be restored exactly (flickr_crawl.metadata.exif).
    original_exif: str | None = None
    # How many segments stand in its place: 3 (EXIF, XMP, IPTC) or 1 (EXIF alone, for a file
    # with its own XMP or IPTC); None in records made before XMP and IPTC were embedded: 1.
    embedded_segments: int | None = None
    # What this version of flickr-crawl embeds (flickr_crawl.metadata.exif.EMBED_FORMAT), kept
    # with an embedded file: a later version that embeds more upgrades the file at its next run.
    embed_format: int | None = None


@dataclass(kw_only=True)
class AlbumRef:
    id: str
    title: str
    position: int  # 1-based place of the photo in the album's order
    folder: str  # the album's folder, relative to the archive root


@dataclass(kw_only=True)
class PhotoItem:
    """One photo or video of the account, with everything the list calls said about it."""

    item_type: str = _typed("photo")
    id: str
    owner: str
    owner_name: str = ""
    media: str = "photo"  # photo | video
    title: str = ""
    description: str = ""  # HTML as Flickr gives it
    tags: list[str] = field(default_factory=list)
    machine_tags: list[str] = field(default_factory=list)
    date_posted: str | None = None  # ISO 8601, UTC
    date_taken: str | None = None  # ISO 8601 local wall time, cut to its granularity
    date_taken_granularity: int = 0  # 0 exact, 4 month, 6 year, 8 circa
    date_taken_unknown: bool = False
    last_update: str | None = None  # ISO 8601, UTC
    last_update_unix: int = 0
    license: int = 0
    license_name: str = ""
    license_url: str = ""
    is_public: bool = False
    is_friend: bool = False
    is_family: bool = False
    safety_level: int = 0
    views: int = 0
    count_comments: int = 0
    count_faves: int = 0
    geo: dict[str, Any] | None = None
    original_format: str | None = None
    original_secret: str | None = None
    rotation: int = 0
    path_alias: str | None = None
    page_url: str = ""
    albums: list[AlbumRef] = field(default_factory=list)
    galleries: list[str] = field(default_factory=list)  # ids of the owner's galleries
    camera: dict[str, Any] | None = None  # the camera's EXIF, read from the original file
    collection: str = "photostream"  # photostream | favorites: where in the archive it goes
    date_faved: str | None = None  # favorites: when the account faved it (ISO 8601, UTC)
    owner_user: User | None = None  # favorites: the owner's profile (buddy icon, profile URL)
    source: Source | None = None
    file: MediaFile | None = None
    # Videos: Flickr's largest still of the video (its url_o "original" is this JPEG), kept
    # beside it as <id>.poster.jpg for the site's thumbnails; never the video's own file.
    poster: Source | None = None
    poster_file: MediaFile | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    # For the media pipeline, not a record (no sidecar holds it): fetch the file again even
    # where an earlier run's file looks complete (the redownload spider sets it).
    force_download: bool = field(default=False, metadata={"recorded": False})


@dataclass(kw_only=True)
class AlbumItem:
    """An album (photoset) with its photos in the owner's order."""

    item_type: str = _typed("album")
    id: str
    title: str = ""
    description: str = ""
    primary: str | None = None
    count_photos: int = 0
    count_videos: int = 0
    collection_ids: list[str] = field(default_factory=list)
    date_create: str | None = None
    date_update: str | None = None
    photo_ids: list[str] = field(default_factory=list)
    folder: str | None = None  # relative folder in the "albums" layout
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class User:
    """Someone who appears (commenter, faver, person in a photo, gallery owner)."""

    nsid: str
    username: str = ""
    realname: str = ""
    path_alias: str | None = None
    buddy_icon_url: str = ""
    profile_url: str = ""
    deleted: bool = False


@dataclass(kw_only=True)
class Comment:
    id: str
    author: str  # nsid
    author_name: str = ""
    realname: str = ""
    date: str | None = None  # ISO 8601, UTC
    permalink: str = ""
    html: str = ""  # the comment as Flickr gives it (HTML, links, emoji)
    author_is_deleted: bool = False


@dataclass(kw_only=True)
class CommentsItem:
    """All comments of one photo (photos.comments.getList is not paginated)."""

    item_type: str = _typed("comments")
    photo_id: str
    comments: list[Comment] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Fave:
    nsid: str
    username: str = ""
    realname: str = ""
    date_faved: str | None = None  # ISO 8601, UTC


@dataclass(kw_only=True)
class FavesItem:
    """Everyone who faved one photo, from all pages of photos.getFavorites."""

    item_type: str = _typed("faves")
    photo_id: str
    total: int = 0
    faves: list[Fave] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Tag:
    id: str = ""
    content: str  # normalised, as in URLs
    raw: str = ""  # as the author typed it
    author: str = ""  # nsid
    author_name: str = ""
    machine: bool = False


@dataclass(kw_only=True)
class Note:
    id: str
    author: str = ""
    author_name: str = ""
    x: int = 0  # pixels on the 500 px ("Medium") rendering
    y: int = 0
    w: int = 0
    h: int = 0
    html: str = ""


@dataclass(kw_only=True)
class Person:
    """A person tagged in a photo, optionally with a box on the 500 px rendering."""

    nsid: str
    username: str = ""
    realname: str = ""
    added_by: str = ""
    x: int | None = None
    y: int | None = None
    w: int | None = None
    h: int | None = None


@dataclass(kw_only=True)
class PhotoInfoItem:
    """The deep pass for one photo: photos.getInfo (+ photos.people.getList where needed)."""

    item_type: str = _typed("photo_info")
    photo_id: str
    tags: list[Tag] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    location: dict[str, Any] | None = None  # geo plus place names (locality, region, ...)
    users: list[User] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class GalleryItem:
    """One of the owner's galleries, with its photos (the owner's and others') in order."""

    item_type: str = _typed("gallery")
    id: str
    title: str = ""
    description: str = ""
    url: str = ""
    date_create: str | None = None
    date_update: str | None = None
    photo_ids: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class CollectionItem:
    """A collection: albums or sub-collections, as collections.getTree nests them."""

    item_type: str = _typed("collection")
    id: str
    title: str = ""
    description: str = ""
    parent_id: str | None = None
    position: int = 0  # place among its siblings
    album_ids: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class FavoriteItem:
    """One photo the account faved (flickr.favorites.getList), as a fave record."""

    item_type: str = _typed("favorite")
    photo_id: str
    owner: str
    date_faved: str | None = None  # ISO 8601, UTC
    date_faved_unix: int = 0
    stored_as: str = "favorite"  # favorite (under Favorites/), or own (in the photostream)


@dataclass(kw_only=True)
class FavoritesListedItem:
    """The end of a favorites listing: every fave seen, and whether the listing was complete.

    A complete, full listing lets the catalog mark faves that are gone (un-faved, or deleted
    by their owner) without deleting anything; ``watermark`` becomes the next run's
    ``min_fave_date`` once the whole run has finished.
    """

    item_type: str = _typed("favorites_listed")
    photo_ids: list[str] = field(default_factory=list)
    complete: bool = False
    full: bool = False
    watermark: int = 0


@dataclass(kw_only=True)
class PhotostreamListedItem:
    """The end of a photostream listing: what was listed, and whether that was everything.

    ``sweep`` listings walked the whole photostream: once ``complete``, the catalog marks the
    account's photos that were not listed as deleted on Flickr (their files stay). Incremental
    listings only carry the ``watermark`` (this run's start) that the next run asks Flickr for
    changes since, written once the whole run has finished cleanly.
    """

    item_type: str = _typed("photostream_listed")
    owner: str
    photo_ids: list[str] = field(default_factory=list)
    complete: bool = False
    sweep: bool = False
    watermark: int = 0
    runs_since_sweep: int = 0
    # this run's start when its new comments and faves are all in (a complete sweep, or
    # flickr.activity.userPhotos read to its end), written once the run finished cleanly
    activity_watermark: int = 0


@dataclass(kw_only=True)
class ActivityPolledItem:
    """flickr.activity.userPhotos was called at ``at`` (unix). Flickr asks for one call an hour
    at most, so the catalog records it at once, whatever becomes of the run."""

    at: int


@dataclass(kw_only=True)
class InfoOwedItem:
    """An incremental run did not ask photos.getInfo of a photo whose lastupdate new comments
    alone moved (recent activity said so), at ``last_update``. What only getInfo shows (people
    tagged, note text, permissions) may have changed unseen: the catalog records the debt, the
    next sweep (or ``-a full=1``) asks getInfo, and storing its answer clears it."""

    item_type: str = _typed("info_owed")
    photo_id: str
    last_update: int


@dataclass(kw_only=True)
class OldAlbumFolderItem:
    """An album folder that no longer matches Flickr: the album was deleted (``deleted``:
    Flickr's complete album list no longer has it) or renamed (it has a new folder).

    The catalog marks a deleted album (its rows stay); the layout pipeline retires the old
    folder once its photos have moved to the folders they belong in now.
    """

    item_type: str = _typed("old_album_folder")
    id: str
    title: str = ""
    folder: str = ""
    deleted: bool = False


# Every item shape a spider yields, by its ``item_type``.
ITEM_TYPES: dict[str, type[Any]] = {
    "photo": PhotoItem,
    "album": AlbumItem,
    "comments": CommentsItem,
    "faves": FavesItem,
    "photo_info": PhotoInfoItem,
    "gallery": GalleryItem,
    "collection": CollectionItem,
    "favorite": FavoriteItem,
    "favorites_listed": FavoritesListedItem,
    "photostream_listed": PhotostreamListedItem,
    "old_album_folder": OldAlbumFolderItem,
    "info_owed": InfoOwedItem,
}
