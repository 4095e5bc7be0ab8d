"""Writes the JSON sidecar of every photo (``<id>.json`` in each of its folders) and album.

The sidecar is the normalised item plus the raw API payloads it came from, written atomically.
It is written whatever happened to the media file, so captions and dates are never lost.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter

from flickr_crawl.items import AlbumItem, PhotoItem
from flickr_crawl.paths import inside, photo_dirs, sidecar_name
from flickr_crawl.storage import write_json_atomic

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

ALBUM_SIDECAR = "album.json"


class SidecarPipeline:
    def __init__(self, archive: Path, layout: str, stats: StatsCollector):
        self.archive = archive
        self.layout = layout
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        assert crawler.stats is not None
        return cls(
            Path(settings.get("FLICKR_ARCHIVE_DIR", "archive")),
            settings.get("FLICKR_LAYOUT", "albums"),
            crawler.stats,
        )

    def process_item(self, item: Any) -> Any:
        if isinstance(item, PhotoItem):
            record = ItemAdapter(item).asdict()
            for folder in photo_dirs(item, self.layout):
                write_json_atomic(inside(self.archive, folder) / sidecar_name(item.id), record)
                self.stats.inc_value("flickr/sidecar/written")
        elif isinstance(item, AlbumItem) and item.folder:
            write_json_atomic(
                inside(self.archive, item.folder) / ALBUM_SIDECAR, ItemAdapter(item).asdict()
            )
            self.stats.inc_value("flickr/sidecar/album_written")
        return item
