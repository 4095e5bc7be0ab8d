"""Slows a request slot down when Flickr pushes back, and speeds it up again once it recovers.

Retrying at once is what an overloaded server likes least: a 429, a 503, a Retry-After, or
Flickr's own "service unavailable" (HTTP 200 with ``stat: fail`` code 105 or 201) makes the
slot that got it wait before its next request (at least Retry-After, when given) and then space
its requests ``interval`` apart. The interval doubles with each further pushback, up to
``FLICKR_BACKOFF_MAX``, and halves with each good answer until the slot runs freely again. The
retries themselves stay Scrapy's (``RETRY_TIMES``), so they are bounded; this only paces them.
"""

from __future__ import annotations

import json
import logging
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from flickr_crawl.flickr.api import TRANSIENT_CODES, to_int

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# "Too many requests" and "unavailable": Flickr asks for less. Other 5xx are retried at the
# usual pace (one broken file must not slow every download down).
PUSHBACK_STATUSES = frozenset({429, 503})
_FAIL_BODY_LIMIT = 4096  # a stat:fail envelope is tiny; bigger bodies are never one


class Backoff:
    """The pacing of one slot, free of Scrapy so it can be tested on its own."""

    def __init__(self, start: float, maximum: float):
        self.start = start
        self.maximum = maximum
        self.interval = 0.0

    def pushback(self, retry_after: float | None) -> tuple[float, float]:
        """Flickr pushed back: the new spacing, and how long to send nothing at all."""
        self.interval = min(max(self.interval * 2, self.start), self.maximum)
        hold = max(self.interval, min(retry_after or 0.0, self.maximum))
        return self.interval, hold

    def success(self) -> float:
        """A good answer: half the spacing, none once it is small."""
        self.interval /= 2
        if self.interval < self.start / 2:
            self.interval = 0.0
        return self.interval


def retry_after_seconds(value: bytes | None, now: float | None = None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds from now; None if absent."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


def flickr_unavailable(body: bytes) -> int | None:
    """The code of a small ``stat: fail`` envelope meaning "try later", else None."""
    if len(body) > _FAIL_BODY_LIMIT or b'"fail"' not in body:
        return None
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("stat") != "fail":
        return None
    code = to_int(data.get("code"), -1)
    return code if code in TRANSIENT_CODES else None


class BackoffExtension:
    """Paces each download slot by what its answers say (see module doc).

    It listens to ``response_downloaded``, which fires before the slot lets its next request
    go; a downloader middleware would see the answer only after that.
    """

    def __init__(self, crawler: Crawler, start: float, maximum: float):
        self.crawler = crawler
        self.start = start
        self.maximum = maximum
        self.slots: dict[str, Backoff] = {}
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("FLICKR_BACKOFF_ENABLED", True):
            raise NotConfigured("FLICKR_BACKOFF_ENABLED is off")
        start = settings.getfloat("FLICKR_BACKOFF_START", 1.0)
        maximum = settings.getfloat("FLICKR_BACKOFF_MAX", 120.0)
        if start <= 0 or maximum < start:
            raise NotConfigured("FLICKR_BACKOFF_START must be > 0 and <= FLICKR_BACKOFF_MAX")
        ext = cls(crawler, start, maximum)
        crawler.signals.connect(ext.response_downloaded, signal=signals.response_downloaded)
        return ext

    def response_downloaded(self, response: Response, request: Request, **kwargs: Any) -> None:
        key = request.meta.get("download_slot")
        downloader = getattr(self.crawler.engine, "downloader", None)
        if key is None or not hasattr(downloader, "pace"):
            return
        reason = None
        if response.status in PUSHBACK_STATUSES or b"Retry-After" in response.headers:
            reason = f"http_{response.status}"
        elif response.status == 200 and request.meta.get("flickr_api"):
            code = flickr_unavailable(response.body)
            reason = None if code is None else f"flickr_api_{code}"
        backoff = self.slots.setdefault(key, Backoff(self.start, self.maximum))
        if reason is None:
            if backoff.interval:
                downloader.pace(key, backoff.success())
            return
        retry_after = retry_after_seconds(response.headers.get(b"Retry-After"))
        interval, hold = backoff.pushback(retry_after)
        downloader.pace(key, interval, hold)
        self.stats.inc_value(f"flickr/backoff/{reason}")
        self.stats.inc_value("flickr/backoff/held_seconds", hold)
        self.stats.max_value("flickr/backoff/max_interval", interval)
        logger.info(
            "Flickr pushed back (%(reason)s%(ra)s): %(slot)s waits %(hold).1f s, then one "
            "request every %(interval).1f s until answers are good again",
            {
                "reason": reason,
                "ra": "" if retry_after is None else f", Retry-After {retry_after:g} s",
                "slot": key,
                "hold": hold,
                "interval": interval,
            },
        )
