"""photostream: every photo and video of the authenticated account, with everything around it.

The listing runs as one sequential chain: collections (collections.getTree), galleries
(galleries.getList, galleries.getPhotos), albums (photosets.getList, photosets.getPhotos), so
that each photo item already knows its albums and galleries when it reaches the pipelines;
then the photostream itself (people.getPhotos with every useful extra, 500 per page). A photo
costs no API call of its own unless the list says it has comments (photos.comments.getList) or
faves (photos.getFavorites, 50 per page). A video's original URL is built from the list extras
(``originalsecret``); getSizes is asked only when those lack it.

An incremental run ends its listing with flickr.activity.userPhotos (at most once per
``FLICKR_ACTIVITY_MIN_INTERVAL``): a new fave changes no photo's ``lastupdate``, so the photos
it names get their comments and faves (and, for notes, getInfo) fetched again, as their events
say, even when nothing else of them changed. When the last check lies further back than
``ACTIVITY_MAX_GAP``, the run lists the whole photostream instead. A changed photo's getInfo
waits for that answer: none is asked when new comments alone moved its lastupdate.

The deep pass (``FLICKR_DEEP_METADATA_ENABLED``: photos.getInfo for notes and tag authors,
and photos.people.getList where getInfo says there are people) starts only when everything
else is done, so originals, captions and comments are on disk before any optional call is spent.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any, NamedTuple

from scrapy import signals

from flickr_crawl.archive.paths import album_folders
from flickr_crawl.catalog.lastrun import CatalogView, gallery_counts
from flickr_crawl.catalog.views import note_counts
from flickr_crawl.extensions.lastrun import last_run
from flickr_crawl.flickr.api import (
    ACTIVITY_PER_PAGE,
    ACTIVITY_USER_PHOTOS,
    COLLECTIONS_GET_TREE,
    GALLERIES_GET_LIST,
    GALLERIES_GET_PHOTOS,
    PEOPLE_GET_INFO,
    PEOPLE_GET_PHOTOS,
    PHOTO_EXTRAS,
    PHOTOS_PEOPLE_GET_LIST,
    PHOTOS_RECENTLY_UPDATED,
    PHOTOSETS_GET_LIST,
    PHOTOSETS_GET_PHOTOS,
    URLS_LOOKUP_USER,
    BadResponse,
    FlickrApiError,
    activity_timeframe,
    parse_envelope,
    text,
    to_int,
)
from flickr_crawl.flickr.export import ExportError, ExportIndex, export_date_text, open_export
from flickr_crawl.flickr.mapping import (
    NSID,
    activity_of,
    album_from_list,
    collections_of,
    comments_from_export,
    export_comment_refs,
    gallery_of,
    info_from_export,
    photo_from_list,
    since_timestamp,
    user_from_person,
    user_of,
    video_play_source,
)
from flickr_crawl.items import (
    ActivityPolledItem,
    AlbumItem,
    AlbumRef,
    GalleryItem,
    InfoOwedItem,
    OldAlbumFolderItem,
    PhotostreamListedItem,
)
from spiders.base import STOP, ListPage, requests_first
from spiders.metadata import LIST_PRIORITY, PHOTO_PRIORITY, PhotoSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from typing import Self

    import scrapy
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from flickr_crawl.catalog.lastrun import Known
    from flickr_crawl.items import PhotoItem, User

LIST_METHOD = PEOPLE_GET_PHOTOS
UPDATED_METHOD = PHOTOS_RECENTLY_UPDATED
# How far back flickr.activity.userPhotos is trusted to reach. Flickr documents no maximum
# timeframe, only a default ("since the beginning of the previous user session") and one call
# an hour: a feed of recent activity. Thirty days covers any daily or weekly schedule; a
# longer gap (the last clean run long ago) gets a sweep, which compares every photo's counts.
ACTIVITY_MAX_GAP = 30 * 86400


# Fields of a list entry left out when telling whether the photo itself changed: counts that
# move without an edit, and what is not Flickr's word on the photo (this run's albums, file).
NOT_AN_EDIT = frozenset({
    "last_update", "last_update_unix", "views", "count_comments", "count_faves", "raw",
    "albums", "galleries", "camera", "file", "poster_file", "force_download", "collection",
    "date_faved", "owner_user",
})  # fmt: skip


class Waiting(NamedTuple):
    """A changed photo whose getInfo waits for recent activity, as its listing found it."""

    last_update: int  # its new lastupdate
    same_listing: bool  # its list entry says what catalog.db stored, but for counts
    notes: int | None  # the notes catalog.db holds for it (None: could not be read)


def _listed_fields(item: PhotoItem) -> dict[str, Any]:
    """What a photo's list entry says that an edit of the photo changes (a file by its key,
    not its URL's host)."""
    fields = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)
              if f.name not in NOT_AN_EDIT}  # fmt: skip
    for name in ("source", "poster"):
        if fields.get(name) is not None:
            fields[name] = {**dataclasses.asdict(fields[name]), "url": None}
    return fields


