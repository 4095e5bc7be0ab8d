"""``scrapy weblogin``: sign in to Flickr in a real browser and keep the web session.

Flickr serves video originals (``play/orig``) only to a signed-in web session, never to OAuth.
This opens Flickr's sign-in page in Chromium through scrapy-playwright (one request of a tiny
spider, in a persistent browser context whose profile sits beside the session file; see
``flickr_crawl.downloader.websignin``). A person signs in in the window (headed, the default
where there is a display); for automation and tests ``--username`` with the password in
``FLICKR_WEB_PASSWORD`` fills the form headless. Once Flickr has set its session cookies, the
browser's storage state (and the user name, for a crawl to sign in again) is saved to
``FLICKR_WEB_SESSION_FILE`` (mode 0600). Cookie values and the password are never printed.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from scrapy import Spider
from scrapy.commands import ScrapyCommand

from flickr_crawl.archive.storage import write_private_atomic
from flickr_crawl.downloader.mediacookies import PASSWORD_ENV
from flickr_crawl.downloader.websignin import (
    WebSignInError,
    close_request,
    failure_reason,
    signin_request,
    signin_url,
    wait_for_session,
)
from flickr_crawl.flickr.browser import NoBrowser, chromium_path
from flickr_crawl.flickr.websession import browser_profile_path, session_file_path

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator

    from scrapy import Request
    from scrapy.http import Response
    from twisted.python.failure import Failure


class WebLoginSpider(Spider):
    """One request: the sign-in page, then a wait for the session (``state``, or ``error``)."""

    name = "weblogin"
    # Only the sign-in: no archive, no API, none of the backup's pipelines and extensions.
    custom_settings = {"ITEM_PIPELINES": {}, "EXTENSIONS": {}, "DOWNLOADER_MIDDLEWARES": {}}

    def __init__(self, *, signin: Request, filled: bool, timeout: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.signin = signin
        self.filled = filled
        self.timeout = timeout
        self.state: dict[str, Any] | None = None
        self.error = "the sign-in did not run"

    async def start(self) -> AsyncIterator[Request]:
        yield self.signin.replace(callback=self.signed_in, errback=self.failed)

    async def signed_in(self, response: Response) -> None:
        page = response.meta["playwright_page"]
        try:
            self.state = await wait_for_session(page, filled=self.filled, wait=self.timeout)
        except WebSignInError as exc:
            self.error = str(exc)

    async def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        await close_request(request)
        self.error = failure_reason(request, failure.value)


class Command(ScrapyCommand):
    requires_project = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--username NAME] [--headless] [--timeout SECONDS]"

    def short_desc(self) -> str:
        return "Sign in to Flickr in a browser and save the web session (for video originals)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--username", help="fill the form (password from FLICKR_WEB_PASSWORD)")
        parser.add_argument("--headless", action="store_true", help="no browser window")
        parser.add_argument("--timeout", type=float, default=300, help="seconds to wait (300)")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        assert self.crawler_process is not None
        path = session_file_path(self.settings.get("FLICKR_WEB_SESSION_FILE"))
        password = os.environ.get(PASSWORD_ENV, "")
        if opts.username and not password:
            print("error: --username needs the password in FLICKR_WEB_PASSWORD", file=sys.stderr)
            self.exitcode = 1
            return
        if not (opts.headless or opts.username or os.environ.get("DISPLAY")):
            print(
                "error: no display for a browser window: run this on a desktop, or use "
                "--username with the password in FLICKR_WEB_PASSWORD",
                file=sys.stderr,
            )
            self.exitcode = 1
            return
        try:
            executable = chromium_path(self.settings.get("FLICKR_CHROMIUM_PATH"))
        except NoBrowser as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        url = signin_url(self.settings)
        signin = signin_request(
            url, profile=browser_profile_path(path), executable=executable,
            headless=opts.headless or bool(opts.username), username=opts.username,
            password=password,
        )  # fmt: skip
        if not opts.username:
            print(f"Sign in to Flickr in the browser window ({url}); waiting...", flush=True)
        crawler = self.crawler_process.create_crawler(WebLoginSpider)
        self.crawler_process.crawl(
            crawler, signin=signin, filled=bool(opts.username), timeout=opts.timeout
        )
        self.crawler_process.start()
        spider = crawler.spider
        state = spider.state if isinstance(spider, WebLoginSpider) else None
        if state is None:
            error = spider.error if isinstance(spider, WebLoginSpider) else "the sign-in failed"
            print(f"error: {error}", file=sys.stderr)
            self.exitcode = 1
            return
        if opts.username:
            state["username"] = opts.username  # who a crawl signs in as again
        write_private_atomic(path, json.dumps(state, indent=2).encode("utf-8"))
        print(f"Signed in to Flickr; web session saved to {path} (mode 0600).")
