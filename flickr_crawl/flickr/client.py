"""A blocking Flickr REST client, for commands that call Flickr outside a crawl (``scrapy
estimate``).

Its calls are the crawl's: URLs from ``call_url``, answers read by ``parse_envelope``, each
attempt OAuth-signed afresh (``oauth_client``, as the crawl's signing middleware does) and
charged to the API key's hourly budget before it is sent, in the file the crawl keeps, so an
estimate and a crawl in the same hour stay under the cap together. A call that never reached
Flickr (refused, a name that does not resolve) is taken back out of the budget, as in the
crawl. Transient answers (105, 201, 429, 5xx, cut bodies) are tried again a few times; anything
else raises ``CallFailed`` with one line for people. No Scrapy here.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from flickr_crawl.flickr.api import BadResponse, FlickrApiError, call_url, page_of, parse_envelope
from flickr_crawl.flickr.auth import oauth_client

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import requests

    from flickr_crawl.flickr.auth import Credentials

ATTEMPTS = 3  # per call, for transient answers (105, 201, 429, 5xx, cut bodies)


class Budget(Protocol):
    """The hourly budget of an API key (``flickr_crawl.downloader.budget.ApiBudget``)."""

    per_hour: int
    path: Path | None
    last_sent: float

    def acquire(self) -> float: ...

    def refund(self, sent_at: float) -> None: ...


class CallFailed(Exception):
    """A call failed for good; the message is the one line a person sees."""


class RestClient:
    """Signed REST GETs, counted (calls, seconds) and charged to ``budget``."""

    def __init__(
        self,
        creds: Credentials,
        api_url: str,
        *,
        auth_file: Path,
        timeout: float,
        budget: Budget | None = None,
        on_wait: Callable[[float], None] = lambda _: None,
    ):
        import requests

        self.creds = creds
        self.api_url = api_url
        self.auth_file = auth_file
        self.timeout = timeout
        self.budget = budget
        self.on_wait = on_wait  # told how long a call waits for the budget
        self.session: requests.Session = requests.Session()
        self._signer = oauth_client(creds)
        self.calls = 0  # calls sent (retries included), as Flickr counts them
        self.seconds = 0.0

    @property
    def latency(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One call's payload, tried again on transient failures; CallFailed otherwise."""
        import requests

        url = call_url(self.api_url, method, self.creds.api_key, **params)
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(attempt)  # a command-line tool, not the crawl: a short pause is fine
            sent_at = self._charge()
            self.calls += 1
            started = time.monotonic()
            try:
                response = self.session.get(url, headers=self._sign(url), timeout=self.timeout)
            except requests.RequestException as exc:
                if _never_connected(exc):
                    self._refund(sent_at)
                problem = f"cannot reach {self.api_url}: {exc.__class__.__name__}"
                continue
            finally:
                self.seconds += time.monotonic() - started
            if response.status_code in (400, 401):
                raise CallFailed(
                    f"Flickr rejected the credentials in {self.auth_file} "
                    f"(HTTP {response.status_code}); run `scrapy auth --reauth`"
                )
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"{method}: HTTP {response.status_code}"
                continue
            try:
                return parse_envelope(response.content)
            except BadResponse as exc:
                problem = f"{method}: {exc}"
            except FlickrApiError as exc:
                if exc.auth:
                    raise CallFailed(
                        f"Flickr rejected the credentials in {self.auth_file}: {exc.message} "
                        f"(code {exc.code}); run `scrapy auth --reauth`"
                    ) from None
                if not exc.transient:
                    raise CallFailed(f"{method}: API error {exc.code}: {exc.message}") from None
                problem = f"{method}: API error {exc.code}: {exc.message}"
        raise CallFailed(f"{problem} (gave up after {ATTEMPTS} attempts)")

    def rows(
        self, method: str, container: str, row: str, per_page: int, **params: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """Every row of a paginated list, and the total its first page announced."""
        found: list[dict[str, Any]] = []
        total = 0
        asked = 1
        while True:
            data = self.call(method, page=asked, per_page=per_page, **params)
            box = data.get(container) or {}
            rows = box.get(row) or []
            found.extend(rows)
            page = page_of(box, rows)
            if asked == 1:
                total = page.total
            if page.last or page.page != asked:  # Flickr clamps deep pages: never loop
                return found, total
            asked += 1

    def _sign(self, url: str) -> dict[str, str]:
        _, headers, _ = self._signer.sign(url, http_method="GET")
        return {"Authorization": headers["Authorization"]}

    def _charge(self) -> float | None:
        """Wait until the budget lets a call go, and count it; its time, for a refund."""
        if self.budget is None:
            return None
        try:
            while (wait := self.budget.acquire()) > 0:
                self.on_wait(wait)
                time.sleep(wait)
        except OSError as exc:
            raise CallFailed(
                f"cannot keep the API call count in {self.budget.path}: {exc.strerror}; "
                "set FLICKR_API_BUDGET_FILE to a writable file"
            ) from None
        return self.budget.last_sent

    def _refund(self, sent_at: float | None) -> None:
        if self.budget is not None and sent_at is not None:
            self.budget.refund(sent_at)


def _never_connected(exc: Exception) -> bool:
    """Refused, unresolvable, unroutable: the call cannot have reached Flickr (a timeout or a
    connection lost mid-answer may have: those stay charged)."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)
