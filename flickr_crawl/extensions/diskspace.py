"""Stops the run, with one clear line, when the archive's disk is (nearly) full.

Without this a full disk turns into hundreds of failures, one per photo, each retried, while
sidecars and the catalog fail to save. Instead the run stops at the first sign: free space
under ``FLICKR_DISK_RESERVE_MB`` (checked as files arrive), or any write that fails with
ENOSPC/EDQUOT (a media body, a sidecar, the catalog). Every file is written to a temp name and
renamed when complete, and SQLite rolls back what it could not write, so what is on disk stays
trustworthy; running the same command after freeing space completes the backup.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import _schedule_coro

from flickr_crawl.archive.paths import archive_dir
from flickr_crawl.extensions.report import RunReport

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Self

    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

DISK_FULL = object()  # signal: a write failed for lack of space (args: path, error)
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
CHECK_EVERY = 1.0  # seconds between free-space checks
REASON = "disk_full"


class DiskFull(Exception):
    """A download that could not be written for lack of space.

    Not an OSError, so Scrapy's RetryMiddleware does not try it again; the OSError is its
    ``__cause__``.
    """


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether an exception (or one it was raised from) means the disk is full."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system holding ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class _DiskFullNoTraceback(logging.Filter):
    """Scrapy logs every failed item (and failed signal handler) with its traceback and the
    item's whole repr; for a full disk the guard's one line says it all, so those records
    shrink to one line too."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if is_disk_full(exc):
            record.msg, record.args = "Not saved: %(err)s", {"err": str(exc)}
            record.exc_info = record.exc_text = None
        return True


_SHORTEN = _DiskFullNoTraceback()


class DiskSpaceGuard:
    """Extension that closes the spider with a fatal message when the disk fills up."""

    def __init__(self, crawler: Crawler, archive: Path, reserve: int):
        self.crawler = crawler
        self.archive = archive
        self.reserve = reserve
        self._next_check = 0.0
        self.tripped = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("FLICKR_DISK_GUARD_ENABLED", True):
            raise NotConfigured("FLICKR_DISK_GUARD_ENABLED is off")
        archive = archive_dir(settings)
        reserve = max(settings.getint("FLICKR_DISK_RESERVE_MB", 64), 0) << 20
        guard = cls(crawler, archive, reserve)
        crawler.signals.connect(guard.check, signal=signals.response_downloaded)
        crawler.signals.connect(guard.check, signal=signals.item_scraped)
        crawler.signals.connect(guard.item_error, signal=signals.item_error)
        crawler.signals.connect(guard.item_error, signal=signals.spider_error)
        crawler.signals.connect(guard.disk_full, signal=DISK_FULL)
        crawler.signals.connect(guard.spider_opened, signal=signals.spider_opened)
        return guard

    def spider_opened(self, **kwargs: Any) -> None:
        # Scrapy's log handler is final only now (the crawler re-creates it with its settings).
        for handler in logging.getLogger().handlers:
            handler.addFilter(_SHORTEN)

    def check(self, **kwargs: Any) -> None:
        """Compare free space with the reserve, at most once per CHECK_EVERY seconds."""
        now = time.monotonic()
        if self.tripped or now < self._next_check or not self.archive.is_dir():
            return
        self._next_check = now + CHECK_EVERY
        free = free_bytes(self.archive)
        if free < self.reserve:
            self.stop(
                f"only {free >> 20} MB free on the disk of {self.archive} (the reserve is "
                f"{self.reserve >> 20} MB, FLICKR_DISK_RESERVE_MB)"
            )

    def item_error(self, failure: Failure, **kwargs: Any) -> None:
        if is_disk_full(failure.value):
            self.stop(f"cannot write into {self.archive}: {failure.value}")

    def disk_full(self, path: str, error: OSError, **kwargs: Any) -> None:
        self.stop(f"cannot write {path}: {error.strerror or error}")

    def stop(self, why: str) -> None:
        """Record the fatal reason once and close the spider."""
        if self.tripped:
            return
        self.tripped = True
        self.crawler.stats.set_value("flickr/disk_full", 1)  # type: ignore[union-attr]
        RunReport.of(self.crawler).fatal(
            f"disk full: {why}; the run stopped (complete files are kept). Free some space "
            "and run the same command again"
        )
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            _schedule_coro(engine.close_spider_async(reason=REASON))
