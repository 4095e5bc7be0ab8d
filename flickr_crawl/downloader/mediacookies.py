"""Sends the Flickr web session's cookies with video originals, and only with them; signs in
again, once per crawl, when Flickr refuses them.

Flickr serves a video original only to a signed-in browser session (``scrapy weblogin``
saves its cookies). A request marked ``meta[WEB_SESSION]`` gets, at each hop of its redirects,
the session cookies a browser would send to that hop's host (domain, path and secure rules of
``flickr_crawl.flickr.websession.cookie_header``): the play page gets them, the CDN host it
redirects to gets its own or none. Scrapy's cookie jar stays out of it (media requests carry
``dont_merge_cookies``), so the session never spreads to API or image requests.

A session expires, or is signed out elsewhere. When the media pipeline finds a video refused
and the password is in the environment (``FLICKR_WEB_PASSWORD``, with the user name of
``FLICKR_WEB_USERNAME`` or of the session file), ``renew`` signs in through scrapy-playwright
on the engine (``flickr_crawl.downloader.websignin``), saves the new session (0600) and puts
its cookies on the next requests. One sign-in per crawl at most: the videos refused meanwhile
wait for it, and a failed one is not tried again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from flickr_crawl.archive.storage import write_private_atomic
from flickr_crawl.downloader.websignin import (
    WebSignInError,
    close_request,
    failure_reason,
    signin_request,
    signin_url,
    wait_for_session,
)
from flickr_crawl.flickr.browser import NoBrowser, chromium_path
from flickr_crawl.flickr.websession import (
    browser_profile_path,
    cookie_header,
    load_cookies,
    session_file_path,
    session_username,
    state_cookies,
)

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

WEB_SESSION = "flickr_web_session"  # meta: send the web session's cookies with this request
PASSWORD_ENV = "FLICKR_WEB_PASSWORD"  # noqa: S105 - the variable's name, not a password
SIGNIN_TIMEOUT = 60.0  # seconds a sent form has to sign in (page loads have their own)


@dataclass(frozen=True)
class SignIn:
    """What signing in again takes (the password stays out of ``repr``)."""

    url: str
    username: str
    password: str = field(repr=False)
    session_file: Path
    chromium: str  # FLICKR_CHROMIUM_PATH ("" for Playwright's own, else Debian's)


class MediaCookiesMiddleware:
    """Downloader middleware: the web session's Cookie header on marked requests."""

    def __init__(self, cookies: list[dict[str, Any]], signin: SignIn | None = None):
        self.cookies = cookies
        self.signin = signin  # None: no password, so refusals are only reported
        self.generation = 0  # how many times the cookies were renewed in this crawl
        self.crawler: Crawler | None = None
        self._renewing = asyncio.Lock()
        self._tried = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        path = session_file_path(settings.get("FLICKR_WEB_SESSION_FILE"))
        cookies = load_cookies(path)
        username = settings.get("FLICKR_WEB_USERNAME") or session_username(path)
        password = os.environ.get(PASSWORD_ENV, "")
        signin = None
        if username and password:
            signin = SignIn(
                url=signin_url(settings), username=username, password=password,
                session_file=path, chromium=settings.get("FLICKR_CHROMIUM_PATH"),
            )  # fmt: skip
        if not cookies and signin is None:
            raise NotConfigured  # no web session: nothing to add (a reason would be a WARNING line)
        middleware = cls(cookies, signin)
        middleware.crawler = crawler
        return middleware

    @classmethod
    def of(cls, crawler: Crawler) -> Self | None:
        """The running crawl's middleware (None when there is no session to send)."""
        return crawler.get_downloader_middleware(cls)

    def process_request(self, request: Request) -> None:
        if not request.meta.get(WEB_SESSION):
            return
        header = cookie_header(self.cookies, request.url)
        if header:
            request.headers[b"Cookie"] = header
        else:
            request.headers.pop(b"Cookie", None)

    async def renew(self, generation: int) -> bool:
        """Flickr refused the cookies of ``generation``: whether newer ones are there to retry
        with, after signing in again if no one has (once per crawl, one at a time)."""
        async with self._renewing:
            if self.generation > generation:
                return True  # another video's refusal renewed them meanwhile
            if self.signin is None or self._tried:
                return False
            self._tried = True
            assert self.crawler is not None
            assert self.crawler.stats is not None
            stats = self.crawler.stats
            try:
                state = await self._sign_in(self.signin)
            except WebSignInError as exc:
                stats.inc_value("flickr/websession/signin_failed")
                logger.warning("Web session refused; signing in again failed: %(why)s",
                               {"why": exc})  # fmt: skip
                return False
            state["username"] = self.signin.username  # for the next run's sign-in
            await asyncio.to_thread(write_private_atomic, self.signin.session_file,
                                    json.dumps(state, indent=2).encode("utf-8"))  # fmt: skip
            self.cookies = state_cookies(state)
            self.generation += 1
            stats.inc_value("flickr/websession/signin")
            logger.info(
                "Web session refused; signed in again as %(user)s, saved to %(path)s",
                {"user": self.signin.username, "path": self.signin.session_file},
            )
            return True

    async def _sign_in(self, signin: SignIn) -> dict[str, Any]:
        """One headless sign-in through scrapy-playwright on the engine: the storage state."""
        assert self.crawler is not None
        assert self.crawler.engine is not None
        try:
            executable = await asyncio.to_thread(chromium_path, signin.chromium or None)
        except NoBrowser as exc:
            raise WebSignInError(str(exc)) from None
        request = signin_request(
            signin.url, profile=browser_profile_path(signin.session_file), executable=executable,
            headless=True, username=signin.username, password=signin.password,
        )  # fmt: skip
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # noqa: BLE001 - no browser, a page that failed: one line
            await close_request(request)
            raise WebSignInError(failure_reason(request, exc)) from None
        page = response.meta["playwright_page"]
        return await wait_for_session(page, filled=True, wait=SIGNIN_TIMEOUT)
