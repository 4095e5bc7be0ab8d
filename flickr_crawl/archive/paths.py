"""Every on-disk path of the archive, derived from ids and sanitised titles.

File names come from photo ids (stable across title edits); folder names from album titles,
made safe for Linux, macOS and Windows file systems and unique (case-insensitively) within the
archive. Nothing built here can point outside the archive root.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flickr_crawl.items import PhotoItem

DEFAULT_ARCHIVE_DIR = "archive"  # FLICKR_ARCHIVE_DIR when a setting source leaves it out
CATALOG_NAME = "catalog.db"
LAYOUTS = ("albums", "date", "flat")
ALBUMS_DIR = "Albums"
UNSORTED_DIR = "Unsorted"
DATES_DIR = "Dates"
FLAT_DIR = "Photos"
LOGS_DIR = "logs"
FAVORITES_DIR = "Favorites"
FAVORITES_LAYOUTS = ("owner", "date")
ALBUM_SIDECAR = "album.json"  # an album folder's record
# FLICKR_XMP_SIDECAR_NAMING: 123.jpg.xmp (darktable, digiKam, Immich, exiftool's default) or
# 123.xmp (Lightroom, Capture One). Media names start with the photo id, so no two items share
# a sidecar, and 123.xmp never meets 123.json; a video's poster gets no XMP sidecar.
XMP_SIDECAR_NAMINGS = ("file.ext.xmp", "file.xmp")

_FORBIDDEN = set('<>:"/\\|?*')
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(10)}
MAX_NAME_BYTES = 120  # well under the 255-byte limit, leaving room for suffixes


class Settings(Protocol):
    """What these helpers read of Scrapy's settings (this package imports no Scrapy)."""

    def get(self, name: str, default: Any = None) -> Any: ...


def archive_dir(settings: Settings) -> Path:
    """The archive folder: ``FLICKR_ARCHIVE_DIR``."""
    return Path(settings.get("FLICKR_ARCHIVE_DIR", DEFAULT_ARCHIVE_DIR))


def catalog_path(settings: Settings) -> Path:
    """The archive's catalog: ``catalog.db`` in ``FLICKR_ARCHIVE_DIR``."""
    return archive_dir(settings) / CATALOG_NAME


def safe_name(name: str, *, fallback: str = "Untitled", max_bytes: int = MAX_NAME_BYTES) -> str:
    """A single path component that every common file system accepts."""
    name = unicodedata.normalize("NFC", name)
    chars = []
    for ch in name:
        if ch.isspace():
            chars.append(" ")
        elif ch in _FORBIDDEN or unicodedata.category(ch) in ("Cc", "Cs", "Co"):
            chars.append("_")
        else:
            chars.append(ch)
    cleaned = " ".join("".join(chars).split()).strip(" .")
    encoded = cleaned.encode("utf-8")
    if len(encoded) > max_bytes:
        cleaned = encoded[:max_bytes].decode("utf-8", errors="ignore").rstrip(" .")
    if not cleaned:
        cleaned = fallback
    if cleaned.split(".")[0].upper() in _RESERVED:
        cleaned = f"{cleaned}_"
    return cleaned


def album_folders(albums: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Relative folder of each album (id, title): sanitised, and unique ignoring case.

    Albums whose names collide all get their id appended, so a folder never changes because
    another album with the same name was created or listed earlier.
    """
    # Titles arrive as typed (text.py): "Rock & Roll", and "R&amp;D" if typed so.
    names = {album_id: safe_name(title) for album_id, title in albums}
    counts = Counter(n.casefold() for n in names.values())
    folders = {}
    for album_id, name in names.items():
        if counts[name.casefold()] > 1:
            name = f"{name} [{album_id}]"
        folders[album_id] = f"{ALBUMS_DIR}/{name}"
    return folders


def file_name(photo_id: str, extension: str) -> str:
    """Media file name: the photo id and the real extension."""
    return f"{safe_name(photo_id, fallback='photo')}.{safe_name(extension.lower(), fallback='bin')}"


def poster_name(photo_id: str, extension: str = "jpg") -> str:
    """A video's still, beside it: ``<id>.poster.jpg``, never taken for the video's file."""
    return f"{safe_name(photo_id, fallback='photo')}.poster.{safe_name(extension.lower())}"


def photo_dirs(photo: PhotoItem, layout: str, favorites_layout: str = "owner") -> list[str]:
    """Folders (relative) a photo belongs in; the first holds the file, the others links."""
    if photo.collection == "favorites":
        return [favorite_dir(photo, favorites_layout)]
    if layout == "flat":
        return [FLAT_DIR]
    if layout == "date":
        stamp = photo.date_taken if photo.date_taken and not photo.date_taken_unknown else None
        stamp = stamp if stamp and len(stamp) >= 10 else photo.date_posted or "0000-00-00"
        return [f"{DATES_DIR}/{stamp[:4]}/{stamp[5:7]}/{stamp[8:10]}"]
    return list(dict.fromkeys(ref.folder for ref in photo.albums)) or [UNSORTED_DIR]


def inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing anything that would land outside ``root`` (by name, or
    through a symlink the archive holds)."""
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"unsafe archive path: {relative!r}")
    path = root.joinpath(*rel.parts)
    if not _resolved(path).is_relative_to(_resolved(root)):
        raise ValueError(f"archive path leaves the archive: {relative!r}")
    return path


def _resolved(path: Path) -> Path:
    """``path.resolve()``, with the folder part remembered: a backup asks for the same album
    folders thousands of times, and each resolve is a system call per path component. A
    folder that was not there yet, or is another inode now, is resolved again."""
    folder = _resolved_folder(path.parent)
    if folder is None:
        return path.resolve()
    return (folder / path.name).resolve() if path.is_symlink() else folder / path.name


@functools.lru_cache(maxsize=4096)
def _resolved_cached(folder: Path, inode: int, device: int) -> Path:
    return folder.resolve(strict=True)


def _resolved_folder(folder: Path) -> Path | None:
    try:
        stat = os.lstat(folder)
        return _resolved_cached(folder, stat.st_ino, stat.st_dev)
    except OSError:  # not there (yet): not cached
        return None


def sidecar_name(photo_id: str) -> str:
    """The JSON sidecar beside a media file: ``<id>.json``, known even when the file is not."""
    return f"{safe_name(photo_id, fallback='photo')}.json"


def xmp_sidecar_name(media_name: str, naming: str = "file.ext.xmp") -> str:
    """The XMP sidecar of ``123.jpg``: ``123.jpg.xmp`` ("file.ext.xmp") or ``123.xmp``
    ("file.xmp")."""
    if naming == "file.xmp":
        return f"{PurePosixPath(media_name).stem}.xmp"
    if naming != "file.ext.xmp":
        raise ValueError(f"unknown XMP sidecar naming {naming!r}: one of {XMP_SIDECAR_NAMINGS}")
    return f"{media_name}.xmp"


def favorite_dir(photo: PhotoItem, layout: str) -> str:
    """Where a photo the account faved goes: by owner (name and nsid) or by month faved."""
    if layout == "date":
        stamp = photo.date_faved or "0000-00"
        return f"{FAVORITES_DIR}/{stamp[:4]}/{stamp[5:7]}"
    name = safe_name(photo.owner_name or photo.owner, fallback="unknown", max_bytes=80)
    return f"{FAVORITES_DIR}/{name} [{safe_name(photo.owner, fallback='unknown')}]"
