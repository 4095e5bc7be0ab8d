"""The run report: what failed, which videos are missing, and the summary at the end.

Spiders and pipelines record failures here instead of only logging them, so the end of a run
can list every id that needs attention, write the list into the archive (``logs/``), decide
the run's outcome (``outcome``: a status and the exit code the crawl command returns) and print
the summary as the console's last lines (``summary_lines``).

For schedulers and monitors (scrapyd marks every job "finished", whatever its exit code), the
outcome is in three places a machine reads: the ``status`` and ``exit_code`` fields of the JSON
summary in ``logs/``, one ``Run result: {json}`` line at the end of the log (a scrapyd job's
log too), and the ``flickr/exit_code`` stat (spidermon-style monitors read the stats).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals

from flickr_crawl.archive.paths import LOGS_DIR, archive_dir
from flickr_crawl.archive.storage import write_json_atomic
from flickr_crawl.extensions.runlog import run_log, run_log_path
from flickr_crawl.flickr.estimate import human_bytes, human_duration
from flickr_crawl.items import PhotoItem

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

SAVED = ("downloaded", "uptodate")  # file statuses of a photo or video that is in the archive
LISTED_FAILURES = 10  # failures the console summary names; all are in the JSON summary
RESULT_PREFIX = "Run result: "  # the log line a monitor greps, then reads as JSON

# The run's outcome: status -> the crawl command's exit code.
EXIT_CODES = {"ok": 0, "cannot_run": 1, "incomplete": 2, "interrupted": 130}


def outcome(reason: str, *, fatal: bool, failed: int, missing_videos: int) -> str:
    """``ok`` (all saved), ``incomplete`` (finished; some items failed or videos missing),
    ``interrupted`` (stopped early: run it again), ``cannot_run`` (credentials, disk, lock)."""
    if fatal:
        return "cannot_run"
    if reason != "finished":
        return "interrupted"
    return "incomplete" if failed or missing_videos else "ok"


def result_line(result: dict[str, Any]) -> str:
    """The one ``Run result: {...}`` log line (compact JSON, keys in a fixed order)."""
    return RESULT_PREFIX + json.dumps(result, separators=(",", ":"))


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 photo', '2 photos', '0 videos'."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


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
        # photo | video -> file status -> count, of the photos and videos this run went through
        self.files: dict[str, Counter[str]] = {"photo": Counter(), "video": Counter()}
        self.json_path: Path | None = None
        self.log_path: Path | None = None
        self.final: dict[str, Any] | None = None  # the summary, as the spider closed
        self.exit_code: int | None = None  # EXIT_CODES of the outcome, once closed

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        ext = cls(crawler.stats, archive_dir(crawler.settings))
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        return ext

    def item_scraped(self, item: Any, **kwargs: Any) -> None:
        """Count each photo and video by what happened to its file."""
        if isinstance(item, PhotoItem):
            status = item.file.status if item.file is not None else "none"
            self.files.setdefault(item.media, Counter())[status] += 1

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
            "sweep_reason": get("flickr/listing/sweep_reason"),
            # flickr.activity.userPhotos: the timeframe asked (None: not asked this run) and
            # how many photos it named
            "activity": {
                "timeframe": get("flickr/activity/timeframe"),
                "photos": get("flickr/activity/photos", 0),
            },
            # photos whose getInfo an incremental run skipped (new comments alone changed
            # them), still owed when this run ended: the next sweep asks it
            "info_owed": get("flickr/deep/owed", 0),
            "files_downloaded": get("flickr/file/downloaded", 0),
            "files_uptodate": get("flickr/file/uptodate", 0),
            "bytes_downloaded": get("flickr/bytes/downloaded", 0),
            "files_from_export": get("flickr/file/from_export", 0),
            "bytes_from_export": get("flickr/bytes/from_export", 0),
            # files kept, given what this version embeds that an earlier one did not
            "files_upgraded": get("flickr/exif/upgraded", 0),
            "api_calls": get("flickr/api/calls", 0),
            "files": {media: dict(counts) for media, counts in self.files.items()},
            "failed": [asdict(p) for p in self.failures],
            "missing_videos": [asdict(p) for p in self.missing_videos],
            "missing_video_reasons": dict(Counter(p.reason for p in self.missing_videos)),
            "fatal_error": self.fatal_error,
        }

    def result(self, summary: dict[str, Any], spider: str) -> dict[str, Any]:
        """The outcome and the counts a monitor acts on (the ``Run result`` line)."""
        status = outcome(
            summary["finish_reason"],
            fatal=summary["fatal_error"] is not None,
            failed=len(summary["failed"]),
            missing_videos=len(summary["missing_videos"]),
        )
        return {
            "status": status,
            "exit_code": EXIT_CODES[status],
            "spider": spider,
            "finish_reason": summary["finish_reason"],
            "photos_listed": summary["photos_listed"],
            "files_downloaded": summary["files_downloaded"],
            "files_uptodate": summary["files_uptodate"],
            "failed": len(summary["failed"]),
            "missing_videos": len(summary["missing_videos"]),
            "api_calls": summary["api_calls"],
            "error": summary["fatal_error"],
        }

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Write the summary into the archive (beside this run's log file, with its name)."""
        summary = self.summary(reason)
        result = self.result(summary, spider.name)
        self.final = summary = {"status": result["status"], "exit_code": result["exit_code"]} | (
            summary
        )
        self.exit_code = result["exit_code"]
        self._stats.set_value("flickr/exit_code", self.exit_code)
        if not self.archive.is_dir():
            logger.info("%(line)s", {"line": result_line(result)})
            return
        handler = run_log()
        log = Path(handler.baseFilename) if handler is not None else None
        if log is not None and log.parent.resolve() == (self.archive / LOGS_DIR).resolve():
            self.log_path, path = log, log.with_suffix(".json")
        else:
            path = run_log_path(self.archive, spider.name, self.started).with_suffix(".json")
        try:
            self.json_path = write_json_atomic(path, summary)
        except OSError as exc:  # a full disk: the log line below still says how it ended
            logger.error(
                "Run summary not written to %(path)s: %(error)s",
                {"path": str(path), "error": exc.strerror or exc},
            )
        else:
            logger.info("Run summary written to %(path)s", {"path": str(self.json_path)})
            result["summary"] = str(self.json_path)
        logger.info("%(line)s", {"line": result_line(result)})

    def summary_lines(self) -> list[str]:
        """The run summary for a person (the console's last lines); none before the close."""
        if self.final is None:
            return []
        return summary_lines(self.final, log=self.log_path, json=self.json_path)


