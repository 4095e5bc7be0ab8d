"""Spider callbacks fed the sandbox's answers in-process: no HTTP, no engine, ~ms per test.

``Flickr`` holds a generated sandbox world and answers a spider's Request the way the sandbox's
HTTP server would (``flickr_crawl/sandbox/rest.py`` run on the request's own query parameters,
serialised as Flickr writes JSON), as a ``TextResponse`` bound to that Request. ``Run`` builds a
spider through ``get_crawler`` (its real ``from_crawler``: credentials, settings, catalog.db)
and calls a Request's callback with such an answer, returning exactly what it yielded.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import scrapy
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from flickr_crawl import settings as project_settings
from flickr_crawl.extensions.report import RunReport
from flickr_crawl.items import MediaFile, PhotoItem
from flickr_crawl.sandbox.rest import ApiError, Caller, Rest
from flickr_crawl.sandbox.server import flickr_json
from pipelines.catalog import CatalogPipeline
from spiders.photostream import PhotostreamSpider

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from scrapy.crawler import Crawler

    from flickr_crawl.sandbox.world import World

BASE = "http://sandbox.invalid/"
API_URL = BASE + "services/rest/"


def params(request: scrapy.Request) -> dict[str, str]:
    """A REST call's query parameters (``method`` included)."""
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def method(request: scrapy.Request) -> str:
    return params(request)["method"]


def calls(outputs: Iterable[Any]) -> list[tuple[str, dict[str, str]]]:
    """(method, parameters without the constant ones) of every Request in ``outputs``."""
    constant = {"method", "api_key", "format", "nojsoncallback"}
    return [
        (method(out), {k: v for k, v in params(out).items() if k not in constant})
        for out in outputs
        if isinstance(out, scrapy.Request)
    ]


def items(outputs: Iterable[Any]) -> list[Any]:
    return [out for out in outputs if not isinstance(out, scrapy.Request)]


def respond(request: scrapy.Request, body: str | bytes, status: int = 200) -> TextResponse:
    """``body`` as the answer to ``request``."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return TextResponse(request.url, status=status, body=data, encoding="utf-8", request=request)


def fail_body(code: int, message: str) -> str:
    """A ``stat: fail`` envelope as the sandbox (and Flickr) sends it."""
    return flickr_json({"stat": "fail", "code": code, "message": message})


@dataclass
class Flickr:
    """A sandbox world answering REST calls in-process, as its HTTP server would."""

    world: World
    asked: list[str] = field(default_factory=list)  # methods answered, in order

    def __post_init__(self) -> None:
        self.rest = Rest(self.world, BASE)

    @property
    def owner(self) -> str:
        return self.world.owner.nsid

    def payload(self, name: str, **query: Any) -> dict[str, Any]:
        """The owner's signed call ``name`` with ``query``, as a dict (raises ApiError)."""
        caller = Caller(self.owner, self.world.api_key, {k: str(v) for k, v in query.items()})
        return self.rest.call(name, caller)

    def answer(self, request: scrapy.Request) -> TextResponse:
        """The sandbox's answer to ``request`` (signed by the owner, as ours are)."""
        query = params(request)
        name = query.pop("method")
        self.asked.append(name)
        try:
            data = self.payload(name, **query)
        except ApiError as err:
            data = {"stat": "fail", "code": err.code, "message": err.message}
        return respond(request, flickr_json(data))

    def auth_file(self, folder: Path) -> Path:
        """An auth.json for the world's owner, as ``scrapy auth`` writes it."""
        path = folder / "auth.json"
        path.write_text(json.dumps({
            "api_key": self.world.api_key, "api_secret": self.world.api_secret,
            "oauth_token": self.world.oauth_token,
            "oauth_token_secret": self.world.oauth_token_secret,
            "user_nsid": self.owner, "username": self.world.owner.username,
        }))  # fmt: skip
        return path


