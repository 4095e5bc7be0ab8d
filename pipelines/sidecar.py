"""Writes the JSON sidecar of every photo (``<id>.json`` in each of its folders), plus XMP.

The sidecar is the photo's normalised record, its comments, faves, notes, people and tag
details, the users who appear, and under ``raw`` the untouched API payloads it came from. Those
parts arrive as separate items (a photo's comments can be fetched while its original still
downloads), so each item merges its part into the file; parts that arrive before the photo's
own item wait in memory and go into its first write, and parts that arrive while a write of
their photo still waits in line join that write (one thread writes, behind the downloads:
under load most parts join one). Each write is atomic and happens once, in the photo's first
folder; the other folders get hard links to it, as they do for the media file
(``FLICKR_LINK_MODE=copy``: copies). A sidecar is written whatever happened to the media file,
so captions and comments are never lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import json
import logging
import queue
import threading
from collections import defaultdict
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter

from flickr_crawl.archive.paths import (
    ALBUM_SIDECAR,
    archive_dir,
    inside,
    photo_dirs,
    safe_name,
    sidecar_name,
)
from flickr_crawl.archive.storage import link_or_copy, write_json_atomic
from flickr_crawl.extensions.diskspace import is_disk_full
from flickr_crawl.extensions.report import RunReport
from flickr_crawl.items import (
    AlbumItem,
    CollectionItem,
    CommentsItem,
    FavesItem,
    GalleryItem,
    PhotoInfoItem,
    PhotoItem,
)
from flickr_crawl.metadata.xmp import sidecar_path, sidecar_paths, write_xmp

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

GALLERIES_DIR = "Galleries"
COLLECTIONS_DIR = "Collections"
PhotoPart = CommentsItem | FavesItem | PhotoInfoItem
# Keys of a photo sidecar that come from items other than the PhotoItem.
PART_KEYS = ("comments", "faves", "faves_total", "notes", "people", "tag_details", "location")


@dataclasses.dataclass
class _Queued:
    """A write of one photo's sidecar waiting in line; parts that arrive meanwhile join it."""

    parts: list[PhotoPart]
    future: Future[dict[str, int]] | None = None
    started: bool = False


