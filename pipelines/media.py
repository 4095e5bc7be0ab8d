"""Downloads each photo's original (or best size) and video original into the archive.

Not Scrapy's FilesPipeline: that one keeps bodies in memory, re-hashes the archive on every run,
re-downloads after 90 days and writes in place. Here each file is a Scrapy Request sent through
the engine in the media download slot (``FLICKR_MEDIA_CONCURRENCY`` at a time, with Scrapy's
retries, proxies, delays and middlewares); its body streams to a ``.part`` file
(``flickr_crawl.downloader.media``), is verified (length, hash, and that the bytes are the kind
of file expected: a video is a video), then renamed to ``<id>.<ext>`` off the reactor thread;
further album folders get hard links. With ``-a export=DIR`` an original Flickr's account export
holds is streamed out of its zip through the same steps instead (``flickr/file/from_export``).
A failed or missing file never drops the item: its
sidecar says what happened. Each placement is also journaled (``flickr_crawl.archive.placed``),
so a file placed just before a hard kill is not downloaded again.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import threading
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured, ResponseDataLossError

from flickr_crawl.archive.filetypes import (
    extension_for,
    is_image,
    is_video,
    mime_type,
    mime_type_of_name,
    sniff,
)
from flickr_crawl.archive.paths import (
    LAYOUTS,
    archive_dir,
    file_name,
    inside,
    photo_dirs,
    poster_name,
    sidecar_name,
)
from flickr_crawl.archive.placed import PlacedJournal
from flickr_crawl.archive.refile import Filed, refile, remove_if_empty
from flickr_crawl.archive.storage import link_or_copy, part_path, sha256_file
from flickr_crawl.downloader.media import (
    MEDIA_HEAD,
    MEDIA_PART,
    MEDIA_RESULT,
    MEDIA_SLOT,
    Stored,
    store_stream,
)
from flickr_crawl.downloader.mediacookies import WEB_SESSION, MediaCookiesMiddleware
from flickr_crawl.extensions.diskspace import DISK_FULL, DiskFull
from flickr_crawl.extensions.lastrun import last_run
from flickr_crawl.extensions.report import RunReport, plural
from flickr_crawl.flickr.export import ExportIndex
from flickr_crawl.flickr.identity import media_key
from flickr_crawl.flickr.websession import load_cookies, session_file_path
from flickr_crawl.items import MediaFile, PhotoItem
from flickr_crawl.metadata.camera import read_camera_exif
from flickr_crawl.metadata.exif import (
    EMBED_FORMAT,
    EMBED_FORMAT_KEY,
    StreamingEmbed,
    embed_metadata,
    embedded_fields,
    exif_fields_sha256,
    original_exif_segment,
    photo_fields,
    restore_original,
)

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from flickr_crawl.catalog.lastrun import Recorded

logger = logging.getLogger(__name__)

NO_WEB_SESSION = (
    "no web session: Flickr serves video originals only to a signed-in browser session "
    "(HTTP {status} for play/orig); run `scrapy weblogin`, then `scrapy crawl redownload -a "
    "missing=1`"
)
SESSION_REFUSED = (
    "the web session was refused (expired or signed out; HTTP {status} for play/orig); run "
    "`scrapy weblogin` again (or set FLICKR_WEB_PASSWORD, and a crawl signs in again itself), "
    "then `scrapy crawl redownload -a missing=1`"
)
SIGNIN_DID_NOT_HELP = (
    "the web session was refused, and signing in again with FLICKR_WEB_PASSWORD did not help "
    "(the log says why); run `scrapy weblogin`, then `scrapy crawl redownload -a missing=1`"
)
# Counted each time this step reads a JSON sidecar to judge a file (none for a photo whose
# file catalog.db vouches for, unless its caption changed and is embedded again).
SIDECAR_READ = "flickr/file/sidecar_read"


# Kinds of file Flickr's metadata is written into: EXIF, XMP and IPTC in a JPEG, XMP in a PNG
# or GIF (flickr_crawl.metadata.exif, flickr_crawl.metadata.pnggif).
EMBEDDABLE = frozenset({"jpeg", "png", "gif"})
# Files embedded again because an earlier version embedded less into them (EMBED_FORMAT), or
# nothing: PNG and GIF originals, which it stored as served with no ``metadata`` recorded.
UPGRADED = "flickr/exif/upgraded"
NEVER_EMBEDDED = frozenset({"image/png", "image/gif"})
NOT_SERVED = "skipped: not the file Flickr served"


class MediaPipeline:
    """Fetch, verify and place the media file of every PhotoItem."""

    def __init__(
        self, crawler: Crawler, archive: Path, layout: str, link_mode: str, *, exif: bool = True
    ):
        self.crawler = crawler
        self.archive = archive
        self.layout = layout
        self.favorites_layout = "owner"  # FLICKR_FAVORITES_LAYOUT
        self.link_mode = link_mode
        self.exif = exif
        self.web_cookies: list[dict[str, Any]] = []  # sent with video originals only
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # photo id -> lock, its users
        self.journal = PlacedJournal(archive)
        # Originals read out of the export at once (the downloads' FLICKR_MEDIA_CONCURRENCY).
        self._export_slots = asyncio.Semaphore(4)
        assert crawler.stats is not None
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        layout = settings.get("FLICKR_LAYOUT", "albums")
        if layout not in LAYOUTS:
            raise NotConfigured(f"FLICKR_LAYOUT must be one of {', '.join(LAYOUTS)}")
        link_mode = settings.get("FLICKR_LINK_MODE", "hardlink")
        archive = archive_dir(settings)
        archive.mkdir(parents=True, exist_ok=True)
        exif = settings.getbool("FLICKR_EXIF_ENABLED", True)
        pipeline = cls(crawler, archive, layout, link_mode, exif=exif)
        pipeline.favorites_layout = settings.get("FLICKR_FAVORITES_LAYOUT", "owner")
        pipeline._export_slots = asyncio.Semaphore(
            max(1, settings.getint("FLICKR_MEDIA_CONCURRENCY", 4))
        )
        pipeline.web_cookies = load_cookies(
            session_file_path(settings.get("FLICKR_WEB_SESSION_FILE"))
        )
        # After every pipeline closed, so after the last sidecar was written.
        crawler.signals.connect(pipeline.journal.close, signal=signals.spider_closed)
        return pipeline

    @property
    def report(self) -> RunReport:
        return RunReport.of(self.crawler)

    def _inc(self, key: str, value: float = 1) -> None:
        """Count in Scrapy stats from any thread: they are not thread-safe, so counts of a
        placement thread are added on the reactor."""
        if threading.current_thread() is threading.main_thread():
            self.stats.inc_value(key, value)
            return
        from twisted.internet import reactor

        reactor.callFromThread(self.stats.inc_value, key, value)  # type: ignore[attr-defined]

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PhotoItem):
            return item
        # One file operation per photo at a time: a second item for the same photo (a page
        # that shifted, a redownload) waits for the first instead of racing it.
        lock, users = self._locks.get(item.id, (asyncio.Lock(), 0))
        self._locks[item.id] = (lock, users + 1)
        try:
            async with lock:
                await self._process(item)
                if item.poster is not None:
                    item.poster_file = await self._poster(item)
        except Exception as exc:  # never drop the item: its sidecar and comments matter
            logger.exception("Photo %(id)s: media step failed", {"id": item.id})
            item.file = self._failed(item, f"{exc.__class__.__name__}: {exc}")
        finally:
            lock, users = self._locks[item.id]
            if users > 1:
                self._locks[item.id] = (lock, users - 1)
            else:
                del self._locks[item.id]
        return item

    def open_spider(self) -> None:
        # A run without the catalog leaves it behind the files: then only sidecars tell (as
        # they do when there is none yet, or it cannot be read).
        catalog = self.crawler.settings.getbool("FLICKR_CATALOG_ENABLED", True)
        last = last_run(self.crawler)
        self.filed = dict(last.files) if catalog and last.found else None
        self.posters = dict(last.posters) if catalog and last.found else None
        self.recorded = dict(last.recorded) if catalog and last.found else None
        self.journal.open()

    async def _process(self, item: PhotoItem) -> None:
        dirs = photo_dirs(item, self.layout, self.favorites_layout)
        filed = self.filed.pop(item.id, None) if self.filed is not None else None
        placed = self.journal.take(item.id)
        if filed is not None:
            moved = refile(self.archive, item.id, filed, dirs, link_mode=self.link_mode)
            if moved is not None:
                self.stats.inc_value("flickr/file/refiled")
                logger.info(
                    "Photo %(id)s moved: %(new)s in, %(old)s out",
                    {"id": item.id, "new": ", ".join(moved.linked) or "-",
                     "old": ", ".join(moved.removed) or "-"},
                )  # fmt: skip
        if item.source is None:
            item.file = self._nothing_to_fetch(item)
            return
        previous, record = None, {}
        recorded = self.recorded.pop(item.id, None) if self.recorded is not None else None
        if recorded is not None and not self._sidecar(dirs[0], item.id).is_file():
            recorded = None  # a file without its sidecar is vouched for by nothing: as before
        if recorded is not None:
            # catalog.db's row says what the sidecar would: no sidecar is read.
            previous, record = self.complete_file(item, dirs, filed, recorded.as_record())
        elif filed is not None or self.filed is None:
            # With a catalog to go by, a photo it lists no complete file for has no sidecar
            # that vouches for one: nothing to read (3 system calls per new photo, each
            # waiting for the GIL again while the downloads run).
            previous, record = self.complete_file(item, dirs, filed)
        if previous is None and placed:  # placed just before the last run was killed
            previous, _ = self.complete_file(item, dirs, filed, placed)
            if previous is not None:
                record, recorded = placed, None
                self.stats.inc_value("flickr/file/recovered")
        if item.force_download:
            previous = None  # redownload: the sidecar's word is not enough
        if previous is not None:
            item.camera = record.get("camera")
            self.stats.inc_value("flickr/file/uptodate")
            self._refresh_exif(item, previous, record, dirs[0], recorded)
            item.file = previous
            item.file.status = "uptodate"
            item.file.links = self._link_into(item, previous.path or "", dirs[1:])
            return
        item.file = await self._from_export(item, dirs) or await self._download(item, dirs)

    def close_spider(self) -> None:
        upgraded = self.stats.get_value(UPGRADED, 0)
        if upgraded:
            logger.info(
                "Metadata upgraded in %(files)s kept from earlier runs (what this version "
                "embeds, format %(format)s), from the bytes on disk",
                {"files": plural(upgraded, "file"), "format": EMBED_FORMAT},
            )

    def _export_with(self, item: PhotoItem) -> ExportIndex | None:
        """Flickr's account export (``-a export=DIR``) when it holds this item's original and
        Flickr says nothing changed since the export was made (a replaced file would)."""
        index = getattr(self.crawler.spider, "export", None)
        if not isinstance(index, ExportIndex) or item.id not in index.media:
            return None
        if item.source is None or not item.source.is_original:
            return None
        if item.last_update_unix > index.export_date:
            self.stats.inc_value("flickr/file/changed_since_export")
            return None
        return index

    async def _from_export(self, item: PhotoItem, dirs: list[str]) -> MediaFile | None:
        """The original streamed out of the export's zip (never unpacked to a copy) through
        the same ``.part``, hashes, EXIF embed, checks, placement and journal as a download;
        None (so it is downloaded instead) when the export's copy cannot be used."""
        index = self._export_with(item)
        if index is None:
            return None
        member = index.media[item.id]
        embed = StreamingEmbed(item) if item.media != "video" and self.exif else None
        folder = inside(self.archive, dirs[0])
        part = part_path(folder, item.id)

        def store() -> MediaFile:
            folder.mkdir(parents=True, exist_ok=True)
            with index.open_member(member) as stream:
                got = store_stream(stream, part, embed, expected=member.size)
            return self._place_stored(item, dirs, folder, part, got, embed)

        async with self._export_slots:
            try:
                placed = await asyncio.to_thread(store)
            except DiskFull as exc:
                self.crawler.signals.send_catch_log(signal=DISK_FULL, path=str(part),
                                                    error=exc.__cause__)  # fmt: skip
                return self._failed(item, str(exc))
            except (_NotPlaced, OSError, EOFError, zipfile.BadZipFile, ResponseDataLossError,
                    zlib.error) as exc:  # fmt: skip
                part.unlink(missing_ok=True)
                self.stats.inc_value("flickr/file/export_unusable")
                logger.warning(
                    "Photo %(id)s: the export's original %(where)s cannot be used (%(why)s); "
                    "downloading it from Flickr",
                    {"id": item.id, "where": member.where(index.folder), "why": exc},
                )
                return None
        self.stats.inc_value("flickr/file/from_export")
        self.stats.inc_value("flickr/bytes/from_export", placed.original_size or 0)
        logger.debug("File (from export): %(id)s -> %(path)s", {"id": item.id, "path": placed.path})
        return placed

    def complete_file(
        self,
        item: PhotoItem,
        dirs: list[str],
        filed: Filed | None = None,
        record: dict[str, Any] | None = None,
    ) -> tuple[MediaFile | None, dict[str, Any]]:
        """The file a previous run verified, if it is still there with the size its sidecar
        (or ``record``: a journal line, or catalog.db's row as a record) and catalog.db
        recorded (nothing is hashed), of the same bytes on Flickr (the source's key: a new host
        or server is no new file); and the previous record."""
        try:
            if record is None:
                record = self._read_sidecar(dirs[0], item.id)
            recorded = record["file"]
            same_source = recorded_key(record) == item.source.key  # type: ignore[union-attr]
            # An original already archived is never replaced by a smaller size the owner
            # now offers instead (originals disallowed later).
            same_source = same_source or (
                bool(record["file"].get("is_original")) and not item.source.is_original  # type: ignore[union-attr]
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None, {}
        if not recorded or recorded.get("status") not in ("downloaded", "uptodate"):
            return None, record
        if not same_source or not recorded.get("path"):
            return None, record
        # The file sits in the photo's first folder (moved there if its folders changed).
        path = f"{dirs[0]}/{PurePosixPath(recorded['path']).name}"
        try:
            stat = inside(self.archive, path).stat()
        except (OSError, ValueError):
            return None, record
        size = stat.st_size
        if size != recorded.get("size") or (filed is not None and filed.size != size):
            return None, record
        if record.get("inode") not in (None, stat.st_ino):
            return None, record  # a journal line written before a rename the kill prevented
        known = set(MediaFile.__dataclass_fields__)
        previous = MediaFile(**{k: v for k, v in recorded.items() if k in known})
        previous.path = path
        # Of the verified bytes (their kind named the file), also where an older run kept
        # the CDN's header.
        previous.content_type = mime_type_of_name(path) or previous.content_type
        return previous, record

    def _sidecar(self, folder: str, photo_id: str) -> Path:
        return inside(self.archive, folder) / sidecar_name(photo_id)

    def _read_sidecar(self, folder: str, photo_id: str) -> Any:
        """The photo's JSON sidecar in ``folder``, as a previous run wrote it (counted)."""
        self.stats.inc_value(SIDECAR_READ)
        return json.loads(self._sidecar(folder, photo_id).read_text(encoding="utf-8"))

    def _refresh_exif(
        self,
        item: PhotoItem,
        previous: MediaFile,
        record: dict[str, Any],
        folder: str,
        recorded: Recorded | None = None,
    ) -> None:
        """Caption, tags, date, place or licence edited on Flickr, or a file an earlier version
        embedded less into (``EMBED_FORMAT``): embed them again, starting from the file as
        Flickr served it, so the bytes equal those of a fresh download. Kept on catalog.db's
        word (``recorded``), the file's sidecar is read only then: it holds the served file's
        EXIF, and the fields and format as embedded."""
        if not self.exif:
            return
        if previous.metadata is None and previous.content_type in NEVER_EMBEDDED:
            self._embed_served(item, previous)
            return
        if previous.metadata != "embedded":
            return
        if recorded is not None:
            if recorded.exif_fields_sha256 == exif_fields_sha256(photo_fields(item)):
                return
            try:
                record = self._read_sidecar(folder, item.id)
                previous.original_exif = record["file"].get("original_exif")
                previous.embedded_segments = record["file"].get("embedded_segments")
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return
        if previous.original_exif is None:
            return
        before = embedded_fields(record)
        previous.embed_format = before[EMBED_FORMAT_KEY]
        if photo_fields(item) == before:
            return
        path = inside(self.archive, previous.path or "")
        try:
            served = restore_original(path.read_bytes(), base64.b64decode(previous.original_exif),
                                      previous.embedded_segments)  # fmt: skip
        except ValueError:  # its segments are not the ones recorded (nor is its hash)
            served = b""
        if hashlib.sha256(served).hexdigest() != previous.original_sha256:
            self._not_served(item, previous)
            return
        if self._embed_again(item, previous, path, served) != "embedded":
            return
        if before[EMBED_FORMAT_KEY] < EMBED_FORMAT:
            self.stats.inc_value(UPGRADED)
            logger.debug(
                "Photo %(id)s: metadata upgraded (format %(old)s -> %(new)s)",
                {"id": item.id, "old": before[EMBED_FORMAT_KEY], "new": EMBED_FORMAT},
            )
        else:
            self.stats.inc_value("flickr/exif/refreshed")

    def _embed_served(self, item: PhotoItem, previous: MediaFile) -> None:
        """A PNG or GIF an earlier version stored as served (format 1 embedded nothing into
        them) gets its XMP packet now, from the file itself: still the served bytes, or left
        alone. Its record then says which, so it is looked at once."""
        path = inside(self.archive, previous.path or "")
        served = path.read_bytes()
        if hashlib.sha256(served).hexdigest() != previous.original_sha256:
            self._not_served(item, previous)
            previous.metadata = NOT_SERVED
            return
        status = self._embed_again(item, previous, path, served, first=True)
        if status == "embedded":
            self.stats.inc_value(UPGRADED)
            logger.debug("Photo %(id)s: metadata upgraded (XMP into the served %(type)s)",
                         {"id": item.id, "type": previous.content_type})  # fmt: skip
        else:
            previous.metadata = status  # why it cannot get one ("skipped: has its own XMP")

    def _not_served(self, item: PhotoItem, previous: MediaFile) -> None:
        logger.warning(
            "Photo %(id)s: %(path)s is not the file catalog.db recorded; EXIF left as is "
            "(`scrapy verify` checks it)", {"id": item.id, "path": previous.path},
        )  # fmt: skip

    def _embed_again(
        self,
        item: PhotoItem,
        previous: MediaFile,
        path: Path,
        served: bytes,
        *,
        first: bool = False,
    ) -> str:
        """Embed this version's metadata into ``served`` (the bytes Flickr served, checked),
        journal it and replace the file at ``path`` atomically; ``previous`` then describes
        the new file. ``first``: nothing was embedded before, so the served segment is kept
        for ``restore_original`` too. The embedding's status."""
        segment = original_exif_segment(served) if first else None
        part = part_path(path.parent, item.id)
        try:
            part.write_bytes(served)
            status, segments = embed_metadata(part, item)
            if status != "embedded":
                return status
            if first:
                if segment is None:  # never so where embedding succeeded: the same walk
                    return "skipped: the served bytes cannot be kept"
                previous.original_exif = base64.b64encode(segment).decode("ascii")
            previous.metadata = status
            previous.embedded_segments, previous.embed_format = segments, EMBED_FORMAT
            previous.size, previous.sha256 = sha256_file(part)
            self._journal(item, previous, part)
            part.replace(path)
        finally:
            part.unlink(missing_ok=True)
        return status

    def _nothing_to_fetch(self, item: PhotoItem) -> MediaFile:
        if item.media == "video":
            reason = "Flickr offers no video original for this video"
            self.report.missing_video(item.id, reason)
            return MediaFile(status="missing", reason=reason, label="Video Original")
        reason = "Flickr lists no downloadable size for this photo"
        self.report.failure("download", item.id, reason)
        return MediaFile(status="failed", reason=reason)

    async def _download(self, item: PhotoItem, dirs: list[str], *, retry: bool = True) -> MediaFile:
        """Fetch, check and place the file; a video the web session was refused for is
        fetched once more if the session could be renewed (signed in again) meanwhile."""
        source = item.source
        assert source is not None
        session = MediaCookiesMiddleware.of(self.crawler) if item.media == "video" else None
        generation = session.generation if session is not None else 0
        embed = StreamingEmbed(item) if item.media != "video" and self.exif else None
        folder = inside(self.archive, dirs[0])
        part = part_path(folder, item.id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            response = await self._fetch(source.url, part, embed, web_session=item.media == "video")
            # The checks, rename, journal and links off the reactor thread, which feeds the
            # other downloads meanwhile.
            placed = await asyncio.to_thread(self._place, item, dirs, folder, part, response,
                                             embed)  # fmt: skip
        except _NotPlaced as refused:
            part.unlink(missing_ok=True)
            if refused.session and session is not None and session.signin is not None:
                if retry and await session.renew(generation):
                    self.stats.inc_value("flickr/websession/retried")
                    return await self._download(item, dirs, retry=False)
                return self._missing(item, SIGNIN_DID_NOT_HELP)
            if refused.missing:
                return self._missing(item, str(refused))
            return self._failed(item, str(refused))
        except DiskFull as exc:  # the disk guard stops the run
            self.crawler.signals.send_catch_log(signal=DISK_FULL, path=str(part),
                                                error=exc.__cause__)  # fmt: skip
            return self._failed(item, str(exc))
        except Exception as exc:  # noqa: BLE001 - retries exhausted, network failures: recorded
            part.unlink(missing_ok=True)
            return self._failed(item, f"{exc.__class__.__name__}: {exc}")
        self.stats.inc_value("flickr/file/downloaded")
        self.stats.inc_value("flickr/bytes/downloaded", placed.original_size or 0)
        logger.debug("File (downloaded): %(id)s -> %(path)s", {"id": item.id, "path": placed.path})
        return placed

    async def _fetch(
        self, url: str, part: Path, embed: StreamingEmbed | None = None, *, web_session: bool
    ) -> Response:
        """One media file through the engine: its body into ``part`` (a 200), else a status.
        Downloader middlewares apply (retries, redirects, proxy, stats); the spider's do not."""
        request = Request(
            url,
            dont_filter=True,
            # The bytes on disk must be the file itself, never a gzip of it.
            headers={"Accept-Encoding": "identity"},
            meta={
                MEDIA_PART: str(part),
                MEDIA_HEAD: embed,
                "download_slot": MEDIA_SLOT,
                "dont_merge_cookies": True,  # media never goes through the cookie jar
                WEB_SESSION: web_session,  # video originals only
            },
        )
        assert self.crawler.engine is not None
        return await self.crawler.engine.download_async(request)

    def _place(
        self,
        item: PhotoItem,
        dirs: list[str],
        folder: Path,
        part: Path,
        response: Response,
        embed: StreamingEmbed | None,
    ) -> MediaFile:
        """(a thread) Check what came, then rename it into place, journal and link it;
        ``_NotPlaced`` if it is not the file."""
        got = _stored(response)
        if got is None:
            if item.media == "video" and response.status in (401, 403, 404, 410):
                why = SESSION_REFUSED if self.web_cookies else NO_WEB_SESSION
                raise _NotPlaced(why.format(status=response.status), session=True)
            raise _NotPlaced(f"HTTP {response.status}")
        content_type = _header(response, b"Content-Type")
        disposition = _header(response, b"Content-Disposition")
        return self._place_stored(item, dirs, folder, part, got, embed, content_type, disposition)

    def _place_stored(
        self,
        item: PhotoItem,
        dirs: list[str],
        folder: Path,
        part: Path,
        got: Stored,
        embed: StreamingEmbed | None,
        content_type: str = "",
        disposition: str = "",
    ) -> MediaFile:
        """(a thread) The checks and placement of a body stored whole in ``part`` (from a
        download, or from Flickr's export): its kind from the bytes, EXIF, rename, journal,
        links; ``_NotPlaced`` if it is not the file."""
        source = item.source
        assert source is not None
        kind = sniff(got.head)
        expected_ok = is_video(kind) if item.media == "video" else is_image(kind)
        if not expected_ok:
            part.unlink(missing_ok=True)
            what = f"got {kind or 'unknown data'} ({content_type or 'no type'})"
            if item.media == "video" and kind == "html":  # sent to the sign-in page
                why = SESSION_REFUSED if self.web_cookies else NO_WEB_SESSION
                raise _NotPlaced(why.format(status="200, a web page"), session=True)
            if item.media == "video":
                raise _NotPlaced(f"Flickr sent no video for the original: {what}", missing=True)
            raise _NotPlaced(f"not an image: {what}")
        extension = extension_for(kind, content_type, disposition) or source.extension or "bin"
        size, sha256 = got.stored_size, got.stored_sha256
        metadata, original_exif, segments = None, None, None
        if kind in EMBEDDABLE and embed is not None and embed.status is not None:
            # Embedded as the file streamed in (flickr_crawl.metadata.exif.StreamingEmbed).
            item.camera, segment = embed.camera, embed.original_segment
            metadata, segments = self._embedded(item, embed.status), embed.segments
        elif kind in EMBEDDABLE:  # EXIF off, or a head the stream could not take apart
            if kind == "jpeg":  # a PNG's or GIF's camera EXIF is not read
                item.camera = read_camera_exif(part)  # before our own fields go in
            segment = original_exif_segment(part.read_bytes()) if self.exif else None
            metadata, segments = self._embed(part, item)
            if metadata == "embedded":
                size, sha256 = sha256_file(part)
        embed_format = None
        if metadata == "embedded":
            original_exif = base64.b64encode(segment or b"").decode("ascii")
            embed_format = EMBED_FORMAT
        else:
            segments = None
        name = file_name(item.id, extension)
        relative = f"{dirs[0]}/{name}"
        placed = MediaFile(
            status="downloaded",
            path=relative,
            size=size,
            sha256=sha256,
            original_size=got.size,
            original_sha256=got.sha256,
            content_type=mime_type(kind),  # of the bytes: a CDN's header can be wrong
            label=source.label,
            is_original=source.is_original,
            metadata=metadata,
            original_exif=original_exif,
            embedded_segments=segments,
            embed_format=embed_format,
        )
        self._journal(item, placed, part)
        part.replace(folder / name)
        placed.links = self._link_into(item, relative, dirs[1:])
        return placed

    async def _poster(self, item: PhotoItem) -> MediaFile:
        """A video's largest still, beside it as ``<id>.poster.jpg``: kept while its key is
        the one recorded, else fetched and verified as an image. Its failure is only logged
        and counted: the video's own file and record are what the backup is for."""
        poster = item.poster
        assert poster is not None
        dirs = photo_dirs(item, self.layout, self.favorites_layout)
        kept = self._kept_poster(item, dirs[0])
        if kept is not None and not item.force_download:
            self.stats.inc_value("flickr/poster/uptodate")
            return kept
        folder = inside(self.archive, dirs[0])
        part = part_path(folder, item.id)

        def place(response: Response) -> MediaFile:
            """(a thread) The still, checked to be an image, renamed into place."""
            got = _stored(response)
            kind = sniff(got.head) if got is not None else None
            if got is None or not is_image(kind):
                what = kind or "unknown data"
                raise _NotPlaced(f"HTTP {response.status}" if got is None else
                                 f"the video's still is not an image: got {what}")  # fmt: skip
            name = poster_name(item.id, extension_for(kind) or "jpg")
            part.replace(folder / name)
            return MediaFile(
                status="downloaded", path=f"{dirs[0]}/{name}", size=got.stored_size,
                sha256=got.stored_sha256, original_size=got.size, original_sha256=got.sha256,
                content_type=mime_type(kind), label=poster.label, is_original=poster.is_original,
            )  # fmt: skip

        try:
            folder.mkdir(parents=True, exist_ok=True)
            response = await self._fetch(poster.url, part, web_session=False)
            placed = await asyncio.to_thread(place, response)
        except DiskFull as exc:  # the disk guard stops the run
            self.crawler.signals.send_catch_log(signal=DISK_FULL, path=str(part),
                                                error=exc.__cause__)  # fmt: skip
            return MediaFile(status="failed", reason=str(exc), label=poster.label)
        except Exception as exc:  # noqa: BLE001 - a still that could not be had: logged, counted
            part.unlink(missing_ok=True)
            logger.warning("Photo %(id)s: no poster for the video: %(err)s",
                           {"id": item.id, "err": exc})  # fmt: skip
            self.stats.inc_value("flickr/poster/failed")
            return MediaFile(status="failed", reason=str(exc), label=poster.label)
        self.stats.inc_value("flickr/poster/downloaded")
        return placed

    def _kept_poster(self, item: PhotoItem, folder: str) -> MediaFile | None:
        """The still an earlier run kept for this video, if it is the same still (its key)
        and still on disk with its recorded size (catalog.db says where, else the sidecar);
        moved into ``folder`` when the video's folders changed since."""
        assert item.poster is not None
        if self.posters is not None:
            recorded = self.posters.pop(item.id, None)
        else:  # no catalog to go by: the sidecar in the video's folder
            try:
                record = self._read_sidecar(folder, item.id)
                recorded = dict(record["poster_file"])
                recorded["key"] = recorded_key({"source": record.get("poster")})
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return None
            if recorded.get("status") not in ("downloaded", "uptodate"):
                return None
        if recorded is None or not recorded.get("path") or recorded.get("key") != item.poster.key:
            return None
        path = f"{folder}/{PurePosixPath(recorded['path']).name}"
        try:
            here, there = inside(self.archive, path), inside(self.archive, recorded["path"])
            if path != recorded["path"] and not here.exists() and there.is_file():
                here.parent.mkdir(parents=True, exist_ok=True)
                # The video moved (flickr_crawl.archive.refile): its still follows.
                there.replace(here)
                remove_if_empty(there.parent, self.archive)
            if here.stat().st_size != recorded.get("size"):
                return None
        except (OSError, ValueError):
            return None
        return MediaFile(
            status="uptodate", path=path, size=recorded["size"], sha256=recorded.get("sha256"),
            content_type=mime_type_of_name(path), label=item.poster.label,
            is_original=item.poster.is_original,
        )  # fmt: skip

    def _journal(self, item: PhotoItem, placed: MediaFile, part: Path) -> None:
        """Record the file about to be renamed from ``part`` as its sidecar will (see
        ``flickr_crawl.archive.placed``). Written before the rename, with the part's inode: a kill
        in between leaves a line no file matches, never a placed file without its line."""
        record = photo_fields(item)  # plain values only
        record.update(id=item.id, source=dataclasses.asdict(item.source), camera=item.camera,
                      file=dataclasses.asdict(placed), inode=part.stat().st_ino)  # fmt: skip
        self.journal.add(record)

    def _embed(self, part: Path, item: PhotoItem) -> tuple[str, int]:
        """Write Flickr's metadata into the JPEG's EXIF, XMP and IPTC (image data and camera
        EXIF kept); the status and how many segments were written (``restore_original``)."""
        if not self.exif:
            return "skipped: FLICKR_EXIF_ENABLED is off", 0
        status, segments = embed_metadata(part, item)
        return self._embedded(item, status), segments

    def _embedded(self, item: PhotoItem, status: str) -> str:
        """Count and log an embedding's outcome."""
        key = "embedded" if status == "embedded" else "skipped"
        self._inc(f"flickr/exif/{key}")
        if key == "skipped":
            logger.info("Photo %(id)s: EXIF %(status)s", {"id": item.id, "status": status})
        return status

    def _link_into(self, item: PhotoItem, relative: str, others: list[str]) -> list[str]:
        """Show the file in its further album folders; a failure here loses nothing."""
        links = []
        source = inside(self.archive, relative)
        for folder in others:
            link = f"{folder}/{source.name}"
            try:
                how = link_or_copy(source, inside(self.archive, link), mode=self.link_mode)
            except OSError as exc:
                logger.warning(
                    "Photo %(id)s: cannot link into %(dir)s: %(err)s",
                    {"id": item.id, "dir": folder, "err": exc},
                )
                self._inc("flickr/file/link_failed")
                continue
            self._inc(f"flickr/file/link/{how}")
            links.append(link)
        return links

    def _failed(self, item: PhotoItem, reason: str) -> MediaFile:
        self.stats.inc_value("flickr/file/failed")
        self.report.failure("download", item.id, reason)
        source = item.source
        return MediaFile(status="failed", reason=reason, label=source.label if source else None)

    def _missing(self, item: PhotoItem, reason: str) -> MediaFile:
        self.report.missing_video(item.id, reason)
        return MediaFile(status="missing", reason=reason, label="Video Original")


class _NotPlaced(Exception):
    """The answer is not the file (an error status, a web page, a poster): its reason."""

    def __init__(self, reason: str, *, missing: bool = False, session: bool = False):
        super().__init__(reason)
        self.missing = missing or session  # a video Flickr would not give: not "failed"
        self.session = session  # refused for want of a (valid) web session


def _stored(response: Response) -> Stored | None:
    """What a 200 stored in its ``.part`` file (``flickr_crawl.downloader.media``); None for
    any other answer."""
    stored = response.meta.get(MEDIA_RESULT) if response.status == 200 else None
    return stored if isinstance(stored, Stored) else None


def _header(response: Response, name: bytes) -> str:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else ""


def recorded_key(record: dict[str, Any]) -> str:
    """The key of the source a sidecar or journal line records; derived from its URL in
    records older than keys, so their files are still known after a CDN move."""
    source = record.get("source") or {}
    return str(source.get("key") or media_key(str(source.get("url") or "")))
