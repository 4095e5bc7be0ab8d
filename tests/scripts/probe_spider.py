"""A spider for tests/test_download.py: exercises the downloader and the streaming handler.

Run with ``scrapy runspider`` against the project settings; writes what it saw as JSON.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import scrapy

from flickr_crawl.download import STREAM_RESULT, STREAM_TO


class ProbeSpider(scrapy.Spider):
    name = "probe"

    def __init__(self, base: str, out: str, parts: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.base = base
        self.out = Path(out)
        self.parts = Path(parts)
        self.results: dict[str, Any] = {"slow": 0, "streams": {}, "errors": {},
                                        "pipeline_media_done": [], "api_done": []}  # fmt: skip
        self.tasks: list[asyncio.Task[Any]] = []

    async def start(self):
        yield scrapy.Request(f"{self.base}/slow?kick", callback=self.kick, dont_filter=True,
                             meta={"download_slot": "flickr-api"})  # fmt: skip
        for i in range(12):
            yield scrapy.Request(f"{self.base}/slow?{i}", meta={"download_slot": "flickr-api"},
                                 callback=self.slow, dont_filter=True)  # fmt: skip
            media = {"download_slot": "flickr-media"}
            yield scrapy.Request(f"{self.base}/slowmedia?{i}", callback=self.slow, meta=media,
                                 dont_filter=True)  # fmt: skip
        for name in ("big", "cut", "notfound", "gzip", "closed404", "noparent"):
            part = self.parts / ("no-such-dir" if name == "noparent" else "") / f"{name}.part"
            yield scrapy.Request(
                f"{self.base}/{name}", callback=self.stream, errback=self.failed,
                meta={STREAM_TO: str(part), "download_slot": "m",
                      "handle_httpstatus_all": True, "max_retry_times": 0},
                cb_kwargs={"name": name},
            )  # fmt: skip

    def slow(self, response):
        self.results["slow"] += 1

    def kick(self, response):
        """Queue media downloads straight into the downloader, as the media pipeline does
        (60 of them, 3 at a time), then ask for API calls: those must not wait for them."""
        engine = self.crawler.engine
        for i in range(60):
            request = scrapy.Request(f"{self.base}/slowmedia?p{i}", dont_filter=True,
                                     meta={"download_slot": "flickr-media"})  # fmt: skip
            self.tasks.append(asyncio.ensure_future(self._media(engine, request)))
        for i in range(6):
            api = {"download_slot": "flickr-api"}
            yield scrapy.Request(f"{self.base}/slow?api{i}", callback=self.api_done,
                                 dont_filter=True, meta=api)  # fmt: skip

    async def _media(self, engine, request):
        await engine.download_async(request)
        self.results["pipeline_media_done"].append(time.monotonic())

    def api_done(self, response):
        self.results["api_done"].append(time.monotonic())

    def stream(self, response, name):
        self.results["streams"][name] = {
            "status": response.status,
            "result": response.meta.get(STREAM_RESULT),
            "body": len(response.body),
        }

    def failed(self, failure):
        name = failure.request.url.rsplit("/", 1)[1]
        self.results["errors"][name] = failure.type.__name__

    def closed(self, reason):
        self.out.write_text(json.dumps(self.results))
