"""Temporary files a killed run left in the archive are removed by the next run.

Every file is written as a hidden temporary (``.<name>.<random>.tmp``, ``.<id>.<random>.part``)
and renamed into place, so a SIGKILL or power cut never leaves a file that looks complete; it
can leave the hidden temporary. A crawl holds an exclusive lock on ``.flickr-crawl.lock`` in
the archive while it runs (``flickr_crawl.archive.lock``) and writes "running" into it; a crawl
that takes the lock and finds "running" knows the last run died, and sweeps the hidden
temporaries away. A crawl that cannot take the lock (another is running on the same archive)
stops before it writes anything (the crawl command refuses it even earlier, at start).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.utils.defer import _schedule_coro

from flickr_crawl.archive.lock import LOCK_NAME, ArchiveBusy, hold, release
from flickr_crawl.archive.paths import archive_dir
from flickr_crawl.archive.storage import PART_SUFFIX
from flickr_crawl.extensions.report import RunReport

if TYPE_CHECKING:
    from typing import IO, Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

__all__ = ["LOCK_NAME", "ArchiveGuard", "leftovers"]

REASON = "archive_busy"
RUNNING = "running\n"


SITE_DIR = "site"  # `scrapy site` owns it and may be writing there right now


def leftovers(archive: Path) -> list[Path]:
    """The crawl's hidden temporaries anywhere in the archive (not in the site folder)."""
    found = []
    for folder, dirs, files in os.walk(archive):
        if Path(folder) == archive and SITE_DIR in dirs:
            dirs.remove(SITE_DIR)
        for name in files:
            if name.startswith(".") and name.endswith((".tmp", PART_SUFFIX)):
                found.append(Path(folder) / name)
    return found


class ArchiveGuard:
    """Extension: the archive lock, and the sweep after an unclean end."""

    def __init__(self, archive: Path, crawler: Crawler | None = None):
        self.archive = archive
        self.crawler = crawler
        self.lock: IO[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        guard = cls(archive_dir(crawler.settings), crawler)
        crawler.signals.connect(guard.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(guard.spider_closed, signal=signals.spider_closed)
        return guard

    def spider_opened(self) -> None:
        try:
            handle = hold(self.archive)  # the crawl command took it at start; else now
        except ArchiveBusy as exc:
            self._refuse(str(exc))
            return
        self.lock = handle
        handle.seek(0)
        if handle.read() == RUNNING:
            removed = leftovers(self.archive)
            for path in removed:
                path.unlink(missing_ok=True)
            logger.info(
                "The last run on this archive did not end cleanly: %(n)s temporary files "
                "removed", {"n": len(removed)},
            )  # fmt: skip
        self._mark(RUNNING)

    def spider_closed(self) -> None:
        if self.lock is not None:
            self._mark("")
            release(self.archive)
            self.lock = None

    def _refuse(self, why: str) -> None:
        """Another process writes this archive (a crawl not started by our crawl command):
        stop this one before any item is written."""
        if self.crawler is None:
            logger.error("%(why)s", {"why": why})
            return
        RunReport.of(self.crawler).fatal(why)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            _schedule_coro(engine.close_spider_async(reason=REASON))

    def _mark(self, text: str) -> None:
        assert self.lock is not None
        self.lock.seek(0)
        self.lock.truncate()
        self.lock.write(text)
        self.lock.flush()
        os.fsync(self.lock.fileno())
