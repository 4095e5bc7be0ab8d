"""Temporary files a killed run left in the archive are removed by the next run.

Every file is written as a hidden temporary (``.<name>.<random>.tmp``, ``.<id>.<random>.part``)
and renamed into place, so a SIGKILL or power cut never leaves a file that looks complete; it
can leave the hidden temporary. A crawl holds an exclusive lock on ``.flickr-crawl.lock`` in
the archive while it runs and writes "running" into it; a crawl that takes the lock and finds
"running" knows the last run died, and sweeps the hidden temporaries away. A crawl that cannot
take the lock (another is running on the same archive) leaves everything alone.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals

from flickr_crawl.archive.paths import archive_dir
from flickr_crawl.archive.storage import PART_SUFFIX

if TYPE_CHECKING:
    from typing import IO, Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

LOCK_NAME = ".flickr-crawl.lock"
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

    def __init__(self, archive: Path):
        self.archive = archive
        self.lock: IO[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        guard = cls(archive_dir(crawler.settings))
        crawler.signals.connect(guard.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(guard.spider_closed, signal=signals.spider_closed)
        return guard

    def spider_opened(self) -> None:
        self.archive.mkdir(parents=True, exist_ok=True)
        handle = (self.archive / LOCK_NAME).open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            logger.warning("Another crawl is writing to %(dir)s", {"dir": str(self.archive)})
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
            self.lock.close()  # releases the lock
            self.lock = None

    def _mark(self, text: str) -> None:
        assert self.lock is not None
        self.lock.seek(0)
        self.lock.truncate()
        self.lock.write(text)
        self.lock.flush()
        os.fsync(self.lock.fileno())
