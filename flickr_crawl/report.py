"""The run report: what failed, which videos are missing, and the summary at the end.

Spiders and pipelines record failures here instead of only logging them, so the end of a run
can list every id that needs attention, write the list into the archive (``logs/``), and the
crawl command can turn it into an exit code (0 all done, 2 some items failed, 1 could not run).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals

from flickr_crawl.paths import LOGS_DIR
from flickr_crawl.storage import write_json_atomic

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)


@dataclass
class Problem:
    kind: str  # the API method or "download"
    subject: str  # photo id, or the call's photo_id/page
    reason: str


class RunReport:
    """Extension collecting failures and missing videos; writes the summary on close."""

    def __init__(self, stats: StatsCollector, archive: Path):
        self._stats = stats
        self.archive = archive
        self.failures: list[Problem] = []
        self.missing_videos: list[Problem] = []
        self.fatal_error: str | None = None
        self.deleted: list[str] = []  # photos gone from Flickr (kept here, marked in the catalog)
        self.started = datetime.now(UTC)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        ext = cls(crawler.stats, Path(crawler.settings.get("FLICKR_ARCHIVE_DIR", "archive")))
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def item_error(self, item: Any, failure: Failure, **kwargs: Any) -> None:
        """A pipeline raised: the item did not reach the later pipelines."""
        subject = getattr(item, "id", None) or getattr(item, "photo_id", None) or "?"
        self.failure("pipeline", str(subject), f"{failure.type.__name__}: {failure.value}")  # type: ignore[union-attr]

    def spider_error(self, failure: Failure, response: Any, **kwargs: Any) -> None:
        """A callback raised: whatever it would have listed next is unknown."""
        url = getattr(response, "url", "?")
        self.failure("spider", url, f"{failure.type.__name__}: {failure.value}")  # type: ignore[union-attr]

    @classmethod
    def of(cls, crawler: Crawler) -> RunReport:
        """The running crawl's report, for the spider and pipelines to record into."""
        report = crawler.get_extension(cls)
        assert report is not None, "RunReport must be in EXTENSIONS"
        return report

    def failure(self, kind: str, subject: str, reason: str) -> None:
        logger.error(
            "Failed (%(kind)s) %(subject)s: %(reason)s",
            {"kind": kind, "subject": subject, "reason": reason},
        )
        self.failures.append(Problem(kind, subject, reason))
        self._stats.inc_value("flickr/failed")

    def missing_video(self, photo_id: str, reason: str) -> None:
        """Record a video whose original could not be saved; the reason is logged once."""
        if all(p.reason != reason for p in self.missing_videos):
            logger.warning("Video originals missing: %(reason)s", {"reason": reason})
        logger.debug("Video %(id)s missing: %(reason)s", {"id": photo_id, "reason": reason})
        self.missing_videos.append(Problem("video", photo_id, reason))
        self._stats.inc_value("flickr/video/missing")

    def deleted_on_flickr(self, photo_ids: list[str]) -> None:
        """Photos a complete listing no longer has: kept in the archive, listed at the end."""
        self.deleted.extend(photo_ids)
        self._stats.inc_value("flickr/photo/deleted_on_flickr", len(photo_ids))

    def fatal(self, message: str) -> None:
        """A reason the run cannot go on (credentials); printed once by the crawl command."""
        if self.fatal_error is None:
            logger.error("%(message)s", {"message": message})
            self.fatal_error = message

    def summary(self, reason: str) -> dict[str, Any]:
        get = self._stats.get_value
        return {
            "started": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finish_reason": reason,
            "photos_listed": get("flickr/photo/listed", 0),
            "photos_new": get("flickr/photo/new", 0),
            "photos_updated": get("flickr/photo/updated", 0),
            "photos_unchanged": get("flickr/photo/unchanged", 0),
            "photos_deleted_on_flickr": list(self.deleted),
            "photos_refiled": get("flickr/photo/refiled", 0),
            "listing": get("flickr/listing/mode"),
            "files_downloaded": get("flickr/file/downloaded", 0),
            "files_uptodate": get("flickr/file/uptodate", 0),
            "bytes_downloaded": get("flickr/bytes/downloaded", 0),
            "api_calls": get("flickr/api/calls", 0),
            "failed": [asdict(p) for p in self.failures],
            "missing_videos": [asdict(p) for p in self.missing_videos],
            "missing_video_reasons": dict(Counter(p.reason for p in self.missing_videos)),
            "fatal_error": self.fatal_error,
        }

    def spider_closed(self, spider: Spider, reason: str) -> None:
        summary = self.summary(reason)
        logger.info(
            "Run summary: %(listed)s photos listed (%(pnew)s new, %(pupd)s updated, %(punch)s "
            "unchanged, %(deleted)s deleted on Flickr), %(new)s files downloaded, %(same)s up "
            "to date, %(failed)s failed, %(missing)s videos missing, %(calls)s API calls",
            {
                "listed": summary["photos_listed"],
                "pnew": summary["photos_new"],
                "pupd": summary["photos_updated"],
                "punch": summary["photos_unchanged"],
                "deleted": len(self.deleted),
                "new": summary["files_downloaded"],
                "same": summary["files_uptodate"],
                "failed": len(self.failures),
                "missing": len(self.missing_videos),
                "calls": summary["api_calls"],
            },
        )
        for reason_text, count in summary["missing_video_reasons"].items():
            logger.warning("%(n)s videos missing: %(why)s", {"n": count, "why": reason_text})
        if self.deleted:
            logger.warning(
                "Deleted on Flickr (kept in the archive, marked in catalog.db): %(ids)s",
                {"ids": ", ".join(self.deleted)},
            )
        for problem in self.failures:
            logger.error(
                "Failed: %(subject)s (%(kind)s): %(reason)s",
                {"subject": problem.subject, "kind": problem.kind, "reason": problem.reason},
            )
        if self.archive.is_dir():
            stem = f"{self.started.strftime('%Y%m%dT%H%M%SZ')}-{spider.name}"
            path = self.archive / LOGS_DIR / f"{stem}.json"
            n = 1
            while path.exists():  # two runs in one second keep both logs
                n += 1
                path = path.with_name(f"{stem}-{n}.json")
            self.log_path = write_json_atomic(path, summary)
            logger.info("Run log written to %(path)s", {"path": str(self.log_path)})
