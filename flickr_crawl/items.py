"""The items spiders yield: typed dataclasses, read by pipelines through ``isinstance``.

Each keeps the untouched API payloads it came from in ``raw`` (keyed by method), so nothing
Flickr said is lost even where our normalised fields do not cover it yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class Source:
    """The URL a media file is fetched from, and what it is."""

    url: str
    label: str  # Flickr's size label: "Original", "Large 2048", "Video Original"...
    is_original: bool
    width: int | None = None
    height: int | None = None
    extension: str | None = None  # known for photo originals (originalformat); None for videos


@dataclass(kw_only=True)
class MediaFile:
    """What is on disk for one photo or video, filled in by the media pipeline."""

    status: str  # downloaded | uptodate | missing | failed
    path: str | None = None  # relative to the archive root
    links: list[str] = field(default_factory=list)  # further album folders it appears in
    size: int | None = None
    sha256: str | None = None
    content_type: str | None = None
    label: str | None = None  # the size that was taken
    is_original: bool = False
    reason: str | None = None  # why it is missing or failed


@dataclass(kw_only=True)
class AlbumRef:
    id: str
    title: str
    position: int  # 1-based place of the photo in the album's order
    folder: str  # the album's folder, relative to the archive root


@dataclass(kw_only=True)
class PhotoItem:
    """One photo or video of the account, with everything the list calls said about it."""

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
    source: Source | None = None
    file: MediaFile | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class AlbumItem:
    """An album (photoset) with its photos in the owner's order."""

    id: str
    title: str = ""
    description: str = ""
    primary: str | None = None
    count_photos: int = 0
    count_videos: int = 0
    date_create: str | None = None
    date_update: str | None = None
    photo_ids: list[str] = field(default_factory=list)
    folder: str | None = None  # relative folder in the "albums" layout
    raw: dict[str, Any] = field(default_factory=dict)
