"""favorites: every photo the account faved, kept with its context, under ``Favorites/``.

flickr.favorites.getList, signed (so faves of friends-only photos are included), 500 per page
with the same extras as the photostream: the largest size the owner allows is downloaded (the
original where permitted; the sidecar records what was taken), with the owner's profile and
the date faved, and the same comments/faves/deep-pass rules as the photostream. For someone
else's video, getSizes tells which streams exist and the best is kept (only owners get
originals).

Incremental: after a run that finished with nothing failed, the newest ``date_faved`` becomes
the next run's ``min_fave_date`` (catalog.db ``sync_state``; inclusive, so the boundary fave
is listed again and found up to date rather than risk missing one faved in the same second).
A full listing (the first run, or ``-a full=1``) also finds faves that are gone (un-faved, or
deleted by their owner): they stay in the archive and are flagged in catalog.db. A photo of
the account's own that it faved is stored once, in the photostream, and only recorded here.

Faves an earlier version stored with less embedded than this one (``EMBED_FORMAT``) and this
run did not list are rebuilt from catalog.db once the listing is done (no API call) and go
through the media step, which embeds again from the bytes on disk; a clean run then records
the format in catalog.db (``favorites.embed_format``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flickr_crawl.extensions.lastrun import last_run
from flickr_crawl.extensions.progress import TOTAL_STAT
from flickr_crawl.flickr.api import FAVORITES_GET_LIST, PHOTO_EXTRAS, to_int
from flickr_crawl.flickr.mapping import best_video_source, favorite_photo, iso_from_unix
from flickr_crawl.items import FavoriteItem, FavoritesListedItem
from spiders.base import STOP, requests_first
from spiders.metadata import LIST_PRIORITY, PhotoSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from typing import Self

    import scrapy
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from flickr_crawl.items import PhotoItem, Source

LIST_METHOD = FAVORITES_GET_LIST


class FavoritesSpider(PhotoSpider):
    name = "favorites"

    def __init__(self, full: str = "", **kwargs: Any):
        super().__init__(full=full, **kwargs)
        self.since = 0  # min_fave_date of this run; 0 = a full listing
        self.newest = 0  # the newest date_faved seen
        self.listing_complete = True
        self.faved: dict[str, None] = {}  # every fave listed, own photos included
        self.total: int | None = None  # Flickr's count on the first page
        self.until = int(time.time())  # faves made during the run wait for the next one
        self.upgrade: set[str] = set()  # see from_crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # faves whose file an earlier version embedded less into (``LastRun.favorites_upgrade``)
        spider.upgrade = last_run(crawler).favorites_upgrade
        return spider

    async def start(self) -> AsyncIterator[Any]:
        if not self.full:
            self.since = last_run(self.crawler).favorites_watermark
        if self.since:
            self.logger.info(
                "Favorites faved since %(since)s (incremental; -a full=1 for everything)",
                {"since": iso_from_unix(self.since)},
            )
        yield self._page(1)

    def _page(self, page: int, pages: int = 0) -> scrapy.Request:
        return self.api_request(
            LIST_METHOD, self.parse_favorites, priority=LIST_PRIORITY,
            cb_kwargs={"asked": page, "pages": pages},
            user_id=self.creds.user_nsid or None, extras=PHOTO_EXTRAS, page=page,
            per_page=self.per_page, min_fave_date=self.since or None,
            max_fave_date=self.until,
        )  # fmt: skip

    def parse_favorites(
        self, response: Response | None, asked: int = 1, pages: int = 0
    ) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        if data is None:  # this page failed for good (recorded): the listing is incomplete
            self.listing_complete = False
            if asked < pages:
                yield self._page(asked + 1, pages)
            else:
                yield from self._finish_listing()
            return
        listed = self.list_page(response, data, "photos", "photo")
        page = listed.page
        if page.page != asked:  # Flickr clamps deep pages: never loop on them
            self.report.failure(LIST_METHOD, f"page={asked}", f"Flickr answered page {page.page}")
            self.listing_complete = False
            yield from self._finish_listing()
            return
        if self.total is None:
            self.total = page.total
            self.listing_total(page.total)
            self.plan_deep(page.total)
        if not listed.last:
            yield self.next_page(listed, asked=page.page + 1, pages=page.pages)
        self.crawler.stats.inc_value("flickr/photo/listed", len(listed.rows))  # type: ignore[union-attr]
        yield from requests_first(self._page_favorites(listed.rows, last=listed.last))

    def _page_favorites(self, photos: list[dict[str, Any]], *, last: bool) -> Iterator[Any]:
        for raw in photos:
            yield from self._favorite(raw)
        if last:
            yield from self._finish_listing()

    def _favorite(self, raw: dict[str, Any]) -> Iterator[Any]:
        faved = to_int(raw.get("date_faved"), 0)
        self.newest = max(self.newest, faved)
        item = self.read_entry(raw, LIST_METHOD)
        if item is None:
            return  # recorded; the listing counts as incomplete (fewer than its total)
        own = item.owner == self.creds.user_nsid
        if item.id in self.faved:
            return
        self.faved[item.id] = None
        yield FavoriteItem(
            photo_id=item.id, owner=item.owner, date_faved=item.date_faved,
            date_faved_unix=faved, stored_as="own" if own else "favorite",
        )  # fmt: skip
        if own:  # already in the photostream backup: stored once, no calls spent here
            self.crawler.stats.inc_value("flickr/favorites/own")  # type: ignore[union-attr]
            self.left_alone([item.id])
            return
        if not self.seen_before(item.id):
            yield from self.emit_photo(item, raw)

    def _finish_listing(self) -> Iterator[Any]:
        yield from self._upgrade()
        yield self._listed()

    def _upgrade(self) -> Iterator[PhotoItem]:
        """The faves an earlier version embedded less into that this run did not list (an
        incremental run lists only new faves): their items, rebuilt from catalog.db, go
        through the media step, which embeds what this version does into the file on disk."""
        wanted = sorted(self.upgrade - self.faved.keys())
        if not wanted:
            return
        items = self.stored_items(wanted)
        self.crawler.stats.inc_value(TOTAL_STAT, len(items))  # type: ignore[union-attr]
        for item in items.values():
            self.emitted.add(item.id)
            self.no_deep.add(item.id)
            known = self.known.get(item.id)
            if known is not None and known.has_info:
                self.deep_stored(item.id)
            yield item

    def _listed(self) -> FavoritesListedItem:
        if self.total is not None and len(self.faved) < self.total:
            # Pages shifted under us (a fave removed mid-listing): some fave may not have
            # been seen, so this listing proves nothing about what is gone, nor where to
            # start next time.
            self.logger.warning(
                "Favorites listing saw %(seen)s of %(total)s faves; it counts as incomplete",
                {"seen": len(self.faved), "total": self.total},
            )
            self.listing_complete = False
        return FavoritesListedItem(
            photo_ids=list(self.faved), complete=self.listing_complete, full=not self.since,
            watermark=self.newest or self.since,
        )  # fmt: skip

    def photo_item(self, raw: dict[str, Any]) -> PhotoItem:
        return favorite_photo(raw, me=self.creds.user_nsid, web_url=self.web_url)

    def video_source(self, sizes: dict[str, Any]) -> Source | None:
        return best_video_source(sizes)
