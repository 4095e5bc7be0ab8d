"""A spider for tests/test_streaming_embed.py: streams bodies through ``StreamingEmbed``.

Run with ``scrapy runspider`` against the project settings; writes what it saw as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import scrapy

from flickr_crawl.download import STREAM_HEAD, STREAM_RESULT, STREAM_TO
from flickr_crawl.exif import StreamingEmbed
from tests.test_exif import make_photo


class EmbedSpider(scrapy.Spider):
    name = "embed"

    def __init__(self, base: str, out: str, parts: str, names: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.base = base
        self.out = Path(out)
        self.parts = Path(parts)
        self.names = names.split(",")
        self.results: dict[str, Any] = {}

    async def start(self):
        for name in self.names:
            embed = StreamingEmbed(make_photo(id=name))
            yield scrapy.Request(
                f"{self.base}/{name}", callback=self.stream, dont_filter=True,
                meta={STREAM_TO: str(self.parts / f"{name}.part"), STREAM_HEAD: embed,
                      "download_slot": "flickr-media", "max_retry_times": 0},
                cb_kwargs={"name": name, "embed": embed},
            )  # fmt: skip

    def stream(self, response, name: str, embed: StreamingEmbed):
        self.results[name] = {
            "status": response.status,
            "result": response.meta.get(STREAM_RESULT),
            "embed": embed.status,
            "camera": embed.camera,
        }

    def closed(self, reason):
        self.out.write_text(json.dumps(self.results))