class SidecarPipeline:
    def __init__(self, archive: Path, layout: str, stats: StatsCollector, *, xmp: bool):
        self.archive = archive
        self.layout = layout
        self.favorites_layout = "owner"  # FLICKR_FAVORITES_LAYOUT
        self.link_mode = "hardlink"  # FLICKR_LINK_MODE
        self.xmp_naming = "file.ext.xmp"  # FLICKR_XMP_SIDECAR_NAMING
        self.stats = stats
        self.xmp = xmp
        self.folders: dict[str, list[str]] = {}  # photo id -> folders its sidecar is in
        self.pending: dict[str, list[PhotoPart]] = defaultdict(list)
        self.queued: dict[str, _Queued] = {}  # photo id -> its write waiting in line
        self._lock = threading.Lock()  # guards ``queued`` entries against their writer
        self._executor: _Writer | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        assert crawler.stats is not None
        pipeline = cls(
            archive_dir(settings),
            settings.get("FLICKR_LAYOUT", "albums"),
            crawler.stats,
            xmp=settings.getbool("FLICKR_XMP_ENABLED", True),
        )
        pipeline.crawler = crawler
        pipeline.favorites_layout = settings.get("FLICKR_FAVORITES_LAYOUT", "owner")
        pipeline.link_mode = settings.get("FLICKR_LINK_MODE", "hardlink")
        pipeline.xmp_naming = settings.get("FLICKR_XMP_SIDECAR_NAMING", "file.ext.xmp")
        return pipeline

    @property
    def report(self) -> RunReport:
        return RunReport.of(self.crawler)

    async def process_item(self, item: Any) -> Any:
        future, owner = self._submit(item)
        if future is not None:
            counts = await asyncio.wrap_future(future)
            if owner:  # a part that joined another item's write counts through that item
                for key, count in counts.items():
                    self.stats.inc_value(key, count)
        return item

    def _submit(self, item: Any) -> tuple[Future[dict[str, int]] | None, bool]:
        """(reactor) Queue what ``item`` needs written; the write's future, and whether it
        is this item's own (False: it joined a photo's write already waiting in line).

        The reactor only decides (which folders, which parts wait for their photo); reading,
        merging, encoding, writing and fsyncing happen on the writer thread, and downloads
        go on meanwhile. A photo's own sidecar goes before the parts waiting in line (its file
        is already in place: the sooner its record is too, the less a hard kill costs); a
        part is only queued once its photo's write is, so it still lands after it.
        """
        if isinstance(item, PhotoItem):
            folders = photo_dirs(item, self.layout, self.favorites_layout)
            self.folders[item.id] = folders
            queued = _Queued(self.pending.pop(item.id, []))
            write = functools.partial(self._write_photo, item, folders)
            return self._queue(item.id, queued, write, first=True), True
        if isinstance(item, CommentsItem | FavesItem | PhotoInfoItem):
            if item.photo_id not in self.folders:
                self.pending[item.photo_id].append(item)
                return None, False
            with self._lock:
                waiting = self.queued.get(item.photo_id)
                if waiting is not None and not waiting.started:
                    waiting.parts.append(item)
                    return waiting.future, False
            merge = functools.partial(self._merge_parts, item.photo_id,
                                      self.folders[item.photo_id])  # fmt: skip
            return self._queue(item.photo_id, _Queued([item]), merge, first=False), True
        if isinstance(item, AlbumItem) and item.folder:
            folder = item.folder  # resolved on the writer thread (system calls)
            album = lambda: self._write(inside(self.archive, folder) / ALBUM_SIDECAR, item, "album")  # noqa: E731
            return self._thread().submit(album), True
        if isinstance(item, GalleryItem):
            path = self.archive / GALLERIES_DIR / f"{safe_name(item.id, fallback='gallery')}.json"
            return self._thread().submit(lambda: self._write(path, item, "gallery")), True
        if isinstance(item, CollectionItem):
            name = f"{safe_name(item.id, fallback='collection')}.json"
            path = self.archive / COLLECTIONS_DIR / name
            return self._thread().submit(lambda: self._write(path, item, "collection")), True
        return None, False

    def _queue(
        self,
        photo_id: str,
        queued: _Queued,
        write: Callable[[list[PhotoPart]], dict[str, int]],
        *,
        first: bool,
    ) -> Future[dict[str, int]]:
        """Put a photo's write in line; the parts it takes are those joined by the time it
        starts."""

        def job() -> dict[str, int]:
            with self._lock:
                queued.started = True
                if self.queued.get(photo_id) is queued:
                    del self.queued[photo_id]
                parts = list(queued.parts)
            return write(parts)

        with self._lock:
            self.queued[photo_id] = queued
            queued.future = self._thread().submit(job, first=first)
        return queued.future

    def _thread(self) -> _Writer:
        if self._executor is None:
            self._executor = _Writer()
        return self._executor

    def close_spider(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        for photo_id, parts in self.pending.items():
            self.report.failure(
                "sidecar", photo_id, f"{len(parts)} metadata parts arrived without the photo; "
                "they are in catalog.db but not in a sidecar",
            )  # fmt: skip
            self.stats.inc_value("flickr/sidecar/orphan_parts", len(parts))

    # --- on the sidecar thread: each returns the counts to add to the stats -----------------
    def _write(self, path: Path, item: Any, kind: str) -> dict[str, int]:
        write_json_atomic(path, ItemAdapter(item).asdict())
        return {f"flickr/sidecar/{kind}_written": 1}

    def _write_photo(
        self, item: PhotoItem, folders: list[str], parts: list[PhotoPart]
    ) -> dict[str, int]:
        paths = self._paths(folders, item.id)
        adapter = ItemAdapter(item)
        record = {key: value for key, value in adapter.asdict().items()
                  if adapter.get_field_meta(key).get("recorded", True)}  # fmt: skip
        previous = _read_first(paths)
        _keep_served_exif(record, previous)
        for key in PART_KEYS:
            if key in previous:
                record[key] = previous[key]
        record["users"] = previous.get("users", {})
        record["raw"] = {**previous.get("raw", {}), **record["raw"]}
        for part in parts:  # arrived before the photo: folded in, still one write
            _apply_part(record, part)
        try:
            self._save(paths, record)
        except OSError as exc:
            if is_disk_full(exc):
                self._unplace(item)
            raise
        counts = {"flickr/sidecar/written": 1, "flickr/sidecar/merged": len(parts)}
        if self.xmp and item.file is not None and item.file.path:
            media = [inside(self.archive, m) for m in (item.file.path, *item.file.links)]
            first = write_xmp(media[0], item, self.xmp_naming)
            copies = [sidecar_path(m, self.xmp_naming) for m in media[1:]]
            self._spread(first, copies)
            for other in (p for m, copy in zip(media[1:], copies, strict=True)
                          for p in sidecar_paths(m) if p != copy):  # fmt: skip
                other.unlink(missing_ok=True)  # named as an earlier run's setting said
            counts["flickr/xmp/written"] = 1
        return counts

    def _unplace(self, item: PhotoItem) -> None:
        """The photo's record could not be written for lack of space: a file this run placed is
        taken out again rather than left where nothing vouches for it; the next run fetches
        it anew. A file from an earlier run keeps its earlier record and stays."""
        file = item.file
        if file is None or file.status != "downloaded" or not file.path:
            return
        for placed in (file.path, *file.links):
            inside(self.archive, placed).unlink(missing_ok=True)
        logger.warning(
            "Photo %(id)s: its sidecar could not be written, so %(path)s (downloaded this run) "
            "is taken out again; the next run downloads it", {"id": item.id, "path": file.path},
        )  # fmt: skip

    def _merge_parts(
        self, photo_id: str, folders: list[str], parts: list[PhotoPart]
    ) -> dict[str, int]:
        paths = self._paths(folders, photo_id)
        record = _read_first(paths)
        for part in parts:
            _apply_part(record, part)
        self._save(paths, record)
        return {"flickr/sidecar/merged": len(parts)}

    def _save(self, paths: list[Path], record: dict[str, Any]) -> None:
        """One atomic write into the first folder; the others get the same file."""
        write_json_atomic(paths[0], _ordered(record))
        self._spread(paths[0], paths[1:])

    def _spread(self, source: Path, copies: list[Path]) -> None:
        """Hard links (or copies, as ``FLICKR_LINK_MODE`` says) of a finished sidecar: one
        write per photo however many albums show it."""
        for target in copies:
            link_or_copy(source, target, mode=self.link_mode)

    def _paths(self, folders: list[str], photo_id: str) -> list[Path]:
        return [inside(self.archive, folder) / sidecar_name(photo_id) for folder in folders]


class _Writer:
    """One thread running jobs in order, photos' own sidecars before everything else."""

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any, Future[Any] | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name="flickr-sidecar", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], Any], *, first: bool = False) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((0 if first else 1, next(self._order), job, future))
        return future

    def shutdown(self) -> None:
        """Run what is queued, then stop."""
        self._queue.put((2, next(self._order), None, None))
        self._thread.join()

    def _run(self) -> None:
        while True:
            _, _, job, future = self._queue.get()
            if future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except Exception as exc:  # noqa: BLE001 - handed to the item that waits for it
                future.set_exception(exc)


