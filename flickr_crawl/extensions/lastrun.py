"""What the last run left (``flickr_crawl.catalog.lastrun``), read once per crawl and shared.

The spider (what is unchanged, the watermarks, the albums as stored) and the pipelines (where
each file and still is) ask ``last_run(crawler)``; the first to ask reads catalog.db, the rest
get the same object. The first ask comes before anything is written: the spider's
``from_crawler``, or the pipelines' ``open_spider`` (the catalog pipeline asks before it opens
the catalog for writing). Not an extension: the spider is made before Scrapy makes those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from flickr_crawl.archive.paths import CATALOG_NAME, archive_dir
from flickr_crawl.catalog.lastrun import LastRun, read_last_run

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_READ: WeakKeyDictionary[Crawler, LastRun] = WeakKeyDictionary()


def last_run(crawler: Crawler) -> LastRun:
    """The catalog of ``FLICKR_ARCHIVE_DIR`` as this crawl found it (read at the first call)."""
    if crawler not in _READ:
        archive = archive_dir(crawler.settings)
        _READ[crawler] = read_last_run(archive / CATALOG_NAME)
    return _READ[crawler]
