"""Safe resume: a JOBDIR left behind by a hard kill is set aside instead of trusted.

Scrapy writes its JOBDIR queue as it goes and closes it properly only on a clean stop; after
SIGKILL or a power cut the queue can be half-written, and the next run then loses requests
and "finishes" as if complete (see scrapy-notes.md). A marker file exists in the JOBDIR while
a crawl runs and is removed when it closes in an orderly way (finished, Ctrl-C once, errors
alike). If the marker is there when a crawl starts, the folder is moved aside and the crawl
starts from its listing: every file already complete is kept (the media pipeline skips
verified files), so only the listing and the metadata calls are spent again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

MARKER = "flickr-crawl.running"


def recover_unclean(jobdir: Path) -> Path | None:
    """Before a crawl: set aside a JOBDIR whose last run did not close. Where it went, or None."""
    if not (jobdir / MARKER).exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = jobdir.with_name(f"{jobdir.name}.unclean-{stamp}")
    n = 1
    while aside.exists():  # killed twice within a second: keep both, never merge into one
        n += 1
        aside = jobdir.with_name(f"{jobdir.name}.unclean-{stamp}-{n}")
    jobdir.rename(aside)
    return aside


class JobDirGuard:
    """Extension: keeps the marker in JOBDIR while the crawl runs."""

    def __init__(self, jobdir: Path):
        self.marker = jobdir / MARKER

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        jobdir = crawler.settings.get("JOBDIR")
        if not jobdir:
            raise NotConfigured  # no message: Scrapy would warn on every run without JOBDIR
        guard = cls(Path(jobdir))
        crawler.signals.connect(guard.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(guard.spider_closed, signal=signals.spider_closed)
        return guard

    def spider_opened(self) -> None:
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self.marker.write_text(f"{datetime.now(UTC).isoformat()}\n", encoding="utf-8")

    def spider_closed(self) -> None:
        # Scrapy saves its queue and spider state on this orderly close (before or after us,
        # in the same close); only a process that dies never gets here.
        self.marker.unlink(missing_ok=True)
