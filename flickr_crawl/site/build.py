"""``build_site``: catalog.db and the originals in, ``<archive>/site/`` out, incrementally.

One build reads the catalog once (read-only: a crawl may run meanwhile), makes the thumbnails
and web copies that are missing or stale (in parallel), renders every page in memory and writes
only the pages whose bytes changed. Files of an earlier build that this one no longer makes
(a renamed tag, an original that changed) are removed. Counts come back as ``site/...`` keys.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from flickr_crawl.site import images, pages, search, timeline, worldmap
from flickr_crawl.site.files import STATE_NAME, TMP_SUFFIX, PageWriter
from flickr_crawl.site.model import load, open_readonly
from flickr_crawl.site.photo import photo_pages

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from concurrent.futures import Executor, Future

    from flickr_crawl.site.model import Archive

logger = logging.getLogger(__name__)

SITE_DIR = "site"
ASSETS = ("site.css", "site.js", "search.js", "video.svg", "missing.svg", "world.svg")
# What a build may delete when it no longer makes it: its own kinds of file, nothing else.
_OWN_SUFFIXES = (".html", ".js", ".css", ".svg", ".jpg", TMP_SUFFIX)


@dataclass
class BuildResult:
    site: Path
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def index(self) -> Path:
        return self.site / "index.html"


def build_site(
    archive: Path,
    *,
    sizes: images.Sizes | None = None,
    page_size: int = 300,
    workers: int = 0,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Build or update ``archive/site``; ``full`` remakes every image and rewrites every page.

    Raises NoCatalog when ``archive`` has no readable catalog.db.
    """
    started = time.monotonic()
    sizes = sizes or images.Sizes()
    db = open_readonly(archive)
    try:
        data = load(db)
    finally:
        db.close()
    site = archive / SITE_DIR
    result = BuildResult(site)
    counts = result.counts
    derived = _images(
        archive, site, data, sizes, workers=workers, full=full, counts=counts, progress=progress
    )
    writer = PageWriter(site, full=full)
    for relative, content in render(data, derived, page_size=page_size):
        kind = "page" if relative.endswith(".html") else "file"
        if writer.write(relative, content):
            counts[f"site/{kind}/written"] += 1
        else:
            counts[f"site/{kind}/unchanged"] += 1
    keep = set(writer.after) | {d.web for d in derived.values()}
    keep |= {d.thumb for d in derived.values()}
    counts["site/file/removed"] += _remove_stale(site, keep)
    writer.save()
    counts["site/photos"] = len(data.photos)
    result.seconds = time.monotonic() - started
    return result


def render(
    data: Archive, derived: dict[str, images.Derived], *, page_size: int
) -> Iterator[tuple[str, bytes]]:
    """Every file of the site except the images, one at a time (a page is written before the
    next is made, so memory does not grow with the archive): (path under site/, bytes)."""
    site = pages.Site(data, derived, page_size)
    yield from pages.photostream_pages(site).items()
    yield from pages.favorites_pages(site).items()
    yield from pages.albums_index(site).items()
    for album in data.albums:
        yield from pages.album_pages(site, album).items()
    yield from pages.collections_index(site).items()
    yield from pages.galleries_index(site).items()
    for gallery in data.galleries:
        yield from pages.gallery_pages(site, gallery).items()
    yield from pages.tags_index(site).items()
    for name in data.tags:
        yield from pages.tag_pages(site, name).items()
    yield from photo_pages(site, data.photostream, "Photostream", "index.html")
    yield from photo_pages(site, data.favorites, "Favorites", "favorites.html")
    yield from pages.search_page(site).items()
    yield from timeline.timeline_pages(site).items()
    yield from worldmap.map_page(site).items()
    keys = {pid: d.key for pid, d in derived.items()}
    yield "search-index.js", search.build_index(data, [*data.photostream, *data.favorites], keys)
    assets = resources.files("flickr_crawl.site") / "assets"
    for name in ASSETS:
        yield f"assets/{name}", (assets / name).read_bytes()


def _images(
    archive: Path,
    site: Path,
    data: Archive,
    sizes: images.Sizes,
    *,
    workers: int,
    full: bool,
    counts: Counter[str],
    progress: Callable[[int, int], None] | None,
) -> dict[str, images.Derived]:
    """Which originals are on disk, and the copies of those that are photos (of a video: of
    its still) kept when current, else made."""
    have = {} if full else images.existing(site)
    derived: dict[str, images.Derived] = {}
    jobs = []
    for pid, photo in data.photos.items():
        original = _on_disk(archive, photo.file_path if photo.has_file else None, counts)
        photo.on_disk = original is not None
        if original is None:
            counts["site/original/missing"] += 1  # failed, never downloaded, or gone
        if photo.media == "video":  # Pillow cannot decode a video: its copies show its still
            source = _on_disk(archive, photo.poster_path, counts)
            digest, size = photo.poster_sha256, None
        else:
            source, digest, size = original, photo.file_sha256, photo.file_size
        if source is None:
            continue
        if not images.SAFE_ID.fullmatch(pid):
            counts["site/image/odd_id"] += 1  # Flickr ids are digits; never a path
            continue
        key = images.key_for(pid, digest, size, sizes)
        if (pid, key) in have:
            derived[pid] = have[(pid, key)]
            counts["site/image/kept"] += 1
        else:
            jobs.append(images.Job(pid, source, key))
    for made in _run(jobs, site, sizes, workers, progress):
        if made is None:
            counts["site/image/failed"] += 1
        else:
            derived[made.photo_id] = made
            counts["site/image/made"] += 1
    return derived


def _on_disk(archive: Path, relative: str | None, counts: Counter[str]) -> Path | None:
    """The archive's file at ``relative`` if it is there (never one outside the archive)."""
    if not relative:
        return None
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts:
        counts["site/file/unsafe_path"] += 1  # never read outside the archive
        return None
    path = archive.joinpath(*parts.parts)
    return path if path.is_file() else None


def _run(
    jobs: list[images.Job],
    site: Path,
    sizes: images.Sizes,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> Iterable[images.Derived | None]:
    """Derive in parallel: processes when there is more than one core and enough work."""
    if not jobs:
        return
    workers = workers or os.cpu_count() or 1
    pool: Executor = (
        ProcessPoolExecutor(max_workers=workers)
        if workers > 1 and len(jobs) > 8
        else ThreadPoolExecutor(max_workers=1)
    )
    with pool:
        futures: list[Future[images.Derived | None]] = [
            pool.submit(images.derive, job, site, sizes) for job in jobs
        ]
        for done, future in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, len(jobs))
            yield future.result()


def _remove_stale(site: Path, keep: set[str]) -> int:
    """Delete this builder's kinds of file that the current build did not make, and folders
    left empty."""
    removed = 0
    if not site.is_dir():
        return 0
    for folder, dirs, files in os.walk(site, topdown=False):
        prefix = os.path.relpath(folder, site).replace(os.sep, "/")
        prefix = "" if prefix == "." else prefix + "/"
        for name in files:
            relative = prefix + name
            if relative == STATE_NAME or relative in keep or not name.endswith(_OWN_SUFFIXES):
                continue
            Path(folder, name).unlink(missing_ok=True)
            removed += 1
        for name in dirs:
            with contextlib.suppress(OSError):  # not empty: fine
                Path(folder, name).rmdir()
    return removed
