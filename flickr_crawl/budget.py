"""Keeps API calls under Flickr's per-key hourly limit (3600 calls per hour).

A sliding one-hour window: a call is sent only while fewer than ``FLICKR_API_CALLS_PER_HOUR``
calls went out in the last 3600 s, otherwise it waits for the oldest to leave the window. Small
accounts therefore finish at full speed, large ones settle at the limit and never exceed it.
It also counts every call (``flickr/api/calls`` and per method), the number users and
benchmarks care about.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from flickr_crawl.middlewares import API_META

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

WINDOW = 3600.0


class ApiBudget:
    """The sliding window itself, separate from Scrapy so it can be tested with a fake clock."""

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic):
        self.per_hour = per_hour
        self._clock = clock
        self._sent: deque[float] = deque()

    def wait_time(self) -> float:
        """Seconds to wait before the next call may go out (0 if it may go now)."""
        if self.per_hour <= 0:
            return 0.0
        now = self._clock()
        while self._sent and self._sent[0] <= now - WINDOW:
            self._sent.popleft()
        if len(self._sent) < self.per_hour:
            return 0.0
        return self._sent[0] + WINDOW - now

    def record(self) -> None:
        self._sent.append(self._clock())

    def used(self) -> int:
        """Calls sent in the current window."""
        self.wait_time()
        return len(self._sent)


class ApiBudgetMiddleware:
    """Downloader middleware that delays API calls to stay within the hourly budget."""

    def __init__(self, budget: ApiBudget, stats: StatsCollector):
        self.budget = budget
        self._stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        per_hour = crawler.settings.getint("FLICKR_API_CALLS_PER_HOUR", 3600)
        assert crawler.stats is not None
        return cls(ApiBudget(per_hour), crawler.stats)

    async def process_request(self, request: Request) -> None:
        if not request.meta.get(API_META):
            return
        while (wait := self.budget.wait_time()) > 0:
            logger.info(
                "API budget of %(n)s calls/hour reached; waiting %(s).0f s",
                {"n": self.budget.per_hour, "s": wait},
            )
            self._stats.inc_value("flickr/api/budget_waits")
            await asyncio.sleep(wait)
        self.budget.record()
        self._stats.inc_value("flickr/api/calls")
        method = parse_qs(urlsplit(request.url).query).get("method", ["?"])[0]
        self._stats.inc_value(f"flickr/api/calls/{method}")
