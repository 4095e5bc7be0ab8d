"""photostream: every photo and video of the authenticated account, with its albums.

Albums are listed first (photosets.getList, then photosets.getPhotos album after album) so
that each photo item already knows its album folders when it reaches the media pipeline. The
photostream itself comes from people.getPhotos with every useful extra, 500 per page: for a
photo, no per-photo API call is made at all. A video's original URL is built from the list
extras (``originalsecret``); getSizes is asked only when those lack it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from flickr_crawl.api import PHOTO_EXTRAS, page_of
from flickr_crawl.items import AlbumItem, AlbumRef, Source
from flickr_crawl.mapping import album_from_list, photo_from_list, video_original_source
from flickr_crawl.paths import album_folders
from spiders.base import FlickrSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import scrapy
    from scrapy.http import Response

    from flickr_crawl.items import PhotoItem

LIST_METHOD = "flickr.people.getPhotos"


class PhotostreamSpider(FlickrSpider):
    name = "photostream"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.albums: dict[str, AlbumItem] = {}
        self.memberships: dict[str, list[AlbumRef]] = defaultdict(list)

    async def start(self) -> AsyncIterator[Any]:
        yield self.api_request(
            "flickr.photosets.getList", self.parse_album_list, page=1, per_page=self.per_page
        )

    # --- albums -----------------------------------------------------------------------------
    def parse_album_list(self, response: Response) -> Iterator[Any]:
        data = yield from self.api_data(response)
        if data is None:
            return
        container = data.get("photosets", {})
        sets = container.get("photoset", [])
        for raw in sets:
            album = album_from_list(raw)
            self.albums[album.id] = album
        page = page_of(container, sets)
        if not page.last:
            yield self.api_request(
                "flickr.photosets.getList",
                self.parse_album_list,
                page=page.page + 1,
                per_page=self.per_page,
            )
            return
        folders = album_folders((a.id, a.title) for a in self.albums.values())
        for album_id, folder in folders.items():
            self.albums[album_id].folder = folder
        yield from self._next_album(list(self.albums), 0)

    def _next_album(self, album_ids: list[str], index: int, page: int = 1) -> Iterator[Any]:
        if index >= len(album_ids):
            yield self._photos_page(1)
            return
        yield self.api_request(
            "flickr.photosets.getPhotos",
            self.parse_album_photos,
            cb_kwargs={"album_ids": album_ids, "index": index},
            photoset_id=album_ids[index],
            user_id=self.creds.user_nsid or None,
            page=page,
            per_page=self.per_page,
            extras="media",
        )

    def parse_album_photos(
        self, response: Response, album_ids: list[str], index: int
    ) -> Iterator[Any]:
        data = yield from self.api_data(response)
        album = self.albums[album_ids[index]]
        if data is None:  # recorded as a failure; go on with the next album
            yield from self._next_album(album_ids, index + 1)
            return
        container = data.get("photoset", {})
        photos = container.get("photo", [])
        for raw in photos:
            photo_id = str(raw["id"])
            album.photo_ids.append(photo_id)
            self.memberships[photo_id].append(
                AlbumRef(
                    id=album.id,
                    title=album.title,
                    position=len(album.photo_ids),
                    folder=album.folder or "",
                )
            )
        album.raw.setdefault("flickr.photosets.getPhotos", []).append(
            {k: v for k, v in container.items() if k != "photo"}
        )
        page = page_of(container, photos)
        if not page.last:
            yield from self._next_album(album_ids, index, page.page + 1)
            return
        yield album
        yield from self._next_album(album_ids, index + 1)

    # --- photostream ------------------------------------------------------------------------
    def _photos_page(self, page: int) -> scrapy.Request:
        return self.api_request(
            LIST_METHOD,
            self.parse_photos,
            user_id="me",
            extras=PHOTO_EXTRAS,
            page=page,
            per_page=self.per_page,
        )

    def parse_photos(self, response: Response) -> Iterator[Any]:
        data = yield from self.api_data(response)
        if data is None:
            return
        container = data.get("photos", {})
        photos = container.get("photo", [])
        page = page_of(container, photos)
        if not page.last:  # keep the listing going while this page's files download
            yield self._photos_page(page.page + 1)
        self.crawler.stats.inc_value("flickr/photo/listed", len(photos))  # type: ignore[union-attr]
        for raw in photos:
            item = self._photo(raw)
            if item.media == "video" and item.source is None:
                yield self.api_request(
                    "flickr.photos.getSizes",
                    self.parse_video_sizes,
                    cb_kwargs={"raw": raw},
                    photo_id=item.id,
                )
            else:
                yield item

    def parse_video_sizes(self, response: Response, raw: dict[str, Any]) -> Iterator[Any]:
        item = self._photo(raw)
        data = yield from self.api_data(response)
        if data is not None:
            item.raw["flickr.photos.getSizes"] = data.get("sizes", {})
            item.source = video_original_source(data)
        yield item

    def _photo(self, raw: dict[str, Any]) -> PhotoItem:
        item = photo_from_list(
            raw, method=LIST_METHOD, owner=self.creds.user_nsid, web_url=self.web_url
        )
        item.albums = list(self.memberships.get(item.id, []))
        if item.media == "video" and item.original_secret:
            # The owner's getSizes lists exactly this URL as "Video Original".
            item.source = Source(
                url=f"{self.web_url.rstrip('/')}/photos/{item.path_alias or item.owner}/"
                f"{item.id}/play/orig/{item.original_secret}/",
                label="Video Original",
                is_original=True,
            )
        return item
