"""Moving a photo's files when its folders change, without downloading anything again.

A photo's folders follow its albums (or its owner's name, or its date): when an album is
renamed or deleted, or a photo moves between albums, the file that is already in the archive
is linked into the folders it belongs in now (with its sidecar), and only then are the copies
in folders it left removed, with their sidecar and XMP. A copy is removed only while another
copy of the same size stays: the last copy of a file is never deleted.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flickr_crawl.archive.paths import inside, sidecar_name
from flickr_crawl.archive.storage import link_or_copy
from flickr_crawl.metadata.xmp import sidecar_paths

logger = logging.getLogger(__name__)


@dataclass
class Filed:
    """Where catalog.db says a photo's file is: its path, further links, and size."""

    paths: list[str]
    size: int | None


@dataclass
class Refiled:
    linked: list[str]
    removed: list[str]


def refile(
    archive: Path, photo_id: str, filed: Filed, dirs: list[str], *, link_mode: str
) -> Refiled | None:
    """Put the file catalog.db knows into ``dirs``; drop it from folders it left.

    None when nothing needed doing (or there is no intact copy to work from: then the media
    pipeline downloads it as usual).
    """
    intact = [p for p in filed.paths if _intact(archive, p, filed.size)]
    if not intact:
        return None
    name = PurePosixPath(intact[0]).name
    wanted = [f"{folder}/{name}" for folder in dirs]
    stale = [p for p in filed.paths if p not in wanted]
    missing = [p for p in wanted if not _intact(archive, p, filed.size)]
    if not stale and not missing:
        return None
    source = inside(archive, intact[0])
    sidecar = source.parent / sidecar_name(photo_id)
    linked = []
    for relative in missing:
        target = inside(archive, relative)
        link_or_copy(source, target, mode=link_mode)
        linked.append(relative)
        beside = target.parent / sidecar_name(photo_id)
        if sidecar.is_file() and not beside.exists():
            _copy_atomic(sidecar, beside)  # comments and history go with the photo
    if not any(_intact(archive, p, filed.size) for p in wanted):
        return Refiled(linked, [])  # never remove the copies we have left
    removed = []
    kept_folders = {str(PurePosixPath(p).parent) for p in wanted}
    for relative in stale:
        path = inside(archive, relative)
        if path.is_file():
            path.unlink()
            removed.append(relative)
        for xmp in sidecar_paths(path):  # under either FLICKR_XMP_SIDECAR_NAMING
            xmp.unlink(missing_ok=True)
        if str(PurePosixPath(relative).parent) not in kept_folders:
            (path.parent / sidecar_name(photo_id)).unlink(missing_ok=True)
            remove_if_empty(path.parent, archive)
    return Refiled(linked, removed)


def _intact(archive: Path, relative: str, size: int | None) -> bool:
    try:
        stat = inside(archive, relative).stat()
    except (OSError, ValueError):
        return False
    return size is None or stat.st_size == size


def _copy_atomic(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.copy.tmp")
    try:
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def remove_if_empty(folder: Path, archive: Path) -> None:
    """Folders a move emptied go too (never the archive itself, never a non-empty one)."""
    root = archive.resolve()
    while folder.resolve() != root and folder.is_dir():
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
