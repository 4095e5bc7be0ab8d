"""Retires album folders that no longer match Flickr, once the crawl has moved their photos.

A renamed album's photos move to its new folder, a deleted album's to the folders they are
still in (or ``Unsorted``) while the crawl runs (see ``flickr_crawl.archive.refile``). What is
left in the old folder at the end is its ``album.json``: for a renamed album the new folder has a
fresh one, so the old goes; a deleted album's record is kept under ``Deleted on Flickr/``. A
folder that still holds anything else (a move that failed, files of the user's own) stays.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from flickr_crawl.archive.paths import ALBUM_SIDECAR, archive_dir, inside, safe_name
from flickr_crawl.archive.storage import write_json_atomic
from flickr_crawl.items import OldAlbumFolderItem

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

DELETED_DIR = "Deleted on Flickr"


class LayoutPipeline:
    def __init__(self, archive: Path, stats: StatsCollector):
        self.archive = archive
        self.stats = stats
        self.old: list[OldAlbumFolderItem] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(archive_dir(crawler.settings), crawler.stats)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, OldAlbumFolderItem) and item.folder:
            self.old.append(item)
        return item

    def close_spider(self) -> None:
        for item in self.old:
            try:
                self._retire(item)
            except (OSError, ValueError) as exc:
                logger.warning(
                    "Album folder %(dir)s not retired: %(err)s", {"dir": item.folder, "err": exc}
                )

    def _retire(self, item: OldAlbumFolderItem) -> None:
        folder = inside(self.archive, item.folder)
        record = folder / ALBUM_SIDECAR
        if not folder.is_dir() or _album_id(record) not in (item.id, None):
            return  # gone already, or another album has the folder now
        if record.is_file():
            if item.deleted:
                kept = self.archive / DELETED_DIR / "Albums" / f"{safe_name(folder.name)}.json"
                write_json_atomic(kept, json.loads(record.read_text(encoding="utf-8")))
            record.unlink()
        try:
            folder.rmdir()
        except OSError:
            logger.warning(
                "Album folder %(dir)s is no longer on Flickr but still holds files; left as is",
                {"dir": item.folder},
            )
            return
        self.stats.inc_value("flickr/album/folder_retired")
        logger.info("Album folder %(dir)s retired", {"dir": item.folder})


def _album_id(record: Path) -> str | None:
    try:
        return str(json.loads(record.read_text(encoding="utf-8")).get("id"))
    except (OSError, ValueError, AttributeError):
        return None