def _comments_alone(entry: dict[str, Any], waiting: Waiting) -> bool:
    """Did new comments alone move the photo's lastupdate? Its activity shows comments (and
    perhaps faves, which move none) and nothing else, no more events than shown, no newer
    change than its newest comment, its notes as counted before; and its list entry (title,
    description, tags, dates, geo, licence, privacy, file) is as stored."""
    kinds = set(entry.get("kinds", []))
    return (
        "comment" in kinds
        and kinds <= {"comment", "fave"}
        and "info" not in entry.get("parts", [])
        and entry.get("last_comment", 0) >= waiting.last_update
        and waiting.notes is not None
        and entry.get("notes") == waiting.notes
        and waiting.same_listing
    )


def _has_uploads_since(photos: list[dict[str, Any]], cutoff: int) -> bool:
    """Newest first: does the page end on a photo uploaded after the cutoff (more may follow)?"""
    return bool(photos) and to_int(photos[-1].get("dateupload"), 0) >= cutoff


class PhotostreamSpider(PhotoSpider):
    name = "photostream"

    def __init__(self, *args: Any, since: str = "", export: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.since = since_timestamp(since) if since else 0
        self.export_dir = export  # Flickr's account export: originals and deep metadata
        self.export: ExportIndex | None = None
        # Comments from the export: its authors by profile URL segment (None: not found on
        # Flickr, so those photos' comments come from the API), looked up once each.
        self.export_users: dict[str, User | None] = {}
        self.resolving: set[str] = set()
        self.comment_waits: dict[str, tuple[set[str], str]] = {}  # photo id: (refs, page)
        self.export_comments: dict[str, str] = {}  # photo id: page URL
        self.mode = "sweep"  # or incremental, since: decided in from_crawler
        self.view = CatalogView()
        self.total = 0  # the photostream's size, as people.getPhotos' first page says
        self.cutoff = 0  # incremental: changes since this unix time
        self.swept = False  # every photostream page was listed
        self.sweep_reason = ""  # why an incremental run lists the whole photostream instead
        self.activity_since = 0  # incremental: ask activity.userPhotos back to here (0: don't)
        self.activity_asked = False
        self.activity_complete = False  # its every page was read
        self.deep_waiting: dict[str, Waiting] = {}  # getInfo decided once activity answers
        self.listing_complete = True  # no photostream page failed
        self.albums_complete = True  # no album list page failed
        self.albums: dict[str, AlbumItem] = {}
        self.memberships: dict[str, list[AlbumRef]] = defaultdict(list)
        self.album_collections: dict[str, list[str]] = defaultdict(list)
        self.galleries: dict[str, GalleryItem] = {}
        self.gallery_memberships: dict[str, list[str]] = defaultdict(list)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.view = last_run(crawler).view_for(spider.creds.user_nsid)
        spider.started = int(time.time())
        every = settings.getint("FLICKR_SWEEP_EVERY", 7)
        due = every > 0 and spider.view.runs_since_sweep >= every
        if spider.since:
            spider.mode = "since"
        elif not (spider.full or due or not spider.view.watermark):
            spider.mode = "incremental"
            spider.cutoff = spider.view.watermark - settings.getint("FLICKR_SYNC_OVERLAP", 3600)
            spider.plan_activity(
                settings.getint("FLICKR_ACTIVITY_MIN_INTERVAL", 3600),
                settings.getint("FLICKR_SYNC_OVERLAP", 3600),
            )
        owed = sum(1 for known in spider.known.values() if known.info_owed and known.listed)
        if owed and spider.deep and (spider.full or spider.info_debts_due()):
            spider.logger.info(
                "Deep pass: photos.getInfo asked again where an incremental run skipped it "
                "(new comments alone had changed the photo): %(n)s owed", {"n": owed},
            )  # fmt: skip
        spider.logger.info(
            "Listing: %(how)s", {"how": {
                "sweep": "the whole photostream",
                "incremental": "changes since "
                + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(max(spider.cutoff, 0))),
                "since": "photos uploaded since "
                + time.strftime("%Y-%m-%d", time.gmtime(spider.since)),
            }[spider.mode]},
        )  # fmt: skip
        return spider

    def info_debts_due(self) -> bool:
        """A sweep (every ``FLICKR_SWEEP_EVERY`` runs, or after a long gap) asks the getInfo
        incremental runs skipped; ``-a full=1`` asks every photo's anyway."""
        return self.mode == "sweep"

    def open_export(self) -> None:
        """Index the account's export (``-a export=DIR``); its notes are logged, one line each."""
        try:
            self.export = open_export(self.export_dir, expect_nsid=self.creds.user_nsid)
        except ExportError as exc:
            self.report.fatal(str(exc))
            return
        self.crawler.signals.connect(self.export.close, signal=signals.spider_closed)
        index = self.export
        self.logger.info(
            "Export of %(nsid)s made %(date)s: %(photos)s photo files, %(media)s originals",
            {"nsid": index.nsid, "date": export_date_text(index.export_date),
             "photos": len(index.photos), "media": len(index.media)},
        )  # fmt: skip
        for note in index.notes:
            self.logger.warning("Export: %(note)s", {"note": note})
        self.crawler.stats.set_value("flickr/export/notes", len(index.notes))  # type: ignore[union-attr]

    def emit_photo(
        self, item: PhotoItem, raw: dict[str, Any], *, skip_unchanged: bool = False
    ) -> Iterator[Any]:
        """As every photo, but its deep metadata from the export's JSON where that can stand
        in for photos.getInfo (then no getInfo is asked for it)."""
        from_export = self._export_info(item)
        if from_export is not None:
            self.no_deep.add(item.id)
        data = self._export_data(item)
        if data is not None and len(data.get("comments") or []) == item.count_comments:
            self.export_comments[item.id] = item.page_url
            owner = user_of(item.raw.get(LIST_METHOD) or {}, self.web_url, nsid_key="owner")
            for ref in (owner.nsid, owner.path_alias):
                if ref:
                    self.export_users.setdefault(ref, owner)
        yield from super().emit_photo(item, raw, skip_unchanged=skip_unchanged)
        if from_export is None or item.id not in self.emitted or item.id in self.deep_done:
            return
        data, names_people = from_export
        if names_people:
            yield self.api_request(
                PHOTOS_PEOPLE_GET_LIST, self.parse_export_people, priority=PHOTO_PRIORITY,
                cb_kwargs={"photo_id": item.id, "listed": raw}, photo_id=item.id,
            )  # fmt: skip
            return
        info = info_from_export(item.id, data, raw, None, self.web_url)
        if info is not None:
            self.deep_stored(item.id)
            self.crawler.stats.inc_value("flickr/export/info")  # type: ignore[union-attr]
            yield info

    def _export_data(self, item: PhotoItem) -> dict[str, Any] | None:
        """The export's JSON of this photo, if nothing changed on Flickr since the export."""
        index = self.export
        if index is None or item.id not in index.photos:
            return None
        if item.last_update_unix > index.export_date:
            return None
        return index.photo(item.id)

    # --- comments from the export: each author looked up once (people.getInfo) -------------
    def _per_photo_calls(self, photo_id: str, comments: int, faves: int) -> Iterator[Any]:
        page = self.export_comments.pop(photo_id, None)
        if comments > 0 and page is not None:
            yield from self._comments_from_export(photo_id, page)
            comments = 0
        yield from super()._per_photo_calls(photo_id, comments, faves)

    def _comments_from_export(self, photo_id: str, page: str) -> Iterator[Any]:
        data = self.export.photo(photo_id) if self.export is not None else None
        refs = export_comment_refs(data or {})
        if data is None or any(self.export_users.get(r, "") is None for r in refs):
            yield from PhotoSpider._per_photo_calls(self, photo_id, 1, 0)
            return
        missing = {r for r in refs if r not in self.export_users}
        if not missing:
            yield from self._export_comments_item(photo_id, page)
            return
        self.comment_waits[photo_id] = (missing, page)
        for ref in sorted(missing - self.resolving):
            self.resolving.add(ref)
            if NSID.match(ref):
                yield self._user_request(ref, ref)
            else:
                yield self.api_request(
                    URLS_LOOKUP_USER, self.parse_export_lookup, priority=PHOTO_PRIORITY,
                    cb_kwargs={"ref": ref}, url=f"{self.web_url.rstrip('/')}/photos/{ref}/",
                )  # fmt: skip

    def _user_request(self, ref: str, nsid: str) -> scrapy.Request:
        return self.api_request(
            PEOPLE_GET_INFO, self.parse_export_user, priority=PHOTO_PRIORITY,
            cb_kwargs={"ref": ref}, user_id=nsid,
        )  # fmt: skip

    def _export_comments_item(self, photo_id: str, page: str) -> Iterator[Any]:
        data = self.export.photo(photo_id) if self.export is not None else None
        users = {ref: user for ref, user in self.export_users.items() if user is not None}
        item = comments_from_export(photo_id, data, users, page) if data is not None else None
        if item is None:
            yield from PhotoSpider._per_photo_calls(self, photo_id, 1, 0)
            return
        self.crawler.stats.inc_value("flickr/export/comments")  # type: ignore[union-attr]
        yield item

    def _user_answer(self, response: Response | None) -> dict[str, Any] | None:
        """A lookup's answer, or None: a user Flickr does not find (deleted) is no failure of
        the backup, their comments are asked for through the API instead."""
        if response is None:
            return None
        try:
            return parse_envelope(response.body)
        except (BadResponse, FlickrApiError):
            self.crawler.stats.inc_value("flickr/export/user_not_found")  # type: ignore[union-attr]
            return None

    def parse_export_lookup(self, response: Response | None, ref: str) -> Iterator[Any]:
        data = self._user_answer(response)
        nsid = text((data or {}).get("user", {}).get("id"))
        if not nsid:
            yield from self._resolved(ref, None)
        elif self.export_users.get(nsid) is not None:
            yield from self._resolved(ref, self.export_users[nsid])
        else:
            yield self._user_request(ref, nsid)

    def parse_export_user(self, response: Response | None, ref: str) -> Iterator[Any]:
        data = self._user_answer(response)
        person = (data or {}).get("person")
        user = user_from_person(person, self.web_url) if isinstance(person, dict) else None
        if user is not None:
            self.export_users[user.nsid] = user
        yield from self._resolved(ref, user)

    def _resolved(self, ref: str, user: User | None) -> Iterator[Any]:
        """A comment author is known (or not found): the photos waiting for them go on."""
        self.export_users[ref] = user
        self.resolving.discard(ref)
        for photo_id, (missing, page) in list(self.comment_waits.items()):
            if ref not in missing:
                continue
            missing.discard(ref)
            if user is None:
                del self.comment_waits[photo_id]
                yield from PhotoSpider._per_photo_calls(self, photo_id, 1, 0)
            elif not missing:
                del self.comment_waits[photo_id]
                yield from self._export_comments_item(photo_id, page)

    def _export_info(self, item: PhotoItem) -> tuple[dict[str, Any], bool] | None:
        """The export's JSON of this photo and whether it names people, when it can stand in
        for photos.getInfo: in the export, unchanged since, and its tags and notes by the
        owner (a check made again when the item is built)."""
        index = self.export
        if index is None or item.id not in index.photos:
            return None
        if item.last_update_unix > index.export_date:
            self.crawler.stats.inc_value("flickr/export/changed_since")  # type: ignore[union-attr]
            return None
        data = index.photo(item.id)
        if data is None:
            return None
        names_people = bool(data.get("people"))
        raw = item.raw.get(LIST_METHOD) or {}
        people = {"people": {"person": []}} if names_people else None
        if info_from_export(item.id, data, raw, people, self.web_url) is None:
            self.crawler.stats.inc_value("flickr/export/info_from_api")  # type: ignore[union-attr]
            return None
        return data, names_people

    def parse_export_people(
        self, response: Response | None, photo_id: str, listed: dict[str, Any]
    ) -> Iterator[Any]:
        data = yield from self.api_data(response)
        if data is STOP:
            return
        export = self.export.photo(photo_id) if self.export is not None else None
        info = None
        if data is not None and export is not None:
            info = info_from_export(photo_id, export, listed, data, self.web_url)
        if info is None:  # getInfo after all, in the deep pass
            self.no_deep.discard(photo_id)
            return
        self.deep_stored(photo_id)
        self.crawler.stats.inc_value("flickr/export/info")  # type: ignore[union-attr]
        yield info

    def plan_activity(self, min_interval: int, overlap: int) -> None:
        """Incremental: will this run ask flickr.activity.userPhotos, and back to when?

        Back to the last clean run whose new comments and faves are all in (less the
        overlap); when that is more than ``ACTIVITY_MAX_GAP`` ago, this run sweeps instead.
        Not within ``min_interval`` of the last call (Flickr: once an hour at most): those
        faves wait for the next run that asks, which reaches back to the same point.
        """
        since = (self.view.activity_watermark or self.view.watermark) - overlap
        gap = self.started - since
        if gap > ACTIVITY_MAX_GAP:
            self.mode, self.cutoff = "sweep", 0
            self.sweep_reason = (
                f"new comments and faves were last checked {gap // 86400} days ago, longer "
                f"than flickr.activity.userPhotos is trusted to reach back "
                f"({ACTIVITY_MAX_GAP // 86400} days)"
            )
            self.logger.info("Sweep: %(why)s", {"why": self.sweep_reason})
            return
        ago = self.started - self.view.activity_last_call
        if ago < min_interval:
            self.logger.info(
                "Recent activity: not asked this run (asked %(ago)s s ago; "
                "FLICKR_ACTIVITY_MIN_INTERVAL is %(interval)s s)",
                {"ago": ago, "interval": min_interval},
            )
            return
        self.activity_since = since

    async def start(self) -> AsyncIterator[Any]:
        if self.export_dir:
            self.open_export()
            if self.export is None:
                return  # the export cannot be used: said once (report.fatal), exit 1
        self.crawler.stats.set_value("flickr/listing/mode", self.mode)  # type: ignore[union-attr]
        if self.sweep_reason:
            self.crawler.stats.set_value("flickr/listing/sweep_reason", self.sweep_reason)  # type: ignore[union-attr]
        yield self.api_request(COLLECTIONS_GET_TREE, self.parse_collections, priority=LIST_PRIORITY)

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
            GALLERIES_GET_LIST, self.parse_galleries, priority=LIST_PRIORITY,
            user_id=self.creds.user_nsid or None, page=page, per_page=self.per_page,
        )  # fmt: skip

    def parse_galleries(self, response: Response | None) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        listed = self.list_page(response, data, "galleries", "gallery")
        for raw in listed.rows:
            gallery = gallery_of(raw)
            self.galleries[gallery.id] = gallery
        if not listed.last:
            yield self.next_page(listed)
            return
        changed = []
        for gallery in self.galleries.values():
            known = self.view.galleries.get(gallery.id)
            counts = gallery_counts(gallery.raw[GALLERIES_GET_LIST])
            if (
                self.full
                or known is None
                or not known.same_as(gallery.title, gallery.date_update, counts)
            ):
                changed.append(gallery.id)
                continue
            gallery.photo_ids = list(known.photo_ids)  # as stored: nothing to save again
            for photo_id in gallery.photo_ids:
                self.gallery_memberships[photo_id].append(gallery.id)
        self.crawler.stats.set_value(  # type: ignore[union-attr]
            "flickr/gallery/unchanged", len(self.galleries) - len(changed)
        )
        yield from self._next_gallery(changed, 0)

    def _next_gallery(self, ids: list[str], index: int) -> Iterator[Any]:
        if index >= len(ids):
            yield self._album_list_page(1)
            return
        gallery = self.galleries[ids[index]]
        yield self.api_request(
            GALLERIES_GET_PHOTOS, self.parse_gallery_photos, priority=LIST_PRIORITY,
            cb_kwargs={"ids": ids, "index": index},
            gallery_id=text(gallery.raw[GALLERIES_GET_LIST].get("id")) or gallery.id,
            page=1, per_page=self.per_page,
        )  # fmt: skip

    def parse_gallery_photos(
        self, response: Response | None, ids: list[str], index: int
    ) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        gallery = self.galleries[ids[index]]
        listed = self.list_page(response, data, "photos", "photo")
        for raw in listed.rows:
            gallery.photo_ids.append(str(raw["id"]))
            self.gallery_memberships[str(raw["id"])].append(gallery.id)
        gallery.raw.setdefault(GALLERIES_GET_PHOTOS, []).append(listed.container)
        if not listed.last:
            yield self.next_page(listed)
            return
        yield gallery
        yield from self._next_gallery(ids, index + 1)

    # --- albums -----------------------------------------------------------------------------
    def _album_list_page(self, page: int) -> scrapy.Request:
        return self.api_request(
            PHOTOSETS_GET_LIST, self.parse_album_list, priority=LIST_PRIORITY,
            page=page, per_page=self.per_page,
        )  # fmt: skip

    def parse_album_list(self, response: Response | None) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        if data is None:
            self.albums_complete = False
        listed = self.list_page(response, data, "photosets", "photoset")
        for raw in listed.rows:
            album = album_from_list(raw)
            album.collection_ids = list(self.album_collections.get(album.id, []))
            self.albums[album.id] = album
        if not listed.last:
            yield self.next_page(listed)
            return
        folders = album_folders((a.id, a.title) for a in self.albums.values())
        changed = []
        for album_id, folder in folders.items():
            album = self.albums[album_id]
            album.folder = folder
            known = self.view.albums.get(album_id)
            if known is not None and known.folder and known.folder != folder:
                yield OldAlbumFolderItem(id=album_id, title=known.title, folder=known.folder)
            counts = (album.count_photos, album.count_videos)
            if (
                self.full
                or known is None
                or not known.same_as(album.title, album.date_update, counts)
            ):
                changed.append(album_id)
            elif known.folder == folder:
                album.photo_ids = list(known.photo_ids)  # as stored: nothing to save again
            else:  # same photos, new folder: saved again for the folder's sake
                album.photo_ids = list(known.photo_ids)
                album.raw[PHOTOSETS_GET_PHOTOS] = []
                yield album
        if self.albums_complete:
            for album_id, known in self.view.albums.items():
                if album_id not in self.albums:
                    yield OldAlbumFolderItem(
                        id=album_id, title=known.title, folder=known.folder, deleted=True
                    )
        self.crawler.stats.set_value(  # type: ignore[union-attr]
            "flickr/album/unchanged", len(self.albums) - len(changed)
        )
        yield from self._next_album(changed, 0)

    def _next_album(self, album_ids: list[str], index: int) -> Iterator[Any]:
        if index >= len(album_ids):
            self._file_photos()
            yield from self._first_photos_page()
            return
        yield self.api_request(
            PHOTOSETS_GET_PHOTOS,
            self.parse_album_photos,
            priority=LIST_PRIORITY,
            cb_kwargs={"album_ids": album_ids, "index": index},
            photoset_id=album_ids[index],
            user_id=self.creds.user_nsid or None,
            page=1,
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
            known = self.view.albums.get(album.id)
            album.photo_ids = list(known.photo_ids) if known else []  # the best we know
            yield from self._next_album(album_ids, index + 1)
            return
        listed = self.list_page(response, data, "photoset", "photo")
        album.photo_ids.extend(str(raw["id"]) for raw in listed.rows)
        album.raw.setdefault(PHOTOSETS_GET_PHOTOS, []).append(
            {k: v for k, v in listed.container.items() if k != "photo"}
        )
        if not listed.last:
            yield self.next_page(listed)
            return
        yield album
        yield from self._next_album(album_ids, index + 1)

    def _file_photos(self) -> None:
        """Each photo's album references, in Flickr's album order (the first is its folder)."""
        for album in self.albums.values():
            for position, photo_id in enumerate(album.photo_ids, start=1):
                self.memberships[photo_id].append(
                    AlbumRef(id=album.id, title=album.title, position=position,
                             folder=album.folder or "")
                )  # fmt: skip

    # --- photostream ---------------------------------------------------------------------
    # sweep: every page (first run, -a full=1, every FLICKR_SWEEP_EVERY runs, or when the
    # account's total shows photos gone); incremental: the newest pages while they hold new
    # uploads, then photos.recentlyUpdated since the watermark; since: min_upload_date.
    def _first_photos_page(self) -> Iterator[Any]:
        params = {"min_upload_date": self.since} if self.mode == "since" else {}
        yield self._photos_page(LIST_METHOD, 1, **params)

    def _photos_page(self, method: str, page: int, pages: int = 0, **params: Any) -> scrapy.Request:
        return self.api_request(
            method,
            self.parse_photos,
            priority=LIST_PRIORITY,
            cb_kwargs={"asked": page, "pages": pages, "params": params},
            extras=PHOTO_EXTRAS,
            page=page,
            per_page=self.per_page,
            **({"user_id": "me"} if method == LIST_METHOD else {}),
            **params,
        )

    def parse_photos(
        self,
        response: Response | None,
        asked: int = 1,
        pages: int = 0,
        params: dict[str, Any] | None = None,
    ) -> Iterator[Any]:
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        params = params or {}
        method = LIST_METHOD if "min_date" not in params else UPDATED_METHOD
        if data is None:  # this page failed for good (recorded): go on with the next one
            self.listing_complete = False
            if asked < pages:
                yield self._photos_page(method, asked + 1, pages, **params)
            else:
                yield from self._after_page(method, None, params)
            return
        listed = self.list_page(response, data, "photos", "photo")
        page = listed.page
        if page.page != asked:  # Flickr clamps deep pages (page 10000): never loop on them
            self.report.failure(method, f"page={asked}", f"Flickr answered page {page.page}")
            self.listing_complete = False
            yield from self._after_page(method, None, params)
            return
        if method == LIST_METHOD and asked == 1:
            self.listing_total(page.total)  # the account's, or the uploads since (-a since)
            if not params:
                self.total = page.total
                self.plan_deep(page.total)
        self.crawler.stats.inc_value("flickr/photo/listed", len(listed.rows))  # type: ignore[union-attr]
        yield from requests_first(self._page_photos(method, listed, params))

    def _page_photos(self, method: str, listed: ListPage, params: dict[str, Any]) -> Iterator[Any]:
        emit_all = self.mode in ("sweep", "since")
        for raw in listed.rows:
            item = self.read_entry(raw, method)
            if item is None:
                self.listing_complete = False  # never take its photo for deleted
                continue
            repeated = self.seen_before(item.id)
            if repeated and (method == LIST_METHOD or item.id in self.emitted):
                continue
            yield from self.emit_photo(item, raw, skip_unchanged=not emit_all)
        if method == LIST_METHOD and not params and listed.last:
            self.swept = True  # every page, from the first: a full listing
        yield from self._after_page(method, listed, params)

    def _after_page(
        self, method: str, listed: ListPage | None, params: dict[str, Any]
    ) -> Iterator[Any]:
        """What this run asks for after a page: the next page, the changes, or the end."""
        if listed is None or listed.last:
            more = None
        else:
            more = self.next_page(listed, asked=listed.page.page + 1, pages=listed.page.pages)
        if method == LIST_METHOD and more is not None and self.mode != "incremental":
            yield more
            return
        if method == LIST_METHOD and self.mode == "incremental":
            if more is not None and (self.swept or _has_uploads_since(listed.rows, self.cutoff)):  # type: ignore[union-attr]
                yield more
                return
            if more is not None and not self.swept and self._count_changed():
                self.swept = True  # walk the rest: only a full listing shows what is gone
                yield more
                return
            yield self._photos_page(UPDATED_METHOD, 1, min_date=self.cutoff)
            return
        if method == UPDATED_METHOD and more is not None:
            yield more
            return
        yield from self._after_listing()

    # --- recent activity: new comments, faves and notes -------------------------------------
    def _after_listing(self) -> Iterator[Any]:
        """The photostream is listed: ask for recent activity if this run does, else finish."""
        if not self.activity_since or self.activity_asked:
            yield from self._finish_listing()
            return
        self.activity_asked = True
        now = int(time.time())
        timeframe = activity_timeframe(now - self.activity_since)
        self.crawler.stats.set_value("flickr/activity/timeframe", timeframe)  # type: ignore[union-attr]
        self.logger.info(
            "Recent activity: new comments, faves and notes of the last %(timeframe)s",
            {"timeframe": timeframe},
        )
        yield ActivityPolledItem(at=now)
        yield self.api_request(
            ACTIVITY_USER_PHOTOS, self.parse_activity, priority=LIST_PRIORITY,
            cb_kwargs={"named": {}}, timeframe=timeframe, page=1, per_page=ACTIVITY_PER_PAGE,
        )  # fmt: skip

    def parse_activity(
        self, response: Response | None, named: dict[str, dict[str, Any]]
    ) -> Iterator[Any]:
        """One page of recent activity: each photo's parts to fetch again, then (last page)
        those fetches, then the end of the listing."""
        data = yield from self.api_data(response, listing=True)
        if data is STOP:
            return
        listed = self.list_page(response, data, "items", "item")
        for raw in listed.rows:
            try:
                activity = activity_of(raw, owner=self.creds.user_nsid)
            except BadResponse as exc:
                subject = str(raw.get("id", "?")) if isinstance(raw, dict) else "?"
                self.report.failure(ACTIVITY_USER_PHOTOS, subject, f"unreadable item: {exc}")
                continue
            if activity is None:
                continue  # an album's comments, or someone else's photo
            parts = set(activity.parts)
            known = self.known.get(activity.photo_id)
            if known is not None and activity.comments not in (None, known.comments):
                parts.add("comments")
            if known is not None and activity.faves not in (None, known.faves):
                parts.add("faves")
            entry = named.setdefault(activity.photo_id, {"parts": []})
            entry["parts"] = sorted(set(entry["parts"]) | parts)
            entry["kinds"] = sorted(set(entry.get("kinds", [])) | activity.kinds)
            entry["last_comment"] = max(entry.get("last_comment", 0), activity.last_comment)
            entry.update(comments=activity.comments, faves=activity.faves, views=activity.views,
                         notes=activity.notes)  # fmt: skip
        if not listed.last:
            yield self.next_page(listed, named=named)
            return
        self.activity_complete = data is not None
        self.crawler.stats.set_value("flickr/activity/photos", len(named))  # type: ignore[union-attr]
        yield from requests_first([*self._fetch_active(named), *self._finish_listing()])

    def _fetch_active(self, named: dict[str, dict[str, Any]]) -> Iterator[Any]:
        """The parts recent activity names that this run has not asked for yet. A photo the
        listing left alone is rebuilt from catalog.db (no call), with the counts the activity
        gives, so its sidecar and record are written again with the new comments and faves."""
        yield from self._settle_deep(named)
        rebuild = [pid for pid in named if pid not in self.emitted and pid in self.view.filed]
        items = self.stored_items(rebuild) if rebuild else {}
        stats = self.crawler.stats
        for photo_id, entry in named.items():
            parts = set(entry["parts"])
            if photo_id in self.emitted:  # listed by this run: only what it did not ask
                parts -= self.parts_asked.get(photo_id, set())
                if photo_id not in self.no_deep:
                    parts.discard("info")  # its deep pass asks getInfo anyway
            elif photo_id in items:
                item = items[photo_id]
                item.albums = list(self.memberships.get(photo_id, []))
                item.galleries = list(self.gallery_memberships.get(photo_id, []))
                for field in ("comments", "faves"):
                    if entry.get(field) is not None:
                        setattr(item, f"count_{field}", entry[field])
                if entry.get("views") is not None:
                    item.views = entry["views"]
                self.emitted.add(photo_id)
                self.no_deep.add(photo_id)
                stats.inc_value("flickr/photo/updated")  # type: ignore[union-attr]
                yield item
            else:  # not one of the account's photos catalog.db knows: nothing to add to
                stats.inc_value("flickr/activity/unknown")  # type: ignore[union-attr]
                continue
            if parts:
                stats.inc_value("flickr/activity/refetched")  # type: ignore[union-attr]
            yield from self._per_photo_calls(
                photo_id, int("comments" in parts), int("faves" in parts)
            )
            if "info" in parts and self.deep and photo_id not in self.deep_asked:
                self.deep_asked.add(photo_id)
                yield self._info_request(photo_id)

    def deep_waits(self, item: PhotoItem, known: Known | None) -> bool:
        """Incremental, before recent activity is asked: a photo whose getInfo was stored
        and whose lastupdate moved waits for the activity, which may show that only new
        comments moved it (``_settle_deep``). What catalog.db holds of it is read now,
        before this run's item replaces it."""
        if (self.mode != "incremental" or not self.activity_since or self.activity_asked
                or known is None or not known.has_info
                or item.last_update_unix <= known.last_update):  # fmt: skip
            return False
        try:
            stored = self.stored_items([item.id]).get(item.id)
            notes: int | None = note_counts(self.catalog_path, [item.id])[item.id]
        except sqlite3.Error as exc:
            self.logger.warning(
                "Photo %(id)s: catalog.db could not be read (%(err)s); getInfo is asked again",
                {"id": item.id, "err": exc},
            )
            stored, notes = None, None
        same = stored is not None and _listed_fields(stored) == _listed_fields(item)
        self.deep_waiting[item.id] = Waiting(item.last_update_unix, same, notes)
        return True

    def _settle_deep(self, named: dict[str, dict[str, Any]]) -> Iterator[Any]:
        """The changed photos whose getInfo waited for recent activity. New comments change
        nothing getInfo says beyond the list entry (notes, people, tag authors, places stay
        as stored; the comment count comes with the list), so a photo that only got new
        comments keeps what earlier runs stored, its sidecar's ``raw`` getInfo answer too.
        The others get getInfo now (or at the deep pass). What only getInfo shows (people
        tagged, note text, permissions) may have changed unseen before the comment, so a skip
        is recorded as owed (``InfoOwedItem``): the next sweep asks that getInfo."""
        waiting, self.deep_waiting = self.deep_waiting, {}
        for photo_id, wait in waiting.items():
            entry = named.get(photo_id)
            if entry is not None and _comments_alone(entry, wait):
                self.no_deep.add(photo_id)
                self.deep_stored(photo_id)
                self.crawler.stats.inc_value("flickr/deep/skipped/comments_only")  # type: ignore[union-attr]
                self.logger.info(
                    "Photo %(id)s: changed by new comments alone (recent activity): "
                    "photos.getInfo owed, asked at the next sweep", {"id": photo_id},
                )  # fmt: skip
                # a deferral, not a loss: what only getInfo shows may have changed too
                yield InfoOwedItem(photo_id=photo_id, last_update=wait.last_update)
            elif self.deep_early and photo_id not in self.deep_asked:
                self.deep_asked.add(photo_id)
                yield self._info_request(photo_id)

    def _count_changed(self) -> bool:
        """Does the account's total differ from what the catalog holds plus new uploads?
        Then photos were deleted (or the catalog misses some): a sweep finds out which."""
        expected = len(self.view.filed.keys() | (self.emitted - self.view.filed.keys()))
        if self.total == expected:
            return False
        self.logger.info(
            "Flickr counts %(total)s photos, the archive expects %(expected)s: listing the "
            "whole photostream to see which are gone",
            {"total": self.total, "expected": expected},
        )
        return True

    def _finish_listing(self) -> Iterator[Any]:
        """The listing is done: re-file photos whose albums changed, report what was seen."""
        swept = self.swept and self.mode != "since"
        complete = swept and self.listing_complete and self.total <= len(self.listed)
        if self.mode == "incremental":  # the photos this run left alone
            self.crawler.stats.inc_value(  # type: ignore[union-attr]
                "flickr/photo/unchanged", len(self.view.filed.keys() - self.emitted)
            )
        gone = set(self.view.filed) - self.listed.keys() if complete else set()
        yield from self._refile(gone)
        if self.mode == "incremental":  # re-filed photos are items (done as they go through)
            self.left_alone(self.view.filed.keys() - self.emitted)
        yield PhotostreamListedItem(
            owner=self.creds.user_nsid,
            photo_ids=list(self.listed) if complete else [],
            complete=complete or (not swept and self.listing_complete),
            sweep=complete,
            watermark=self.started if self.mode != "since" else 0,
            runs_since_sweep=0 if complete else self.view.runs_since_sweep + 1,
            activity_watermark=self.started if complete or self.activity_complete else 0,
        )

    def _refile(self, gone: set[str]) -> Iterator[Any]:
        """Photos this run did not emit whose album folders changed (an album renamed,
        deleted or re-arranged), or whose file an earlier run could not save, or an earlier
        version embedded less into: their items, rebuilt from catalog.db, move their files,
        fetch them again or embed into them again."""
        moved, upgrade = [], []
        for photo_id, filed in self.view.filed.items():
            if photo_id in self.emitted or photo_id in gone:
                continue
            now = {(ref.id, ref.folder) for ref in self.memberships.get(photo_id, [])}
            if now != filed or photo_id in self.view.incomplete:
                moved.append(photo_id)
            elif photo_id in self.view.upgrade:  # the media step embeds what this version does
                upgrade.append(photo_id)
        if not moved and not upgrade:
            return
        items = self.stored_items(moved + upgrade)
        if moved:
            refiled = len(items.keys() & set(moved))
            self.crawler.stats.set_value("flickr/photo/refiled", refiled)  # type: ignore[union-attr]
        for item in items.values():
            item.albums = list(self.memberships.get(item.id, []))
            item.galleries = list(self.gallery_memberships.get(item.id, []))
            self.emitted.add(item.id)
            self.no_deep.add(item.id)
            yield item

    def photo_item(self, raw: dict[str, Any]) -> PhotoItem:
        item = photo_from_list(
            raw, method=LIST_METHOD, owner=self.creds.user_nsid, web_url=self.web_url
        )
        item.albums = list(self.memberships.get(item.id, []))
        item.galleries = list(self.gallery_memberships.get(item.id, []))
        item.source = item.source or video_play_source(item, self.web_url)
        return item
