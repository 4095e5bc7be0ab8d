"""Keeps API calls under Flickr's per-key hourly limit (3600 calls per hour), across runs.

A sliding one-hour window: a call is sent only while fewer than ``FLICKR_API_CALLS_PER_HOUR``
calls went out in the last hour, otherwise it waits for the oldest to leave the window. Small
accounts therefore finish at full speed, large ones settle at the limit and never exceed it.

Flickr counts per key, not per process or account, so the window is kept per API key: by
default in a small file in the user's state folder (``$XDG_STATE_HOME/flickr-crawl/``, else
``~/.local/state/flickr-crawl/``), named by a hash of the key (never the key), whatever auth
file (account) a run uses; ``FLICKR_API_BUDGET_FILE`` names another file. A run started again
within the hour, a second spider, or another account's backup with the same key, running at
the same time, sees the calls the others made. The file is locked while a call is counted and
replaced atomically. Processes on several machines share one window through Redis instead
(``FLICKR_API_BUDGET_URL=redis://host:6379/0``, the ``redis`` extra): the ``limits`` library's
moving window, counted atomically in Redis. Every process waits for the same oldest call to
leave the window and the first to ask gets the freed slot, so accounts sharing a key share
its calls about evenly; none is starved.
The check happens when a call really leaves the API slot (the downloader asks us, see
``flickr_crawl.downloader.slots``), so time spent queued or backing off is never counted early.
It also counts every call (``flickr/api/calls`` and per method), the number users and
benchmarks care about. A call that never reached Flickr (connection refused, a name that does
not resolve) is taken back out of the window and the counts: only answered-or-maybe-received
calls cost budget.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit, urlunsplit

from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError
from scrapy.utils.misc import load_object
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.internet.error import TimeoutError as TxTimeoutError

from flickr_crawl.archive.storage import write_private_atomic
from flickr_crawl.downloader.signing import API_META
from flickr_crawl.downloader.slots import ExactSlotDownloader
from flickr_crawl.flickr.auth import AuthError, auth_file_path, load_credentials

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

SENT_META = "flickr_budget_sent"  # when the budget counted this request (to refund it)


def _never_connected(exc: Exception) -> bool:
    """Refused, unresolvable, unroutable: the call cannot have reached Flickr.

    A download timeout (twisted's is a ConnectError too) can end a call Flickr already got:
    it stays counted, as does a connection lost mid-answer.
    """
    return isinstance(
        exc, DownloadConnectionRefusedError | CannotResolveHostError | DNSLookupError | ConnectError
    ) and not isinstance(exc, TxTimeoutError)


WINDOW = 3600.0
# Clocks and networks are not exact: a call stays in our window this much longer than in
# Flickr's, so the two never disagree in Flickr's favour.
SLACK = 2.0


class ApiBudget:
    """The sliding window, kept in memory or in a file shared by every run with the same key."""

    def __init__(
        self, per_hour: int, clock: Callable[[], float] = time.time, path: Path | None = None
    ):
        self.per_hour = per_hour
        self.path = path
        self._clock = clock
        self._sent: list[float] = []
        self.last_sent = 0.0  # the time counted for the latest call, for ``refund``

    @contextlib.contextmanager
    def _window(self) -> Iterator[list[float]]:
        """The calls of the last hour, under the file's lock; changes are saved on exit."""
        if self.path is None:
            yield self._sent
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            sent, readable = self._load()
            before = list(sent)
            yield sent
            if sent != before or not readable:
                data = json.dumps({"window": WINDOW, "sent": sent}, separators=(",", ":"))
                write_private_atomic(self.path, data.encode())
        finally:
            os.close(fd)  # releases the lock

    def _load(self) -> tuple[list[float], bool]:
        """The saved window, and whether it could be read."""
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            sent = [float(t) for t in data["sent"]]
        except FileNotFoundError:
            return [], True
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Assume the worst (a full hour from now) rather than risk the key; saved, so
            # the file heals once that hour is over.
            logger.warning(
                "API budget file %(path)s is unreadable (%(err)s); counting a full hour",
                {"path": str(self.path), "err": exc},
            )
            return [self._clock()] * self.per_hour, False
        return sorted(sent), True

    def _prune(self, sent: list[float], now: float) -> None:
        cut = 0
        while cut < len(sent) and sent[cut] <= now - WINDOW - SLACK:
            cut += 1
        del sent[:cut]

    def acquire(self) -> float:
        """Count a call and return 0 if one may go now; else the seconds to wait (uncounted)."""
        with self._window() as sent:
            now = self._clock()
            self._prune(sent, now)
            if 0 < self.per_hour <= len(sent):
                return sent[-self.per_hour] + WINDOW + SLACK - now
            # Rounded up: a saved time is never earlier than the real one.
            sent.append(math.ceil(now * 1000) / 1000)
            self.last_sent = sent[-1]
            return 0.0

    def refund(self, sent_at: float) -> None:
        """Take back a counted call that never reached Flickr (no connection was made)."""
        with self._window() as sent:
            if sent_at in sent:
                sent.remove(sent_at)

    def used(self) -> int:
        """Calls sent in the current window (by every run sharing the file)."""
        with self._window() as sent:
            self._prune(sent, self._clock())
            return len(sent)


def ensure_budget_file(path: Path) -> None:
    """Make sure the window can be kept at ``path`` (OSError if not), before a run starts."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = path.with_name(path.name + ".lock")
    os.close(os.open(lock, os.O_RDWR | os.O_CREAT, 0o600))


def state_dir() -> Path:
    """The user's state folder for flickr-crawl (XDG): what outlives a run but is no config."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "flickr-crawl"


def key_digest(api_key: str) -> str:
    """What names a key's budget (files, Redis keys): a hash, never the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def budget_file(setting: str, api_key: str) -> Path:
    """Where the window of ``api_key`` is kept: the setting, else in the user's state folder,
    one file per key, whichever account (auth file) the run backs up."""
    if setting:
        return Path(setting).expanduser()
    return state_dir() / f"api-calls-{key_digest(api_key)}.json"


class BudgetUnavailable(Exception):
    """The shared budget (Redis) cannot be used; the message says why, without a password."""


def shown_url(url: str) -> str:
    """``url`` without its password (redis://:secret@host -> redis://***@host)."""
    parts = urlsplit(url)
    if parts.password is None and not parts.username:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisBudget:
    """The sliding window of one key in Redis, shared by processes on any number of machines.

    The ``limits`` library's moving window (a Lua script: check and count are one atomic
    step). A call that never reached Flickr is not refunded (the library keeps no handle on
    one entry): the window errs on the safe side. Redis going away pauses API calls (a
    warning, then a retry every few seconds) rather than letting them go uncounted.
    """

    RETRY = 5.0  # seconds between tries while Redis does not answer

    path = None  # (the Budget protocol: no file)

    def __init__(self, per_hour: int, url: str, api_key: str):
        try:
            from limits import RateLimitItemPerSecond
            from limits.errors import ConfigurationError
            from limits.storage import storage_from_string
            from limits.strategies import MovingWindowRateLimiter
        except ImportError:
            raise BudgetUnavailable(
                "FLICKR_API_BUDGET_URL needs the limits and redis packages: "
                "pip install 'flickr-crawl[redis]'"
            ) from None
        self.per_hour = per_hour
        self.url = shown_url(url)
        self.last_sent = 0.0
        self._id = key_digest(api_key)
        self._item = RateLimitItemPerSecond(
            per_hour, int(WINDOW + SLACK), namespace="flickr-crawl-api-calls"
        )
        try:
            self._storage = storage_from_string(
                url, wrap_exceptions=True, socket_timeout=10, socket_connect_timeout=10
            )
        except (ConfigurationError, ValueError) as exc:  # a URL limits cannot use
            raise BudgetUnavailable(f"FLICKR_API_BUDGET_URL={self.url}: {exc}") from None
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._down = False

    def check(self) -> None:
        """BudgetUnavailable unless Redis answers (before a run starts)."""
        if not self._storage.check():
            raise BudgetUnavailable(f"the API budget at {self.url} does not answer")

    def acquire(self) -> float:
        """Count a call and return 0 if one may go now; else the seconds to wait (uncounted)."""
        from limits.errors import StorageError

        try:
            if self._limiter.hit(self._item, self._id):
                self.last_sent = time.time()
                self._down = False
                return 0.0
            reset = self._limiter.get_window_stats(self._item, self._id).reset_time
        except StorageError as exc:
            if not self._down:
                logger.warning(
                    "API budget at %(url)s does not answer (%(err)s); API calls wait for it",
                    {"url": self.url, "err": exc},
                )
            self._down = True
            return self.RETRY
        return max(reset - time.time(), 0.01)

    def refund(self, sent_at: float) -> None:
        """Not possible with the library's window: the call stays counted (the safe side)."""

    def used(self) -> int:
        """Calls sent in the current window, by every process sharing the key."""
        remaining = self._limiter.get_window_stats(self._item, self._id).remaining
        return self.per_hour - remaining


def shared_budget(settings: BaseSettings, api_key: str) -> ApiBudget | RedisBudget:
    """The hourly budget of ``api_key`` as every run keeps it: in Redis
    (``FLICKR_API_BUDGET_URL``), in the key's budget file, or only in memory when
    ``FLICKR_API_CALLS_PER_HOUR`` is 0 (no cap). BudgetUnavailable if Redis cannot be used."""
    per_hour = settings.getint("FLICKR_API_CALLS_PER_HOUR", 3600)
    if per_hour <= 0:
        return ApiBudget(per_hour)
    if url := settings.get("FLICKR_API_BUDGET_URL", ""):
        return RedisBudget(per_hour, url, api_key)
    return ApiBudget(
        per_hour, path=budget_file(settings.get("FLICKR_API_BUDGET_FILE", ""), api_key)
    )


class ApiBudgetMiddleware:
    """Downloader middleware and send gate that holds API calls within the hourly budget."""

    def __init__(self, budget: ApiBudget | RedisBudget, stats: StatsCollector):
        self.budget = budget
        self._stats = stats
        self._waiting_until = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        try:
            auth = auth_file_path(settings.get("FLICKR_AUTH_FILE"))
            api_key = load_credentials(auth, require_token=False).api_key
        except AuthError:
            api_key = ""  # the spider reports missing credentials
        budget = shared_budget(settings, api_key)
        if budget.per_hour > 0:
            downloader = load_object(settings["DOWNLOADER"])
            if not issubclass(downloader, ExactSlotDownloader):
                raise ValueError(
                    "FLICKR_API_CALLS_PER_HOUR needs DOWNLOADER = "
                    "'flickr_crawl.downloader.slots.ExactSlotDownloader' (it asks the budget)"
                )
        assert crawler.stats is not None
        return cls(budget, crawler.stats)

    def send_wait(self, request: Request) -> float:
        """Asked by the downloader as an API call leaves its slot: 0 = send (counted)."""
        if not request.meta.get(API_META):
            return 0.0
        wait = self.budget.acquire()
        if wait > 0:
            now = time.monotonic()
            if now >= self._waiting_until:  # one line per wait, not one per re-check
                logger.info(
                    "API budget of %(n)s calls/hour reached (this key's calls in the last "
                    "hour, earlier runs included); next call in %(s).0f s",
                    {"n": self.budget.per_hour, "s": wait},
                )
                self._stats.inc_value("flickr/api/budget_waits")
            self._waiting_until = now + wait
            return wait
        if self.budget.per_hour > 0:
            request.meta[SENT_META] = self.budget.last_sent
        self._count(request, 1)
        return 0.0

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A call that never reached Flickr (no connection made) is not charged to the key."""
        if not request.meta.get(API_META) or not _never_connected(exception):
            return
        sent_at = request.meta.pop(SENT_META, None)
        if sent_at is not None:
            self.budget.refund(sent_at)
        self._count(request, -1)
        self._stats.inc_value(f"flickr/api/not_connected/{type(exception).__name__}")

    def _count(self, request: Request, n: int) -> None:
        self._stats.inc_value("flickr/api/calls", n)
        method = parse_qs(urlsplit(request.url).query).get("method", ["?"])[0]
        self._stats.inc_value(f"flickr/api/calls/{method}", n)


def running_budget(crawler: Crawler | None) -> ApiBudget | RedisBudget | None:
    """The sliding window of this crawl's ``ApiBudgetMiddleware`` (None without one)."""
    engine = crawler.engine if crawler is not None else None
    downloader = getattr(engine, "downloader", None)
    manager = getattr(downloader, "middleware", None)
    for mw in getattr(manager, "middlewares", ()):
        if isinstance(mw, ApiBudgetMiddleware):
            return mw.budget
    return None
