"""redownload: fetch again just the photos and videos named, or everything missing or broken.

    scrapy crawl redownload -a ids=missing.csv     (ids one per line, or findmissing's CSV)
    scrapy crawl redownload -a missing=1           (what findmissing lists, and what verify
                                                   --fix marked broken)

Items are rebuilt from catalog.db (the list payload stored with each photo, its albums and
galleries), so this costs no API call; the media pipeline downloads them again even where a
sidecar says the file is complete, and the sidecar and catalog pipelines update the records.
Video originals use the web session (``scrapy weblogin``) like a normal crawl.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flickr_crawl.archive.integrity import find_missing, read_ids
from flickr_crawl.archive.paths import CATALOG_NAME, album_folders, archive_dir
from flickr_crawl.catalog.db import open_archive_catalog
from flickr_crawl.catalog.views import (
    album_titles,
    file_path,
    items_from_catalog,
    photo_albums,
    photo_galleries,
)
from flickr_crawl.items import AlbumRef
from spiders.base import FlickrSpider

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import AsyncIterator

    from flickr_crawl.items import PhotoItem


class RedownloadSpider(FlickrSpider):
    name = "redownload"

    def __init__(self, ids: str = "", missing: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self.ids_file = ids
        self.missing = missing not in ("", "0", "false", "no")

    async def start(self) -> AsyncIterator[Any]:
        archive = archive_dir(self.settings)
        db = open_archive_catalog(archive)
        try:
            wanted = read_ids(Path(self.ids_file)) if self.ids_file else []
            if self.missing:
                wanted += [p.id for p in find_missing(archive, db)]
            wanted = list(dict.fromkeys(wanted))
            items = items_from_catalog(
                archive / CATALOG_NAME, wanted, me=self.creds.user_nsid, web_url=self.web_url
            )
            folders = album_folders(album_titles(db))
            for photo_id in wanted:
                if photo_id not in items:
                    self.report.failure(
                        "redownload", photo_id, "not in catalog.db: back it up first"
                    )
                elif items[photo_id].collection != "favorites":
                    self._file(db, items[photo_id], folders)
        finally:
            db.close()
        self.logger.info("Redownloading %(n)s photos and videos", {"n": len(items)})
        for item in items.values():
            item.force_download = True  # the media pipeline: "complete" records do not count
            yield item

    def _file(self, db: sqlite3.Connection, item: PhotoItem, folders: dict[str, str]) -> None:
        """Its albums and galleries as catalog.db has them; the file stays in its folder."""
        item.albums = [
            AlbumRef(id=album_id, title=title, position=position,
                     folder=folders.get(album_id, ""))
            for album_id, title, position in photo_albums(db, item.id)
        ]  # fmt: skip
        # Keep the file where it was: its current folder first (the others get links).
        current = file_path(db, item.id)
        here = str(Path(current).parent) if current else None
        item.albums.sort(key=lambda ref: ref.folder != here)
        item.galleries = photo_galleries(db, item.id)
