"""A spider for tests of media downloads: fetches files as the media pipeline does.

Each name is one Request through the engine (``engine.download_async``) in the media slot,
with its body streamed to ``<parts>/<name>.part`` (``flickr_crawl.downloader.media``); all are
started at once. Run with ``scrapy runspider`` against the project settings; writes what it
saw as JSON: per name the status, the stored result, the body kept in memory, or the error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import scrapy

from flickr_crawl.downloader.media import MEDIA_HEAD, MEDIA_PART, MEDIA_RESULT, MEDIA_SLOT
from flickr_crawl.downloader.mediacookies import WEB_SESSION
from flickr_crawl.metadata.exif import StreamingEmbed
from tests.test_exif import make_photo


class MediaSpider(scrapy.Spider):
    name = "media"

    def __init__(self, base: str, out: str, parts: str, names: str, embed: str = "0",
                 session: str = "", **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        self.base = base
        self.out = Path(out)
        self.parts = Path(parts)
        self.names = names.split(",")
        self.embed = embed == "1"
        self.session = set(session.split(","))  # names sent with the web session's cookies
        self.results: dict[str, Any] = {}

    async def start(self):
        await asyncio.gather(*(self.fetch(name) for name in self.names))
        return
        yield

    async def fetch(self, name: str) -> None:
        part = self.parts / ("no-such-dir" if name.startswith("noparent") else "") / f"{name}.part"
        embed = StreamingEmbed(make_photo(id=name)) if self.embed else None
        request = scrapy.Request(
            f"{self.base}/{name}", dont_filter=True, headers={"Accept-Encoding": "identity"},
            meta={MEDIA_PART: str(part), MEDIA_HEAD: embed, "download_slot": MEDIA_SLOT,
                  "dont_merge_cookies": True, WEB_SESSION: name in self.session},
        )  # fmt: skip
        assert self.crawler.engine is not None
        seen: dict[str, Any] = {"started": time.monotonic()}
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # noqa: BLE001 - what the test checks
            seen["error"] = exc.__class__.__name__
        else:
            stored = response.meta.get(MEDIA_RESULT)
            seen.update(
                status=response.status, url=response.url, body=len(response.body),
                result=None if stored is None else
                dataclasses.asdict(stored) | {"head": stored.head.hex()},
            )  # fmt: skip
        if embed is not None:
            seen.update(embed=embed.status, camera=embed.camera)
        seen["done"] = time.monotonic()
        self.results[name] = seen

    def closed(self, reason):
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        self.results["__stats__"] = {k: v for k, v in stats.items() if isinstance(v, int | float)}
        self.out.write_text(json.dumps(self.results, default=str))
