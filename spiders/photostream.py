"""photostream: every photo and video of the authenticated account, with everything around it.

The listing runs as one sequential chain: collections (collections.getTree), galleries
(galleries.getList, galleries.getPhotos), albums (photosets.getList, photosets.getPhotos), so
that each photo item already knows its albums and galleries when it reaches the pipelines;
then the photostream itself (people.getPhotos with every useful extra, 500 per page). A photo
costs no API call of its own unless the list says it has comments (photos.comments.getList) or
faves (photos.getFavorites, 50 per page). A video's original URL is built from the list extras
(``originalsecret``); getSizes is asked only when those lack it.

The deep pass (``FLICKR_DEEP_METADATA``: photos.getInfo for notes and tag authors, and
photos.people.getList where getInfo says there are people) starts only when everything else is
done, so originals, captions and comments are on disk before any optional call is spent.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from flickr_crawl.api import PHOTO_EXTRAS, page_of, text
from flickr_crawl.items import AlbumItem, AlbumRef, GalleryItem
from flickr_crawl.mapping import (
    album_from_list,
    collections_of,
    gallery_of,
    photo_from_list,
    video_play_source,
)
from flickr_crawl.paths import album_folders
from spiders.base import STOP
from spiders.metadata import LIST_PRIORITY, PhotoSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import scrapy
    from scrapy.http import Response

    from flickr_crawl.items import PhotoItem

LIST_METHOD = "flickr.people.getPhotos"


class PhotostreamSpider(PhotoSpider):
    name = "photostream"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.albums: dict[str, AlbumItem] = {}
        self.memberships: dict[str, list[AlbumRef]] = defaultdict(list)
        self.album_collections: dict[str, list[str]] = defaultdict(list)
        self.galleries: dict[str, GalleryItem] = {}
        self.gallery_memberships: dict[str, list[str]] = defaultdict(list)

    async def start(self) -> AsyncIterator[Any]:
        yield self.api_request(
            "flickr.collections.getTree", self.parse_collections, priority=LIST_PRIORITY
        )

    # --- collections and galleries ----------------------------------------------------------
    def parse_collections(self, response: Response | None) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        for collection in collections_of(data or {}):
            for album_id in collection.album_ids:
                self.album_collections[album_id].append(collection.id)
            yield collection
        yield self._galleries_page(1)

    def _galleries_page(self, page: int) -> scrapy.Request:
        return self.api_request(
            "flickr.galleries.getList", self.parse_galleries, priority=LIST_PRIORITY,
            user_id=self.creds.user_nsid or None, page=page, per_page=self.per_page,
        )  # fmt: skip

    def parse_galleries(self, response: Response | None) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        container = (data or {}).get("galleries", {})
        rows = container.get("gallery", []) or []
        for raw in rows:
            gallery = gallery_of(raw)
            self.galleries[gallery.id] = gallery
        page = page_of(container, rows)
        if data is not None and not page.last:
            yield self._galleries_page(page.page + 1)
            return
        yield from self._next_gallery(list(self.galleries), 0)

    def _next_gallery(self, ids: list[str], index: int, page: int = 1) -> Iterator[Any]:
        if index >= len(ids):
            yield self._album_list_page(1)
            return
        gallery = self.galleries[ids[index]]
        yield self.api_request(
            "flickr.galleries.getPhotos", self.parse_gallery_photos, priority=LIST_PRIORITY,
            cb_kwargs={"ids": ids, "index": index},
            gallery_id=text(gallery.raw["flickr.galleries.getList"].get("id")) or gallery.id,
            page=page, per_page=self.per_page,
        )  # fmt: skip

    def parse_gallery_photos(
        self, response: Response | None, ids: list[str], index: int
    ) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        gallery = self.galleries[ids[index]]
        container = (data or {}).get("photos", {})
        photos = container.get("photo", []) or []
        for raw in photos:
            gallery.photo_ids.append(str(raw["id"]))
            self.gallery_memberships[str(raw["id"])].append(gallery.id)
        gallery.raw.setdefault("flickr.galleries.getPhotos", []).append(container)
        page = page_of(container, photos)
        if data is not None and not page.last:
            yield from self._next_gallery(ids, index, page.page + 1)
            return
        yield gallery
        yield from self._next_gallery(ids, index + 1)

    # --- albums -----------------------------------------------------------------------------
    def _album_list_page(self, page: int) -> scrapy.Request:
        return self.api_request(
            "flickr.photosets.getList", self.parse_album_list, priority=LIST_PRIORITY,
            page=page, per_page=self.per_page,
        )  # fmt: skip

    def parse_album_list(self, response: Response | None) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        container = (data or {}).get("photosets", {})
        sets = container.get("photoset", [])
        for raw in sets:
            album = album_from_list(raw)
            album.collection_ids = list(self.album_collections.get(album.id, []))
            self.albums[album.id] = album
        page = page_of(container, sets)
        if data is not None and not page.last:
            yield self._album_list_page(page.page + 1)
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
            priority=LIST_PRIORITY,
            cb_kwargs={"album_ids": album_ids, "index": index},
            photoset_id=album_ids[index],
            user_id=self.creds.user_nsid or None,
            page=page,
            per_page=self.per_page,
            extras="media",
        )

    def parse_album_photos(
        self, response: Response | None, album_ids: list[str], index: int
    ) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
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
    def _photos_page(self, page: int, pages: int = 0) -> scrapy.Request:
        return self.api_request(
            LIST_METHOD,
            self.parse_photos,
            priority=LIST_PRIORITY,
            cb_kwargs={"asked": page, "pages": pages},
            user_id="me",
            extras=PHOTO_EXTRAS,
            page=page,
            per_page=self.per_page,
        )

    def parse_photos(
        self, response: Response | None, asked: int = 1, pages: int = 0
    ) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        if data is None:  # this page failed for good (recorded): go on with the next one
            if asked < pages:
                yield self._photos_page(asked + 1, pages)
            return
        container = data.get("photos", {})
        photos = container.get("photo", [])
        page = page_of(container, photos)
        if page.page != asked:  # Flickr clamps deep pages (page 10000): never loop on them
            self.report.failure(LIST_METHOD, f"page={asked}", f"Flickr answered page {page.page}")
            return
        if not page.last:  # keep the listing going while this page's files download
            yield self._photos_page(page.page + 1, page.pages)
        self.crawler.stats.inc_value("flickr/photo/listed", len(photos))  # type: ignore[union-attr]
        for raw in photos:
            item = self.photo_item(raw)
            if self.seen_before(item.id):
                continue
            yield from self.emit_photo(item, raw)

    def photo_item(self, raw: dict[str, Any]) -> PhotoItem:
        item = photo_from_list(
            raw, method=LIST_METHOD, owner=self.creds.user_nsid, web_url=self.web_url
        )
        item.albums = list(self.memberships.get(item.id, []))
        item.galleries = list(self.gallery_memberships.get(item.id, []))
        item.source = item.source or video_play_source(item, self.web_url)
        return item
