"""PhotoSpider: what the photostream and favorites spiders do for every photo they list.

A listed photo is yielded at once (its file downloads while the listing goes on), then the
per-photo calls its list entry says are needed: comments where ``count_comments`` > 0, faves
(50 per page) where ``count_faves`` > 0, and getSizes for a video whose list entry gives no
original. The deep pass (``FLICKR_DEEP_METADATA_ENABLED``: photos.getInfo for notes and tag
authors, photos.people.getList where getInfo says there are people) waits for spider_idle, so every
original, caption and comment is on disk before any optional call is spent: unless the whole
run fits in what is left of the hourly API budget (``plan_deep``), when nothing is gained by
waiting, and each photo's getInfo is asked for as it is listed, at the lowest priority, while
the files still download. A spider may make a changed photo's getInfo wait for what it learns
later (``deep_waits``: the photostream's recent activity), and ask at a sweep the getInfo an
earlier run skipped (``info_debts_due``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider

from flickr_crawl.archive.paths import catalog_path
from flickr_crawl.catalog.views import items_from_catalog
from flickr_crawl.downloader.budget import running_budget
from flickr_crawl.extensions.lastrun import last_run
from flickr_crawl.extensions.progress import DEEP_DONE_STAT, LEFT_ALONE_STAT, TOTAL_STAT
from flickr_crawl.flickr.api import (
    PHOTOS_COMMENTS_GET_LIST,
    PHOTOS_GET_FAVORITES,
    PHOTOS_GET_INFO,
    PHOTOS_GET_SIZES,
    PHOTOS_PEOPLE_GET_LIST,
    BadResponse,
    to_int,
)
from flickr_crawl.flickr.mapping import comments_of, faves_of, info_of, video_original_source
from spiders.base import STOP, FlickrSpider

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path
    from typing import Self

    import scrapy
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from flickr_crawl.catalog.lastrun import Known
    from flickr_crawl.downloader.budget import ApiBudget
    from flickr_crawl.items import PhotoItem, Source

logger = logging.getLogger(__name__)

# The API slot is sequential; the scheduler sends the listing first, then per-photo calls,
# then the deep pass.
LIST_PRIORITY, PHOTO_PRIORITY, DEEP_PRIORITY = 10, 0, -10
FAVES_PER_PAGE = 50  # photos.getFavorites' maximum
# Upper bound of the calls a run spends per photo of the account (getInfo, people, comments,
# faves pages; 1.4 is typical), and for lists: what must fit in the budget for an early deep pass.
CALLS_PER_PHOTO_BOUND, CALLS_FOR_LISTS = 3, 100


def _calls_used(budget: ApiBudget | None) -> int:
    """Calls this API key sent in the last hour (every run sharing its budget file)."""
    if budget is None:
        return 0
    try:
        return budget.used()
    except OSError:
        return budget.per_hour  # unknown: assume none left, and keep the deep pass for the end


class PhotoSpider(FlickrSpider):
    """Base for spiders that list photos: per-photo calls and the deep pass."""

    def __init__(self, *args: Any, full: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.full = full not in ("", "0", "false", "no")
        self.listed: dict[str, None] = {}  # photo ids in listing order, for the deep pass
        self.no_deep: set[str] = set()  # unchanged photos whose getInfo is already stored
        self.emitted: set[str] = set()  # photo ids whose items this run yields
        self.deep_started = False
        self.deep_early = False  # getInfo asked for at listing time (see plan_deep)
        self.deep_asked: set[str] = set()  # photo ids whose getInfo is already requested
        # photo ids whose deep metadata is in the catalog: from earlier runs (or an interrupted
        # run's queue, resumed), or fetched now; its size is the progress display's deep pass
        self.deep_done: set[str] = set()
        self.known: dict[str, Known] = {}  # what catalog.db held when this run began
        self.catalog_path: Path  # set in from_crawler
        self.parts_asked: dict[str, set[str]] = {}  # photo id -> "comments", "faves" asked

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.deep = crawler.settings.getbool("FLICKR_DEEP_METADATA_ENABLED", True)
        # Read before this run saves anything, so "known" means "known from earlier runs".
        spider.known = last_run(crawler).known
        spider.catalog_path = catalog_path(crawler.settings)
        crawler.signals.connect(spider.start_deep_pass, signal=signals.spider_idle)
        return spider

    def stored_items(self, photo_ids: list[str]) -> dict[str, PhotoItem]:
        """The items of ``photo_ids`` rebuilt from catalog.db (no API call), without albums
        and galleries."""
        return items_from_catalog(
            self.catalog_path, photo_ids, me=self.creds.user_nsid, web_url=self.web_url
        )

    def plan_deep(self, total: int) -> None:
        """Once the account's photo count is known: may the deep pass run alongside?

        Yes when the hourly budget is off, or has room for the whole run (``total`` photos at
        ``CALLS_PER_PHOTO_BOUND`` calls) in its current window: then no getInfo can delay a
        listing page or a comment call, and the backup ends sooner.
        """
        if not self.deep:
            return
        budget = running_budget(self.crawler)
        per_hour = budget.per_hour if budget is not None else 0
        needed = total * CALLS_PER_PHOTO_BOUND + CALLS_FOR_LISTS
        self.deep_early = per_hour <= 0 or per_hour - _calls_used(budget) >= needed
        if self.deep_early:
            self.logger.info(
                "API budget has room for the whole run: getInfo goes along with the downloads"
            )

    def photo_item(self, raw: dict[str, Any]) -> PhotoItem:
        """The item for one entry of this spider's list call."""
        raise NotImplementedError

    def read_entry(self, raw: Any, method: str) -> PhotoItem | None:
        """``photo_item``, or None (recorded as a failure) for an entry it cannot read: one
        malformed entry never costs the rest of its page."""
        try:
            return self.photo_item(raw)
        except BadResponse as exc:
            subject = str(raw.get("id", "?")) if isinstance(raw, dict) else "?"
            self.report.failure(method, subject, f"unreadable list entry: {exc}")
            return None

    def video_source(self, sizes: dict[str, Any]) -> Source | None:
        """Which getSizes entry of a video to keep: its original (the owner gets it)."""
        return video_original_source(sizes)

    def seen_before(self, photo_id: str) -> bool:
        """True for a photo already listed in this run (pages shift when photos are added)."""
        if photo_id in self.listed:
            self.crawler.stats.inc_value("flickr/photo/listed_twice")  # type: ignore[union-attr]
            return True
        self.listed[photo_id] = None
        return False

    def emit_photo(
        self, item: PhotoItem, raw: dict[str, Any], *, skip_unchanged: bool = False
    ) -> Iterator[Any]:
        """The item (or the getSizes call it still needs), then its per-photo calls: only
        those whose answer may have changed since a run that stored it (``-a full=1``: all).

        With ``skip_unchanged`` a photo that has nothing new (same lastupdate and counts as
        stored, its parts stored) is not emitted at all: incremental runs leave it be.
        """
        known = self.known.get(item.id)
        if known is not None and known.last_update == 0:
            known = None  # only a stub (a row an album or comment made before its photo)
        same = known is not None and item.last_update_unix == known.last_update > 0
        comments, faves = item.count_comments, item.count_faves
        if same and known is not None and not self.full:
            if known.comments == comments and (comments == 0 or known.has_comments):
                comments = 0  # stored, and Flickr says nothing changed
            if known.faves == faves and (faves == 0 or known.has_faves):
                faves = 0
            # a getInfo an incremental run skipped is asked when this run pays such debts
            stored = known.has_info and not (known.info_owed and self.info_debts_due())
            if stored or not self.deep:
                self.no_deep.add(item.id)
            if stored:
                self.deep_stored(item.id)
            if (skip_unchanged and comments == faves == 0 and item.id in self.no_deep
                    and known.has_file):  # fmt: skip
                return
        change = "unchanged" if same else ("new" if known is None else "updated")
        self.crawler.stats.inc_value(f"flickr/photo/{change}")  # type: ignore[union-attr]
        self.emitted.add(item.id)
        # asked before the item goes out: catalog.db still holds what earlier runs stored
        ask_info = (self.deep and item.id not in self.no_deep and item.id not in self.deep_asked
                    and item.id not in self.deep_done
                    and not self.deep_waits(item, known))  # fmt: skip
        if item.media == "video" and item.source is None:
            yield self.api_request(
                PHOTOS_GET_SIZES, self.parse_video_sizes, cb_kwargs={"raw": raw},
                photo_id=item.id,
            )  # fmt: skip
        else:
            yield item
        yield from self._per_photo_calls(item.id, comments, faves)
        if ask_info and self.deep_early:
            self.deep_asked.add(item.id)
            yield self._info_request(item.id)

    def deep_waits(self, item: PhotoItem, known: Known | None) -> bool:
        """Does the getInfo of this photo wait for something this run learns later (the
        photostream: recent activity, which may show it needs none)? Then it is not asked
        at listing time; the deep pass asks it unless the spider decides otherwise. Called
        before the photo's item goes out."""
        return False

    def info_debts_due(self) -> bool:
        """Does this run ask getInfo of the photos that owe one (an incremental run skipped
        it: ``Known.info_owed``) even when unchanged since? The photostream's sweeps do."""
        return False

    def parse_video_sizes(self, response: Response | None, raw: dict[str, Any]) -> Iterator[Any]:
        item = self.photo_item(raw)
        data = yield from self.api_data(response)
        if data is STOP:
            return
        if data is not None:
            item.raw[PHOTOS_GET_SIZES] = data.get("sizes", {})
            item.source = self.video_source(data)
        yield item

    # --- comments and faves: only where the list's counts say there are some --------------
    def _per_photo_calls(self, photo_id: str, comments: int, faves: int) -> Iterator[Any]:
        asked = self.parts_asked.setdefault(photo_id, set())
        asked.update(part for part, n in (("comments", comments), ("faves", faves)) if n > 0)
        if comments > 0:
            yield self.api_request(
                PHOTOS_COMMENTS_GET_LIST, self.parse_comments, priority=PHOTO_PRIORITY,
                cb_kwargs={"photo_id": photo_id}, photo_id=photo_id,
            )  # fmt: skip
        if faves > 0:
            yield self._faves_page(photo_id)

    def parse_comments(self, response: Response | None, photo_id: str) -> Iterator[Any]:
        data = yield from self.api_data(response)
        if data is STOP:
            return
        if data is not None:
            yield comments_of(photo_id, data, self.web_url)

    def _faves_page(self, photo_id: str) -> scrapy.Request:
        return self.api_request(
            PHOTOS_GET_FAVORITES, self.parse_faves, priority=PHOTO_PRIORITY,
            cb_kwargs={"photo_id": photo_id, "pages": []},
            photo_id=photo_id, page=1, per_page=FAVES_PER_PAGE,
        )  # fmt: skip

    def parse_faves(
        self, response: Response | None, photo_id: str, pages: list[Any]
    ) -> Iterator[Any]:
        data = yield from self.api_data(response)
        if data is STOP:
            return
        if data is None:
            return
        listed = self.list_page(response, data, "photo", "person")
        pages = [*pages, listed.container]
        if not listed.last:
            yield self.next_page(listed, pages=pages)
            return
        yield faves_of(photo_id, pages, self.web_url)

    # --- the deep pass, once everything else is done ----------------------------------------
    def deep_stored(self, photo_id: str) -> None:
        """The photo's deep metadata is stored (before this run, or now): counted once, for
        the progress display, which cannot tell from API calls (an interrupted run did some,
        a resumed one replays some, and an unchanged photo needs none)."""
        if self.deep and photo_id not in self.deep_done:
            self.deep_done.add(photo_id)
            self.crawler.stats.set_value(DEEP_DONE_STAT, len(self.deep_done))  # type: ignore[union-attr]

    def listing_total(self, total: int) -> None:
        """The listing's first page says how many photos it holds: the progress total."""
        self.crawler.stats.set_value(TOTAL_STAT, total)  # type: ignore[union-attr]

    def left_alone(self, photo_ids: Iterable[str]) -> None:
        """Photos of the listing's total this run has nothing to do for (unchanged in an
        incremental run, a fave of one's own photo): done, as far as progress goes."""
        ids = list(photo_ids)
        self.crawler.stats.inc_value(LEFT_ALONE_STAT, len(ids))  # type: ignore[union-attr]
        for photo_id in ids:
            known = self.known.get(photo_id)
            if known is not None and known.has_info:
                self.deep_stored(photo_id)

    def deep_wanted(self) -> list[str]:
        """The photos the deep pass asks getInfo for: those this run listed and emitted
        whose deep metadata is not stored, nor already asked for."""
        return [photo_id for photo_id in self.listed
                if photo_id in self.emitted and photo_id not in self.no_deep
                and photo_id not in self.deep_asked
                and photo_id not in self.deep_done]  # fmt: skip

    def start_deep_pass(self) -> None:
        """spider_idle: the listing, downloads and comments are done; now the optional calls."""
        wanted = self.deep_wanted()
        if not self.deep or self.deep_started or not wanted:
            return
        self.deep_started = True
        assert self.crawler.engine is not None
        for photo_id in wanted:
            self.crawler.engine.crawl(self._info_request(photo_id))
        raise DontCloseSpider

    def _info_request(self, photo_id: str) -> scrapy.Request:
        return self.api_request(
            PHOTOS_GET_INFO, self.parse_info, priority=DEEP_PRIORITY,
            cb_kwargs={"photo_id": photo_id}, photo_id=photo_id,
        )  # fmt: skip

    def parse_info(self, response: Response | None, photo_id: str) -> Iterator[Any]:
        data = yield from self.api_data(response)
        if data is STOP:
            return
        if data is None:
            return
        if to_int(data.get("photo", {}).get("people", {}).get("haspeople"), 0):
            yield self.api_request(
                PHOTOS_PEOPLE_GET_LIST, self.parse_people, priority=DEEP_PRIORITY,
                cb_kwargs={"photo_id": photo_id, "info": data}, photo_id=photo_id,
            )  # fmt: skip
            return
        self.deep_stored(photo_id)
        yield info_of(photo_id, data, None, self.web_url)

    def parse_people(
        self, response: Response | None, photo_id: str, info: dict[str, Any]
    ) -> Iterator[Any]:
        data = yield from self.api_data(response)
        if data is STOP:
            return
        self.deep_stored(photo_id)
        yield info_of(photo_id, info, data, self.web_url)
