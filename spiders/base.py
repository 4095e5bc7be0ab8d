"""FlickrSpider: what every spider of ours shares: API requests, envelopes, errors, pagination.

Callbacks read an API answer with ``data = yield from self.api_data(response)`` and stop at
once if it is STOP: transient failures (105, 201, non-JSON bodies) are retried through
Scrapy's ``get_retry_request``, and the retry's answer runs the callback again;
credential failures close the spider, anything else is counted, recorded and skipped.

Every paginated list call goes through one paginator: ``list_page`` reads a page's rows and
where it stands, ``next_page`` asks for the page after it with the same call, callback and
priority. A listing is a chain (one page, then the next), so each page's callback knows all
pages before it when it runs.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import scrapy
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import (
    CannotResolveHostError,
    CloseSpider,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
)
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.internet.error import ConnectionRefusedError as TxRefusedError
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.web.client import ResponseNeverReceived

from flickr_crawl.downloader.signing import API_META
from flickr_crawl.extensions.report import RunReport
from flickr_crawl.flickr.api import (
    BadResponse,
    FlickrApiError,
    Page,
    call_params,
    call_url,
    page_of,
    parse_envelope,
)
from flickr_crawl.flickr.auth import auth_file_path, load_credentials
from flickr_crawl.flickr.reachable import host_root

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

    from flickr_crawl.flickr.auth import Credentials

logger = logging.getLogger(__name__)

API_SLOT = "flickr-api"
_CALL_KEYS = frozenset(call_params("", ""))  # what every call's query has: method, api_key...


def requests_first(outputs: Iterable[Any]) -> Iterator[Any]:
    """A callback's requests, then its items (each kind in its order).

    Scrapy pulls a callback's output only as fast as its items clear the pipelines
    (``CONCURRENT_ITEMS`` at a time), so a request yielded between a list page's 500 photos
    reached the scheduler at the pace of the downloads: the API slot idled while files came
    in (20-40 calls/s instead of 170 on a 500-photo backup), and the per-photo calls and the
    next page waited for the page's last photos. The spider's own state (what was emitted) is
    the same either way: the whole output is made before the first is handed over.
    """
    made = list(outputs)
    yield from (out for out in made if isinstance(out, scrapy.Request))
    yield from (out for out in made if not isinstance(out, scrapy.Request))


class Stop:
    """What ``api_data`` returns when the callback must stop: it sent a retry (whose answer
    runs the callback again), or the answer belongs to an earlier process's listing."""


STOP = Stop()


@dataclass(frozen=True)
class ListPage:
    """One page of a paginated list answer, e.g. ``{"photos": {"page": 2, "pages": 9, "photo":
    [...]}}``: the container (page/pages/total and the rows), its rows, where it stands, and the
    call that asked for it (None when that call failed for good: then it reads as an empty,
    last page)."""

    container: dict[str, Any]
    rows: list[Any]
    page: Page
    request: scrapy.Request | None

    @property
    def last(self) -> bool:
        return self.page.last


AUTH_FAILED = "flickr_auth_failed"
UNREACHABLE = "flickr_unreachable"
# How a call fails when the API host gives no answer at all (not: a call dropped on Ctrl-C).
NO_ANSWER = (
    CannotResolveHostError,
    DNSLookupError,
    DownloadConnectionRefusedError,
    ConnectError,  # twisted's refused, unroutable and timeouts
    DownloadTimeoutError,
    ResponseNeverReceived,
)


