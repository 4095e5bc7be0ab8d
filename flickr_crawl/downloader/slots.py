"""A Scrapy downloader whose per-slot limits hold, and which can slow a slot down on demand.

Scrapy 2.14-2.19 start each download as a task and mark it as transferring only when the task
runs, so a slot with ``concurrency: 1`` can have many requests in flight. Our API slot must be
sequential (Flickr counts calls per key), so the request is marked the moment it is dequeued.

Two more things are decided here, at the moment a request really leaves its slot queue (not
when a middleware first sees it, which can be long before while the slot is busy or held):

- pacing: ``pace(key, interval, hold)`` spaces a slot's request starts at least ``interval``
  apart and sends nothing before ``hold`` seconds from now
  (``flickr_crawl.downloader.backoff`` uses it when Flickr pushes back);
- gates: a downloader middleware with a ``send_wait(request) -> float`` method is asked before
  each request goes out; a positive answer keeps the request queued that many seconds, 0 lets
  it go (and the gate counts it as sent). ``flickr_crawl.downloader.budget`` is one.

When the crawl stops (Ctrl-C) while a slot holds requests back, they are failed at once
(``IgnoreRequest``) instead of being waited for: the run ends, and the next one goes on.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import TYPE_CHECKING, Protocol

from scrapy.core.downloader import Downloader
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro
from twisted.python.failure import Failure

from flickr_crawl.downloader.media import MEDIA_SLOT

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler


logger = logging.getLogger(__name__)

STOP_CHECK = 1.0  # seconds: how often a held slot checks whether the crawl is stopping


class SendGate(Protocol):
    def send_wait(self, request: Request) -> float:
        """Seconds ``request`` must still wait; 0 means it goes now (and counts as sent)."""
        ...


class ExactSlotDownloader(Downloader):
    """Downloader that counts a request as transferring as soon as it leaves the slot queue.

    It also applies ``FLICKR_MEDIA_CONCURRENCY`` to the media slot, paces slots on request,
    and asks send gates before each request goes out.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        media = max(crawler.settings.getint("FLICKR_MEDIA_CONCURRENCY", 8), 1)
        # Its delay and jitter: DOWNLOAD_DELAY's (and AutoThrottle's), unless DOWNLOAD_SLOTS says.
        self.per_slot_settings.setdefault(MEDIA_SLOT, {})["concurrency"] = media
        self._interval: dict[str, float] = {}  # slot key -> minimum spacing of starts (s)
        self._not_before: dict[str, float] = {}  # slot key -> monotonic time of next start
        self._last_start: dict[str, float] = {}
        self.gates: list[SendGate] = [
            mw for mw in self.middleware.middlewares if hasattr(mw, "send_wait")
        ]

    def needs_backout(self) -> bool:
        """Whether the engine should stop taking requests from the scheduler for now.

        Stock Scrapy compares every active download with ``CONCURRENT_REQUESTS``. Media
        files do not come from the scheduler (the media pipeline sends them straight to the
        downloader, one per item in progress, ``CONCURRENT_ITEMS`` of them), so counting them
        would keep every API call in the scheduler for as long as files were queued. They do
        not count here; their own slot holds them to ``FLICKR_MEDIA_CONCURRENCY``.
        """
        media = self.slots.get(MEDIA_SLOT)
        scheduled = len(self.active) - (len(media.active) if media is not None else 0)
        return 0 < self.total_concurrency <= scheduled

    def pace(self, key: str, interval: float, hold: float = 0.0) -> None:
        """Space the starts of slot ``key`` ``interval`` s apart; start none for ``hold`` s."""
        self._interval[key] = max(interval, 0.0)
        if hold > 0:
            self._not_before[key] = max(self._not_before.get(key, 0.0), monotonic() + hold)

    def _pace_wait(self, key: str, now: float) -> float:
        spaced = self._last_start.get(key, 0.0) + self._interval.get(key, 0.0)
        return max(spaced, self._not_before.get(key, 0.0)) - now

    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall:
            return
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            request, queue_dfd = slot.queue[0]
            key = request.meta.get(self.DOWNLOAD_SLOT, "")
            wait = self._pace_wait(key, now)
            for gate in self.gates if wait <= 0 else ():
                wait = gate.send_wait(request)
                if wait > 0:
                    break
            if wait > 0:
                if self._stopping():
                    self._drop_held(slot, key)
                    return
                # Wake up at least every STOP_CHECK s: a Ctrl-C must not wait out an hour.
                slot.latercall = call_later(min(wait, STOP_CHECK), self._latercall, slot)
                return
            slot.queue.popleft()
            slot.lastseen = now
            self._last_start[key] = now
            # The fix: reserve the transfer slot now, not when the coroutine gets to run.
            slot.transferring.add(request)
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break

    def _stopping(self) -> bool:
        """The crawl is closing (Ctrl-C, CloseSpider): held requests will not be waited for."""
        engine = self.crawler.engine
        if engine is None:
            return True
        slot = getattr(engine, "_slot", None)
        return not engine.running or (slot is not None and slot.closing is not None)

    def _drop_held(self, slot: Slot, key: str) -> None:
        """Fail the requests a slot holds back, so that closing does not wait for them."""
        dropped = 0
        while slot.queue:
            _, queue_dfd = slot.queue.popleft()
            queue_dfd.errback(Failure(IgnoreRequest("the crawl is stopping")))
            dropped += 1
        logger.info(
            "Stopping: %(n)s requests held back in %(slot)s (API budget or backoff) not sent",
            {"n": dropped, "slot": key},
        )
