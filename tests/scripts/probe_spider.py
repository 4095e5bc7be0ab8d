"""A spider for tests/test_download.py: exercises the downloader and the streaming handler.

Run with ``scrapy runspider`` against the project settings; writes what it saw as JSON.
"""

from __future__ import annotations

import json
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
        self.results: dict[str, Any] = {"slow": 0, "streams": {}, "errors": {}}

    async def start(self):
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
