"""The HTTP(S) download handler: media streamed to disk, Flickr's sign-in page in a browser.

Every request goes through ``MediaDownloadHandler`` (Scrapy's HTTP/1.1 handler, with media
bodies streamed to ``.part`` files), except the few marked ``meta["playwright"]`` (the web
sign-in, ``flickr_crawl.downloader.websignin``), which scrapy-playwright renders. Its handler
is made on the first such request, not at start: scrapy-playwright starts its Playwright
driver (a Node process) when the engine starts, and a crawl whose web session works, or that
has no videos, should start neither that nor Chromium.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from scrapy.utils.misc import build_from_crawler

from flickr_crawl.downloader.media import MediaDownloadHandler

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler


class DownloadHandler(MediaDownloadHandler):
    """``MediaDownloadHandler`` plus scrapy-playwright for ``meta["playwright"]`` requests."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self._browser: ScrapyPlaywrightDownloadHandler | None = None
        self._starting = asyncio.Lock()

    async def download_request(self, request: Request) -> Response:
        if not request.meta.get("playwright"):
            return await super().download_request(request)
        browser = await self._browser_handler()
        return await browser.download_request(request)

    async def _browser_handler(self) -> ScrapyPlaywrightDownloadHandler:
        """scrapy-playwright's handler, made and started on first use (once)."""
        async with self._starting:
            if self._browser is None:
                from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

                handler = build_from_crawler(ScrapyPlaywrightDownloadHandler, self._crawler)
                # What it does on engine_started, which has passed: start the driver.
                await handler._maybe_launch_in_thread()
                self._browser = handler
        return self._browser

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        await super().close()