def _apply_part(record: dict[str, Any], part: PhotoPart) -> None:
    """Merge one part (comments, faves, getInfo details) into a sidecar record, in place."""
    update = _part_fields(part)
    for key, id_key in (("comments", "id"), ("faves", "nsid")):
        if key in update:
            update[key] = _keep_removed(update[key], record.get(key, []), id_key)
    record.update(update)
    users = record.setdefault("users", {})
    for user in part.users:
        users[user.nsid] = {**users.get(user.nsid, {}), **_known(ItemAdapter(user).asdict())}
    record["raw"] = {**record.get("raw", {}), **part.raw}


def _keep_served_exif(record: dict[str, Any], previous: dict[str, Any]) -> None:
    """A file kept on catalog.db's word comes without the served file's EXIF segment, the
    count of segments embedded in its place and the format embedded (catalog.db holds none of
    them, and its sidecar was not read): the earlier record's stay while it describes the same
    bytes."""
    file, before = record.get("file"), previous.get("file")
    if not isinstance(file, dict) or not isinstance(before, dict):
        return
    same = file.get("status") == "uptodate" and file.get("sha256") == before.get("sha256")
    if not same:
        return
    for key in ("original_exif", "embedded_segments", "embed_format"):
        if file.get(key) is None:
            file[key] = before.get(key)


def _part_fields(part: PhotoPart) -> dict[str, Any]:
    data = ItemAdapter(part).asdict()
    if isinstance(part, CommentsItem):
        return {"comments": data["comments"]}
    if isinstance(part, FavesItem):
        return {"faves": data["faves"], "faves_total": data["total"]}
    return {
        "notes": data["notes"],
        "people": data["people"],
        "tag_details": data["tags"],
        "location": data["location"],
    }


def _keep_removed(
    current: list[dict[str, Any]], previous: list[dict[str, Any]], id_key: str
) -> list[dict[str, Any]]:
    """Flickr's list now, plus what it no longer returns, flagged: a deleted comment from
    someone who is gone is exactly what a backup is for."""
    seen = {entry[id_key] for entry in current}
    kept = [{**entry, "deleted_on_flickr": True} for entry in previous
            if isinstance(entry, dict) and entry.get(id_key) not in seen]  # fmt: skip
    return [*current, *kept]


def _ordered(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its keys in one fixed order (the photo's fields, the parts, users,
    raw payloads), so the same metadata gives the same bytes whatever order its parts (and
    their retries) arrived in."""
    first = [f.name for f in dataclasses.fields(PhotoItem) if f.name != "raw"]
    order = [*first, *PART_KEYS, "users", "raw"]
    out = {key: record[key] for key in order if key in record}
    out.update({key: record[key] for key in sorted(record) if key not in out})
    for key in ("users", "raw"):
        if isinstance(out.get(key), dict):
            out[key] = dict(sorted(out[key].items()))
    return out


def _known(values: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values, so a sparse payload never blanks out a name known from a richer one."""
    return {k: v for k, v in values.items() if v not in ("", None)}


def _read_first(paths: list[Path]) -> dict[str, Any]:
    """The sidecar as the first folder holding one has it (all folders share one file)."""
    for path in paths:
        record = _read(path)
        if record:
            return record
    return {}


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning(
            "Sidecar %(path)s unreadable (%(err)s); rewriting it", {"path": str(path), "err": exc}
        )
        return {}
    return data if isinstance(data, dict) else {}
