"""Stores every item in ``<archive>/catalog.db`` and records the run (start, end, counts).

Only wiring: the SQL lives in ``flickr_crawl.catalog``. Each item is saved in its own
transaction, so a crash loses at most the items in flight (a run after a crash lists again and
saves them). The connection lives on a thread of its own, where every save happens in the
order items arrive: SQLite lets go of the GIL while it works, so the catalog no longer costs
the reactor (which drives the downloads) its time. Place this pipeline after the media
pipeline (it records ``item.file``) and after the sidecars (a catalog error must not cost a
sidecar).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from flickr_crawl.archive.paths import CATALOG_NAME, archive_dir
from flickr_crawl.catalog.db import close_catalog, open_catalog
from flickr_crawl.catalog.runs import (
    ACTIVITY_LAST_CALL,
    ACTIVITY_WATERMARK,
    EMBED_FORMAT_STATE,
    FAVORITES_EMBED_FORMAT_STATE,
    FAVORITES_WATERMARK,
    RUNS_SINCE_SWEEP,
    WATERMARK,
    finish_run,
    info_owed_count,
    mark_deleted_album,
    mark_deleted_photos,
    mark_gone_favorites,
    set_state,
    start_run,
)
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
from flickr_crawl.extensions.lastrun import last_run
from flickr_crawl.extensions.report import RunReport
from flickr_crawl.items import (
    ActivityPolledItem,
    AlbumItem,
    CollectionItem,
    CommentsItem,
    FavesItem,
    FavoriteItem,
    FavoritesListedItem,
    GalleryItem,
    InfoOwedItem,
    OldAlbumFolderItem,
    PhotoInfoItem,
    PhotoItem,
    PhotostreamListedItem,
)
from flickr_crawl.metadata.exif import EMBED_FORMAT

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Callable
    from pathlib import Path
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# Item class -> the function that stores it.
SAVERS: dict[type, Callable[[sqlite3.Connection, Any], Counter[str]]] = {
    PhotoItem: save_photo,
    PhotoInfoItem: save_photo_info,
    CommentsItem: save_comments,
    FavesItem: save_faves,
    AlbumItem: save_album,
    GalleryItem: save_gallery,
    CollectionItem: save_collection,
    FavoriteItem: save_favorite,
    InfoOwedItem: save_info_owed,
}

# runs columns <- the stats keys other components count under.
RUN_COUNT_STATS = {
    "photos_listed": "flickr/photo/listed",
    "files_downloaded": "flickr/file/downloaded",
    "failed": "flickr/failed",
    "videos_missing": "flickr/video/missing",
}
API_CALLS_STAT = "flickr/api/calls"
# photos whose getInfo an incremental run skipped, asked at the next sweep (the run summary)
INFO_OWED_STAT = "flickr/deep/owed"


class CatalogPipeline:
    """Save items into the catalog; one ``runs`` row per crawl."""

    def __init__(self, path: Path, spider_name: str, stats: StatsCollector):
        self.path = path
        self.spider_name = spider_name
        self.stats = stats
        self.db: sqlite3.Connection | None = None  # used on the catalog thread only
        self.run_id: int | None = None
        self.pending_state: dict[str, str] = {}  # sync_state written on a clean finish
        self.exif = True  # FLICKR_EXIF_ENABLED: the media step embeds (and upgrades) files
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flickr-catalog")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("FLICKR_CATALOG_ENABLED", True):
            raise NotConfigured("FLICKR_CATALOG_ENABLED is off")
        assert crawler.stats is not None
        archive = archive_dir(settings)
        pipeline = cls(archive / CATALOG_NAME, crawler.spidercls.name, crawler.stats)
        pipeline.crawler = crawler
        pipeline.exif = settings.getbool("FLICKR_EXIF_ENABLED", True)
        # The close reason reaches stats ("finish_reason") only in spider_closed, which Scrapy
        # sends after the pipelines' close_spider: so the run is finished there.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def _on_thread(self, job: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        """Run ``job(db)`` on the catalog thread, after everything submitted before it."""
        assert self.db is not None
        db = self.db
        return asyncio.wrap_future(self._thread.submit(job, db))

    def open_spider(self) -> None:
        last_run(self.crawler)  # what the last run left is read before this run writes

        def start() -> tuple[sqlite3.Connection, int]:
            db = open_catalog(self.path)
            return db, start_run(db, self.spider_name)

        self.db, self.run_id = self._thread.submit(start).result()
        logger.info("Catalog: %(path)s, run %(run)s", {"path": str(self.path), "run": self.run_id})

    async def process_item(self, item: Any) -> Any:
        if self.db is None:
            return item
        if isinstance(item, FavoritesListedItem):
            await self._favorites_listed(item)
            return item
        if isinstance(item, PhotostreamListedItem):
            await self._photostream_listed(item)
            return item
        if isinstance(item, ActivityPolledItem):  # recorded at once: a call is a call
            await self._on_thread(lambda db: set_state(db, ACTIVITY_LAST_CALL, str(item.at)))
            return item
        if isinstance(item, OldAlbumFolderItem) and item.deleted:
            if await self._on_thread(lambda db: mark_deleted_album(db, item.id)):
                self.stats.inc_value("flickr/album/deleted_on_flickr")
                logger.warning(
                    "Album %(id)s (%(title)s) is gone from Flickr; marked in catalog.db",
                    {"id": item.id, "title": item.title},
                )  # fmt: skip
            return item
        save = next((f for cls, f in SAVERS.items() if isinstance(item, cls)), None)
        if save is None:
            return item
        counts: Counter[str] = await self._on_thread(lambda db: save(db, item))
        for table, count in counts.items():
            self.stats.inc_value(f"flickr/catalog/upsert/{table}", count)
        return item

    async def _favorites_listed(self, item: FavoritesListedItem) -> None:
        """Flag faves gone from Flickr (full listings only); keep the watermark for the end."""
        if item.complete and item.full:
            gone = await self._on_thread(lambda db: mark_gone_favorites(db, item.photo_ids))
            self.stats.set_value("flickr/favorites/gone", len(gone))
            for photo_id in gone:
                logger.warning(
                    "Favorite %(id)s is gone from Flickr (un-faved, or deleted by its owner); "
                    "kept in the archive, marked in catalog.db", {"id": photo_id},
                )  # fmt: skip
        if item.complete and self.exif:  # every fave's file went through the media step
            self.pending_state[FAVORITES_EMBED_FORMAT_STATE] = str(EMBED_FORMAT)
        if item.complete and item.watermark:
            self.pending_state[FAVORITES_WATERMARK] = str(item.watermark)

    async def _photostream_listed(self, item: PhotostreamListedItem) -> None:
        """Flag photos gone from Flickr (complete sweeps only); keep the watermark for the end."""
        if item.complete and item.sweep:
            gone = await self._on_thread(
                lambda db: mark_deleted_photos(db, item.owner, item.photo_ids)
            )
            if gone:
                RunReport.of(self.crawler).deleted_on_flickr(gone)
        if item.complete and self.exif:  # every file went through the media step's upgrade
            self.pending_state[EMBED_FORMAT_STATE] = str(EMBED_FORMAT)
        if item.complete and item.watermark:
            self.pending_state[WATERMARK] = str(item.watermark)
            self.pending_state[RUNS_SINCE_SWEEP] = str(item.runs_since_sweep)
            if item.activity_watermark:
                self.pending_state[ACTIVITY_WATERMARK] = str(item.activity_watermark)

    async def close_spider(self) -> None:
        """(every item is saved) How many photos still owe a getInfo: the run summary says so
        (pipelines close before the report reads the stats)."""
        if self.db is None:
            return
        try:
            owed: int = await self._on_thread(info_owed_count)
        except sqlite3.Error as exc:  # the run is recorded all the same (spider_closed)
            logger.warning("Catalog: photos owing a getInfo not counted: %(err)s", {"err": exc})
            return
        self.stats.set_value(INFO_OWED_STAT, owed)
        if owed:
            logger.info(
                "Catalog: photos.getInfo owed for %(n)s photos (new comments alone changed "
                "them); asked at the next sweep (FLICKR_SWEEP_EVERY) or with -a full=1",
                {"n": owed},
            )

    def spider_closed(self, reason: str) -> None:
        """(every item is saved by now) Record the run; blocks the reactor for that moment."""
        if self.db is None:
            return
        get = self.stats.get_value
        # A watermark moves only when the whole run finished with nothing failed: the next
        # run must not skip what this one missed.
        state = (
            self.pending_state
            if reason == "finished"
            and not get("flickr/failed", 0)
            and not get("flickr/video/missing", 0)
            else {}
        )
        counts = {name: int(get(key, 0)) for name, key in RUN_COUNT_STATS.items()}
        api_calls, run_id, db = int(get(API_CALLS_STAT, 0)), self.run_id, self.db

        def finish() -> None:
            try:
                for key, value in state.items():
                    set_state(db, key, value)
                if run_id is not None:
                    finish_run(db, run_id, reason=reason, counts=counts, api_calls=api_calls)
            finally:
                close_catalog(db)

        self.db = None
        try:
            self._thread.submit(finish).result()
        finally:
            self._thread.shutdown()
        if run_id is not None:
            logger.info("Catalog: run %(run)s finished (%(reason)s)",
                        {"run": run_id, "reason": reason})  # fmt: skip
