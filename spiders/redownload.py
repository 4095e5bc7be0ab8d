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

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flickr_crawl.integrity import find_missing, open_archive_catalog, read_ids
from flickr_crawl.items import AlbumRef
from flickr_crawl.mapping import (
    FAVORITES_METHOD,
    best_video_source,
    favorite_photo,
    photo_from_list,
    video_play_source,
)
from flickr_crawl.paths import album_folders
from spiders.base import FlickrSpider

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import AsyncIterator

    from flickr_crawl.items import PhotoItem


SIZES_METHOD = "flickr.photos.getSizes"


class RedownloadSpider(FlickrSpider):
    name = "redownload"
    force_download = True  # read by the media pipeline: ignore "complete" sidecars

    def __init__(self, ids: str = "", missing: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self.ids_file = ids
        self.missing = missing not in ("", "0", "false", "no")

    async def start(self) -> AsyncIterator[Any]:
        archive = Path(self.settings.get("FLICKR_ARCHIVE_DIR"))
        db = open_archive_catalog(archive)
        try:
            wanted = read_ids(Path(self.ids_file)) if self.ids_file else []
            if self.missing:
                wanted += [p.id for p in find_missing(archive, db)]
            albums = db.execute("select id, title from albums").fetchall()
            folders = album_folders((r["id"], r["title"] or "") for r in albums)
            items = [self._item(db, photo_id, folders) for photo_id in dict.fromkeys(wanted)]
        finally:
            db.close()
        self.logger.info("Redownloading %(n)s photos and videos", {"n": len(items)})
        for item in items:
            if item is not None:
                yield item

    def _item(
        self, db: sqlite3.Connection, photo_id: str, folders: dict[str, str]
    ) -> PhotoItem | None:
        row = db.execute("select raw from photos where id = ?", (photo_id,)).fetchone()
        raw = json.loads(row["raw"]) if row and row["raw"] else {}
        method, listed = next(iter(raw.items()), (None, None))
        if not listed:
            self.report.failure("redownload", photo_id, "not in catalog.db: back it up first")
            return None
        if method == FAVORITES_METHOD:
            item = favorite_photo(listed, me=self.creds.user_nsid, web_url=self.web_url)
            if item.media == "video" and item.source is None and raw.get(SIZES_METHOD):
                item.source = best_video_source({"sizes": raw[SIZES_METHOD]})
            return item
        item = photo_from_list(listed, method=method, owner=self.creds.user_nsid,
                               web_url=self.web_url)  # fmt: skip
        item.albums = [
            AlbumRef(id=r["album_id"], title=r["title"] or "", position=r["position"],
                     folder=folders.get(r["album_id"], ""))
            for r in db.execute(
                "select ap.album_id, a.title, ap.position from album_photos ap"
                " join albums a on a.id = ap.album_id where ap.photo_id = ?", (photo_id,))
        ]  # fmt: skip
        # Keep the file where it was: its current folder first (the others get links).
        current = db.execute("select path from files where photo_id = ?", (photo_id,)).fetchone()
        here = str(Path(current["path"]).parent) if current and current["path"] else None
        item.albums.sort(key=lambda ref: ref.folder != here)
        item.galleries = [r[0] for r in db.execute(
            "select gallery_id from gallery_photos where photo_id = ?", (photo_id,))]  # fmt: skip
        item.source = item.source or video_play_source(item, self.web_url)
        return item