class FlickrSpider(scrapy.Spider):
    """Base spider: holds the credentials and endpoints, builds and reads API calls."""

    creds: Credentials
    api_url: str
    web_url: str
    per_page: int
    answered = False  # an API call got an HTTP answer in this run

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Items in flight per response: twice the media workers, unless set explicitly.

        Scrapy starts ``CONCURRENT_ITEMS`` tasks for every response, and nearly all of ours
        (getInfo, comments, faves) carry one item: its default of 100 cost about 3 s of a
        2040-item backup's 55 CPU seconds. Twice ``FLICKR_MEDIA_CONCURRENCY`` still keeps
        every media worker busy from a single list page.
        """
        super().update_settings(settings)
        if (settings.getpriority("CONCURRENT_ITEMS") or 0) <= SETTINGS_PRIORITIES["default"]:
            media = max(settings.getint("FLICKR_MEDIA_CONCURRENCY", 8), 1)
            settings.set("CONCURRENT_ITEMS", 2 * media, priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.creds = load_credentials(auth_file_path(settings.get("FLICKR_AUTH_FILE")))
        spider.auth_file = str(auth_file_path(settings.get("FLICKR_AUTH_FILE")))
        spider.api_url = settings.get("FLICKR_API_URL")
        spider.web_url = settings.get("FLICKR_WEB_URL")
        spider.per_page = min(max(settings.getint("FLICKR_API_PER_PAGE", 500), 1), 500)
        spider.run_token = secrets.token_hex(8)  # tells this process's listing from a resumed one
        return spider

    def stale(self, response: Response | None) -> bool:
        """A listing answer asked for by an earlier process (a JOBDIR resume replays them).

        A resumed crawl lists everything again from ``start()`` (a few calls), so an old
        listing step is dropped: it would run without the albums it needs and list twice.
        Per-photo calls (comments, faves, getInfo) from before stay valid and are kept.
        """
        if response is None or response.meta.get("flickr_run") in (None, self.run_token):
            return False
        self.crawler.stats.inc_value("flickr/listing/stale_dropped")  # type: ignore[union-attr]
        return True

    @property
    def report(self) -> RunReport:
        return RunReport.of(self.crawler)

    def api_request(
        self,
        method: str,
        callback: Callable[..., Any],
        *,
        cb_kwargs: dict[str, Any] | None = None,
        priority: int = 0,
        **params: Any,
    ) -> scrapy.Request:
        """A signed GET of one REST method, in the sequential API slot."""
        return scrapy.Request(
            call_url(self.api_url, method, self.creds.api_key, **params),
            callback=callback,
            errback=self.api_failed,
            cb_kwargs=cb_kwargs or {},
            priority=priority,
            dont_filter=True,
            meta={
                API_META: True,
                "download_slot": API_SLOT,
                "flickr_method": method,
                "flickr_run": self.run_token,
            },
        )

    def list_page(
        self,
        response: Response | None,
        data: dict[str, Any] | None,
        container_key: str,
        row_key: str,
    ) -> ListPage:
        """The page a list call answered: ``data[container_key]`` and its ``row_key`` rows.

        A failed call (``data`` None) reads as an empty last page: its chain goes on with
        whatever follows the listing.
        """
        container = (data or {}).get(container_key) or {}
        rows = container.get(row_key) or []
        return ListPage(
            container,
            rows,
            page_of(container, rows),
            None if response is None else response.request,
        )

    def next_page(self, listed: ListPage, **cb_kwargs: Any) -> scrapy.Request:
        """The same call as ``listed``'s for the page after it: same method and parameters
        (but ``page``), callback and priority; its ``cb_kwargs`` with ``cb_kwargs`` updated."""
        request = listed.request
        if request is None or listed.last:
            raise ValueError("next_page of a last page")
        query = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
        params = {k: v for k, v in query.items() if k not in _CALL_KEYS}
        params["page"] = listed.page.page + 1
        return self.api_request(
            query["method"],
            request.callback,  # type: ignore[arg-type]
            cb_kwargs={**request.cb_kwargs, **cb_kwargs},
            priority=request.priority,
            **params,
        )

    def api_data(
        self, response: Response | None, *, listing: bool = False
    ) -> Generator[scrapy.Request, None, dict[str, Any] | Stop | None]:
        """The payload of an API answer; None when the call failed for good (recorded; the
        callback goes on without it); STOP when the callback must stop (a retry was sent, or,
        with ``listing``, the answer is a stale listing step, see ``stale``).

        ``response`` is None when the call failed for good (see ``api_failed``).
        """
        if listing and self.stale(response):
            return STOP
        if response is None:
            return None
        self.answered = True
        method = response.meta.get("flickr_method", "?")
        try:
            return parse_envelope(response.body)
        except BadResponse as exc:
            reason = "flickr_bad_response"
            detail = str(exc)
        except FlickrApiError as exc:
            self.crawler.stats.inc_value(f"flickr/api/error/{exc.code}")  # type: ignore[union-attr]
            if exc.auth:
                self.auth_failed(f"{exc.message} (code {exc.code})")
            if not exc.transient:
                self.report.failure(
                    method, _call_subject(response), f"API error {exc.code}: {exc.message}"
                )
                return None
            reason = f"flickr_api_{exc.code}"
            detail = exc.message
        retry = get_retry_request(response.request, spider=self, reason=reason)  # type: ignore[arg-type]
        if retry is not None:
            yield retry
            return STOP
        self.report.failure(method, _call_subject(response), f"gave up: {detail}")
        return None

    def api_failed(self, failure: Failure) -> Iterator[Any]:
        """Errback of API calls: HTTP errors that outlived retries, network failures.

        The failure is recorded, then the callback runs without a response, so a listing chain
        goes on with its next step instead of silently ending the backup there.
        """
        request = failure.request  # type: ignore[attr-defined]
        if request.meta.get("flickr_run") not in (None, self.run_token):
            self.crawler.stats.inc_value("flickr/listing/stale_dropped")  # type: ignore[union-attr]
            return  # asked for by an earlier process: the fresh listing covers it
        method = request.meta.get("flickr_method", "?")
        if failure.check(HttpError):
            self.answered = True
            response = failure.value.response
            if response.status in (400, 401):
                problem = parse_qs(response.text).get("oauth_problem", ["rejected"])[0]
                self.auth_failed(f"OAuth {problem} (HTTP {response.status})")
            reason = f"HTTP {response.status}"
        else:
            reason = f"{failure.type.__name__}: {failure.value}"  # type: ignore[union-attr]
            if not self.answered and failure.check(*NO_ANSWER):
                self.unreachable(failure)
        self.report.failure(method, _query_subject(request.url), reason)
        if request.callback is not None:
            yield from request.callback(None, **request.cb_kwargs) or ()

    def unreachable(self, failure: Failure) -> None:
        """Stop the crawl: Flickr gave no answer at all, even after retries.

        Only while no API call has been answered in this run: later, a lost connection is a
        failed item (listed, exit 2) and the rest of the backup goes on.
        """
        self.report.fatal(
            f"cannot reach Flickr at {host_root(self.api_url)}: {_network_reason(failure)}; "
            "run again once the network is back"
        )
        raise CloseSpider(UNREACHABLE)

    def auth_failed(self, why: str) -> None:
        """Stop the crawl: nothing works with rejected credentials."""
        self.report.fatal(
            f"Flickr rejected the credentials in {self.auth_file}: {why}; "
            "run `scrapy auth --reauth`"
        )
        raise CloseSpider(AUTH_FAILED)


def _network_reason(failure: Failure) -> str:
    """What went wrong with a call that got no answer, in words (the URL left out)."""
    if failure.check(CannotResolveHostError, DNSLookupError):
        return "the host name does not resolve (DNS)"
    if failure.check(DownloadConnectionRefusedError, TxRefusedError):
        return "connection refused"
    if failure.check(DownloadTimeoutError, TxTimeoutError):
        return "no answer within DOWNLOAD_TIMEOUT"
    return failure.type.__name__  # type: ignore[union-attr]


def _call_subject(response: Response) -> str:
    return _query_subject(response.request.url if response.request else response.url)


def _query_subject(url: str) -> str:
    """The photo/album/page a call was about, for failure lists."""
    query = parse_qs(url.partition("?")[2])
    for key in ("photo_id", "photoset_id", "page"):
        if key in query:
            return f"{key}={query[key][0]}"
    return ""