def _media_counts(files: dict[str, dict[str, int]], media: str) -> str | None:
    """'60 photos', '58 of 60 photos (2 failed)', '0 of 4 videos (4 missing)', or None."""
    counts = files.get(media, {})
    total = sum(counts.values())
    if not total:
        return None
    saved = sum(counts.get(status, 0) for status in SAVED)
    if saved == total:
        return plural(total, media)
    rest = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status not in SAVED)
    return f"{saved} of {plural(total, media)} ({rest})"


def saved_counts(summary: dict[str, Any]) -> str:
    """'60 photos, 0 of 4 videos (4 missing)': what a run summary says was saved, each kind
    counted apart ('' when the run went through no photo)."""
    files = summary.get("files", {})
    return ", ".join(m for m in (_media_counts(files, k) for k in ("photo", "video")) if m)


def summary_lines(
    summary: dict[str, Any], *, log: Path | None = None, json: Path | None = None
) -> list[str]:
    """A run summary (the JSON written into ``logs/``) as a few lines a person reads."""
    started = datetime.strptime(summary["started"], "%Y-%m-%dT%H:%M:%SZ")
    finished = datetime.strptime(summary["finished"], "%Y-%m-%dT%H:%M:%SZ")
    deleted = summary["photos_deleted_on_flickr"]
    listed = (
        f"{summary['photos_listed']} listed on Flickr ({summary['photos_new']} new, "
        f"{summary['photos_updated']} updated, {summary['photos_unchanged']} unchanged"
        + (f", {len(deleted)} deleted on Flickr" if deleted else "")
        + ")"
    )
    took = human_duration((finished - started).total_seconds())
    lines = [f"Run summary ({summary['finish_reason']}, {took}): {listed}"]
    saved = saved_counts(summary)
    files = (
        f"{plural(summary['files_downloaded'], 'file')} downloaded "
        f"({human_bytes(summary['bytes_downloaded'])}), "
        + (
            f"{summary['files_from_export']} from the export "
            f"({human_bytes(summary['bytes_from_export'])}), "
            if summary.get("files_from_export")
            else ""
        )
        + f"{summary['files_uptodate']} up to date, {plural(summary['api_calls'], 'API call')}"
    )
    lines.append(f"Saved {saved}; {files}" if saved else f"Nothing saved; {files}")
    if summary.get("files_upgraded"):
        lines.append(
            f"Metadata upgraded in {plural(summary['files_upgraded'], 'file')} kept from "
            "earlier runs (XMP and IPTC this version embeds; from the bytes on disk, none "
            "downloaded)"
        )
    if summary.get("sweep_reason"):
        lines.append(f"Listed the whole photostream: {summary['sweep_reason']}")
    activity = summary.get("activity") or {}
    if activity.get("timeframe"):
        lines.append(
            f"Recent activity (last {activity['timeframe']}): "
            f"{plural(activity.get('photos', 0), 'photo')} with new comments, faves or notes"
        )
    if summary.get("info_owed"):
        lines.append(
            f"photos.getInfo owed for {plural(summary['info_owed'], 'photo')} (new comments "
            "alone changed them; people, notes or permissions may have too): asked at the "
            "next sweep (FLICKR_SWEEP_EVERY) or with -a full=1"
        )
    for why, count in summary["missing_video_reasons"].items():
        lines.append(f"{plural(count, 'video')} missing: {why}")
    if deleted:
        lines.append(
            "Deleted on Flickr (kept in the archive, marked in catalog.db): " + ", ".join(deleted)
        )
    failed = summary["failed"]
    for problem in failed[:LISTED_FAILURES]:
        lines.append(f"Failed: {problem['subject']} ({problem['kind']}): {problem['reason']}")
    if len(failed) > LISTED_FAILURES:
        lines.append(f"... and {len(failed) - LISTED_FAILURES} more failed (all in the summary)")
    if log is not None:
        lines.append(f"Log: {log}" + (f" (summary: {json.name})" if json is not None else ""))
    elif json is not None:
        lines.append(f"Summary: {json}")
    return lines
