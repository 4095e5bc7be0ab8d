"""A live progress display for long runs: photos done of total, bytes, API budget use and an ETA.

A backup of a large account runs for hours (the API budget alone allows 3600 calls an hour), so
people want to see where it stands. On a terminal (stderr is a TTY) this draws a live bar with
``rich``; otherwise (cron, CI, ``> log``) it logs one plain line every
``FLICKR_PROGRESS_INTERVAL`` seconds (into the run's log file; the console shows warnings and
the summary, see ``flickr_crawl.extensions.runlog``). It only reads signals and stats, never
changes the crawl. The numbers are the spider's, as stats: the total its listing reports
(``flickr/photo/total``), the photos it has nothing to do for (``flickr/photo/left_alone``:
unchanged in an incremental run, faves of one's own photos), and the photos whose deep
metadata is stored, from earlier runs or now (``flickr/deep/done``), so a resumed or
incremental run ends at its total as the catalog does. Photos done come from ``item_scraped``
(and dropped/failed items) of ``PhotoItem``, bytes from ``flickr/bytes/downloaded``, API calls
from ``flickr/api/calls`` and the budget middleware's window. A display error turns the
display off (logged, counted), never the crawl. Counts only: no URLs, so no tokens or signed
links are ever shown.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from flickr_crawl.downloader.budget import running_budget
from flickr_crawl.flickr.estimate import human_bytes, human_duration
from flickr_crawl.items import PhotoItem

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from scrapy.utils.asyncio import AsyncioLoopingCall
    from twisted.internet.task import LoopingCall

    from flickr_crawl.downloader.budget import ApiBudget

logger = logging.getLogger(__name__)

# Stats the spiders keep for this display (see the module docstring).
TOTAL_STAT = "flickr/photo/total"
LEFT_ALONE_STAT = "flickr/photo/left_alone"
DEEP_DONE_STAT = "flickr/deep/done"
TTY_REFRESH = 0.5  # seconds between redraws of the live bar


@dataclass
class Snapshot:
    """Where the run stands, as numbers."""

    done: int = 0  # photos whose item went through the pipelines (or failed there), or left alone
    failed: int = 0
    total: int | None = None  # None until the first people.getPhotos page answers
    bytes: int = 0
    api_calls: int = 0  # this run
    api_this_hour: int = 0  # in the budget's sliding window
    api_per_hour: int = 0  # 0: no cap
    deep_done: int = 0  # photos whose deep metadata is stored (from earlier runs, or now)


def deep_phase(snap: Snapshot) -> bool:
    """Only the deep pass is left: it has started and every photo went through. (It can start
    earlier, alongside the downloads, when the API budget has room: see spiders.metadata.)"""
    return bool(snap.deep_done) and snap.total is not None and snap.done >= snap.total


class ProgressMeter:
    """Rates and ETA over a clock, separate from Scrapy so they can be tested with a fake one.

    The ETA is the remaining work at the average rate so far: photos while photos are being
    saved, then the deep pass (one getInfo per photo) once it has started.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.started = clock()
        self._deep_start: tuple[float, int] | None = None  # (when, getInfo calls by then)

    def elapsed(self) -> float:
        return self._clock() - self.started

    def phase(self, snap: Snapshot) -> str:
        return "deep" if deep_phase(snap) else "photos"

    def eta(self, snap: Snapshot) -> float | None:
        """Seconds left, or None when not known yet."""
        now = self._clock()
        if snap.total is None:
            return None
        deep = deep_phase(snap)
        if deep and snap.deep_done >= snap.total:
            return 0.0  # all done (the deep pass may have run alongside the downloads)
        if deep:
            if self._deep_start is None:
                self._deep_start = (now, snap.deep_done)
                return None
            start, before = self._deep_start
            rate_done, left = snap.deep_done - before, snap.total - snap.deep_done
        else:
            start, rate_done, left = self.started, snap.done, snap.total - snap.done
        if rate_done <= 0 or now <= start:
            return None
        return max(left, 0) * (now - start) / rate_done

    def describe(self, snap: Snapshot) -> str:
        """One line: 'photos 57/123 (46%), 12.3 MB, API 80 calls (80/3600 this hour), ETA 1 min'."""
        total = "?" if snap.total is None else str(snap.total)
        if self.phase(snap) == "deep":
            work = f"deep pass {snap.deep_done}/{total}, photos {snap.done}/{total}"
        else:
            work = f"photos {snap.done}/{total}"
            if snap.total:
                work += f" ({min(snap.done / snap.total, 1):.0%})"
            if snap.deep_done:  # getInfo going along with the downloads
                work += f", deep pass {snap.deep_done}/{total}"
        if snap.failed:
            work += f" ({snap.failed} failed)"
        cap = (
            f"{snap.api_this_hour}/{snap.api_per_hour} this hour"
            if snap.api_per_hour > 0
            else "no hourly cap"
        )
        eta = self.eta(snap)
        return (
            f"{work}, {human_bytes(snap.bytes)} downloaded, API {snap.api_calls} calls ({cap}), "
            f"ETA {'?' if eta is None else human_duration(eta)}, "
            f"elapsed {human_duration(self.elapsed())}"
        )


