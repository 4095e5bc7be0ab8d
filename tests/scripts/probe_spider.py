"""A spider for tests/test_download.py: exercises our downloader's per-slot limit.

Run with ``scrapy runspider`` against the project settings; writes what it saw as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import scrapy


class ProbeSpider(scrapy.Spider):
    name = "probe"

    def __init__(self, base: str, out: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.base = base
        self.out = Path(out)
        self.results: dict[str, Any] = {"slow": 0}

    async def start(self):
        for i in range(24):
            yield scrapy.Request(f"{self.base}/slow?{i}", meta={"download_slot": "flickr-api"},
                                 callback=self.slow, dont_filter=True)  # fmt: skip

    def slow(self, response):
        self.results["slow"] += 1

    def closed(self, reason):
        self.out.write_text(json.dumps(self.results))