class Run:
    """One spider built as ``scrapy crawl`` builds it, against a ``Flickr`` and an archive."""

    def __init__(self, flickr: Flickr, spidercls: type[scrapy.Spider], archive: Path,
                 settings: dict[str, Any] | None = None, **arguments: str) -> None:  # fmt: skip
        self.flickr = flickr
        archive.mkdir(parents=True, exist_ok=True)
        project = {k: v for k, v in vars(project_settings).items() if k.isupper()}
        project.pop("TWISTED_REACTOR")  # get_crawler picks what suits the test process
        self.crawler: Crawler = get_crawler(spidercls, {
            **project,
            "FLICKR_API_URL": API_URL,
            "FLICKR_WEB_URL": BASE,
            "FLICKR_AUTH_FILE": str(flickr.auth_file(archive.parent)),
            "FLICKR_ARCHIVE_DIR": str(archive),
            "FLICKR_API_CALLS_PER_HOUR": 0,  # as tests/helpers.crawl_args: no pacing
            "FLICKR_ACTIVITY_MIN_INTERVAL": 0,  # as tests/helpers.crawl_args: every run asks
            "EXTENSIONS": {"flickr_crawl.extensions.report.RunReport": 500},
            "ITEM_PIPELINES": {},  # items are what the callbacks yield; save() stores them
            "DOWNLOAD_HANDLERS": {"http": None, "https": None},  # nothing is downloaded
            "LOG_LEVEL": "WARNING",
            **(settings or {}),
        })  # fmt: skip
        self.spider: Any = self.crawler._create_spider(**arguments)
        self.crawler.spider = self.spider
        # The engine as a crawl builds it (downloader middlewares: the API budget), not started.
        self.crawler.engine = self.crawler._create_engine()

    @property
    def stats(self) -> dict[str, Any]:
        assert self.crawler.stats is not None
        return self.crawler.stats.get_stats()

    @property
    def report(self) -> RunReport:
        return RunReport.of(self.crawler)

    def start(self) -> list[Any]:
        """What ``start()`` yields."""

        async def collect() -> list[Any]:
            return [out async for out in self.spider.start()]

        return asyncio.run(collect())

    def call(self, request: scrapy.Request, response: TextResponse | None = None) -> list[Any]:
        """Everything ``request``'s callback yields for ``response`` (default: the sandbox's
        answer to it)."""
        assert request.callback is not None
        answer = self.flickr.answer(request) if response is None else response
        return list(request.callback(answer, **request.cb_kwargs) or ())

    def follow(self, request: scrapy.Request, wanted: Iterable[str]) -> list[Any]:
        """Answer ``request`` and, depth first in the order they were yielded, every Request
        of a ``wanted`` method that follows from it; everything else that was yielded (items,
        other Requests), in that order."""
        wanted = set(wanted)
        out: list[Any] = []
        for made in self.call(request):
            if isinstance(made, scrapy.Request) and method(made) in wanted:
                out += self.follow(made, wanted)
            else:
                out.append(made)
        return out

    def save(self, outputs: Iterable[Any], *, file_status: str = "downloaded") -> None:
        """Store ``outputs`` in catalog.db through the real CatalogPipeline, as a run that
        finished would; photo items count as downloaded (what the media pipeline records)."""
        pipeline = CatalogPipeline.from_crawler(self.crawler)
        pipeline.open_spider()

        async def process() -> None:
            for out in outputs:
                if isinstance(out, scrapy.Request):
                    continue
                if isinstance(out, PhotoItem) and out.file is None:
                    out.file = MediaFile(status=file_status, path=f"Unsorted/{out.id}.jpg")
                await pipeline.process_item(out)

        asyncio.run(process())
        pipeline.spider_closed("finished")


LISTING = (
    "flickr.activity.userPhotos",
    "flickr.collections.getTree",
    "flickr.galleries.getList",
    "flickr.galleries.getPhotos",
    "flickr.photosets.getList",
    "flickr.photosets.getPhotos",
    "flickr.people.getPhotos",
    "flickr.photos.recentlyUpdated",
)


def listing(run: Run) -> list[Any]:
    """A photostream run's whole listing chain from ``start()``, answered by the sandbox:
    what it yields besides listing calls (items, per-photo calls) in order."""
    out: list[Any] = []
    for request in run.start():
        out += run.follow(request, LISTING)
    return out


def complete(run: Run) -> list[Any]:
    """A whole photostream run: the listing, then every per-photo call it asked for (getInfo
    and people included), its items stored in catalog.db as a finished run's are."""
    done: list[Any] = []
    queue = listing(run)
    while queue:
        out = queue.pop(0)
        if isinstance(out, scrapy.Request):
            queue += run.call(out)
        else:
            done.append(out)
    run.save(done)
    return done


def first_run(flickr: Flickr, archive: Path, **settings: Any) -> list[Any]:
    """A complete first photostream run into ``archive`` (see ``complete``)."""
    return complete(Run(flickr, PhotostreamSpider, archive, settings))