class RichDisplay:
    """The live bar on a terminal; log lines are printed above it while it runs."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self._stderr = sys.stderr
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[line]}"),
            console=Console(file=sys.stderr),
            auto_refresh=False,
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self.task = self.progress.add_task("Backup", total=None, line="starting")
        self._handlers: list[logging.StreamHandler[Any]] = []

    def start(self) -> None:
        self.progress.start()
        # Scrapy's log handler keeps the real stderr; send it through rich's proxy instead,
        # so log lines print above the bar rather than through it.
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self._stderr:
                handler.setStream(sys.stderr)
                self._handlers.append(handler)

    def update(self, snap: Snapshot, line: str) -> None:
        deep = deep_phase(snap)
        description = "Deep pass" if deep else "Photos"
        completed = snap.deep_done if deep else snap.done
        self.progress.update(self.task, description=description, total=snap.total,
                             completed=completed, line=line)  # fmt: skip
        self.progress.refresh()

    def stop(self) -> None:
        for handler in self._handlers:
            handler.setStream(self._stderr)
        self._handlers.clear()
        self.progress.stop()


class ProgressExtension:
    """Scrapy extension: the live bar on a TTY, periodic log lines otherwise."""

    def __init__(
        self,
        stats: StatsCollector,
        *,
        interval: float,
        per_hour: int,
        tty: bool,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._stats = stats
        self.interval = interval
        self.per_hour = per_hour
        self.tty = tty
        self.meter = ProgressMeter(clock)
        self.snap = Snapshot(api_per_hour=per_hour)
        self.budget: ApiBudget | None = None
        self.display: RichDisplay | None = None
        self.task: AsyncioLoopingCall | LoopingCall | None = None
        self.items_done = 0  # photo items through the pipelines (or failed there)
        self._crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("FLICKR_PROGRESS_ENABLED", True):
            raise NotConfigured("FLICKR_PROGRESS_ENABLED is off")
        interval = settings.getfloat("FLICKR_PROGRESS_INTERVAL", 30.0)
        if interval <= 0:
            raise NotConfigured("FLICKR_PROGRESS_INTERVAL must be more than 0")
        assert crawler.stats is not None
        ext = cls(
            crawler.stats,
            interval=interval,
            per_hour=settings.getint("FLICKR_API_CALLS_PER_HOUR", 3600),
            tty=sys.stderr.isatty(),
        )
        ext._crawler = crawler
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_failed, signal=signals.item_dropped)
        crawler.signals.connect(ext.item_failed, signal=signals.item_error)
        return ext

    # --- signals ------------------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        self.budget = running_budget(self._crawler)
        if self.tty:
            self.display = RichDisplay()
            self.display.start()
        self.task = create_looping_call(self.tick)
        self.task.start(TTY_REFRESH if self.tty else self.interval, now=False)

    def item_scraped(self, item: Any, **kwargs: Any) -> None:
        if isinstance(item, PhotoItem):
            self.items_done += 1

    def item_failed(self, item: Any, **kwargs: Any) -> None:
        """A photo dropped or failed in a pipeline is done too, as far as progress goes."""
        if isinstance(item, PhotoItem):
            self.items_done += 1
            self.snap.failed += 1

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.task = None
        self._refresh()
        line = self.meter.describe(self.snap)
        if self.display is not None:
            try:
                self.display.update(self.snap, line)
            finally:
                self.display.stop()
                self.display = None
        else:
            logger.info("Progress (%(reason)s): %(line)s", {"reason": reason, "line": line})

    # --- drawing ------------------------------------------------------------------------------
    def tick(self) -> None:
        """Every interval (log lines) or TTY_REFRESH (live bar)."""
        try:
            self._refresh()
            line = self.meter.describe(self.snap)
            if self.display is not None:
                self.display.update(self.snap, line)
            else:
                logger.info("Progress: %(line)s", {"line": line})
        except Exception:  # a display problem must never stop a backup
            logger.exception("Progress display failed, turning it off")
            self._stats.inc_value("flickr/progress/error")
            self._turn_off()

    def _turn_off(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.task = None
        if self.display is not None:
            display, self.display = self.display, None
            display.stop()

    def _refresh(self) -> None:
        get = self._stats.get_value
        total = get(TOTAL_STAT)
        self.snap.total = None if total is None else int(total)
        self.snap.done = self.items_done + int(get(LEFT_ALONE_STAT, 0))
        self.snap.bytes = int(get("flickr/bytes/downloaded", 0))
        self.snap.api_calls = int(get("flickr/api/calls", 0))
        self.snap.deep_done = int(get(DEEP_DONE_STAT, 0))
        self.snap.api_this_hour = (
            self.budget.used() if self.budget is not None else self.snap.api_calls
        )
