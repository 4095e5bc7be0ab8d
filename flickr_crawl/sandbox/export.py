"""The sandbox account's own data export, written the way Flickr's "Request my Flickr data" is.

Flickr hands an account its data as zips: account-data parts ``<digits>_<hex>_part<N>.zip``
(``account_profile.json``, ``albums.json``, ``galleries.json``, ``faves_part001.json``, comment
parts and one ``photo_<id>.json`` per photo or video) and media parts ``data-download-<N>.zip``
holding the originals, named from the title plus ``_<id>_o.<ext>``. Field values follow what is
known of the real files (``/work/shared/flickr-api.md`` section 15): counts as strings, geo as
integers times 10^6 in strings, licence names, tags with the tagger's profile URL, comments
others made, ``exif`` blocks, dates as ``YYYY-MM-DD HH:MM:SS``. Nothing after the export date is
in it (uploads, comments, faves), and a few originals can be left out, as real exports sometimes
do. Member timestamps are the export date: that is how a reader learns it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flickr_crawl.sandbox.rest import LICENSES, Caller, Rest
from flickr_crawl.sandbox.sizes import find_rendition
from flickr_crawl.sandbox.world import GENERATED_NOW

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from flickr_crawl.sandbox.media import MediaStore
    from flickr_crawl.sandbox.world import Photo, User, World

WEB = "https://www.flickr.com"
CDN = "https://live.staticflickr.com"
DEFAULT_SPLIT = 2 << 30  # real media parts are "up to a few GB"
LICENSE_NAMES = {i: name for i, name, _url in LICENSES}
SAFETY = {0: "safe", 1: "moderate", 2: "restricted"}


@dataclass
class ExportSummary:
    """What was written: file names (relative to the export folder) and the choices made."""

    folder: str
    export_date: int
    account_zips: list[str] = field(default_factory=list)
    media_zips: list[str] = field(default_factory=list)
    photo_ids: list[str] = field(default_factory=list)  # a photo_<id>.json each
    media: dict[str, str] = field(default_factory=dict)  # id -> member name
    left_out: list[str] = field(default_factory=list)  # originals not in the media zips

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``/__sandbox/export`` answer)."""
        return dict(self.__dict__)


def fmt_date(ts: int) -> str:
    """The export's date form."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def parse_export_date(value: str) -> int:
    """``--export-date``: unix seconds, ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    value = value.strip()
    if value.isdigit():
        return int(value)
    for form in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return int(time.mktime(time.strptime(value, form)) - time.timezone)
        except ValueError:
            continue
    raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or unix seconds)")


def profile_url(user: User) -> str:
    """A member's profile URL as the export names people (path alias when they have one)."""
    return f"{WEB}/photos/{user.path_alias or user.nsid}/"


def privacy(photo: Photo) -> str:
    """Visibility as the export spells it."""
    if photo.ispublic:
        return "public"
    if photo.isfriend and photo.isfamily:
        return "friends & family"
    if photo.isfriend:
        return "friends"
    if photo.isfamily:
        return "family"
    return "private"


def media_name(photo: Photo) -> str:
    """``<title>_<id>_o.<ext>``: the title squashed to safe ASCII, as Flickr's names look."""
    ext = photo.video.container if photo.video is not None else photo.originalformat
    slug = re.sub(r"[^a-z0-9._-]+", "_", photo.title.lower(), flags=re.ASCII).strip("._-")[:60]
    return f"{slug}_{photo.id}_o.{ext}" if slug else f"{photo.id}_o.{ext}"


class ExportWriter:
    """Writes one account's export from the world as it stands (hold ``world.lock``)."""

    def __init__(self, world: World, media: MediaStore) -> None:
        self.world = world
        self.media = media
        self.rest = Rest(world, WEB)

    # -- JSON --------------------------------------------------------------------------------
    def exif_block(self, photo: Photo) -> dict[str, Any]:
        """``{"IFD0:Make": {"full", "label", "value", "raw_value"}, ...}`` from what the
        original carries (the rows getExif gives)."""
        caller = Caller(self.world.owner.nsid, self.world.api_key, {"photo_id": photo.id})
        rows = self.rest.photos_get_exif(caller)["photo"]["exif"]
        out: dict[str, Any] = {}
        for row in rows:
            raw = str(row["raw"]["_content"])
            clean = str(row["clean"]["_content"]) if "clean" in row else raw
            out[f"{row['tagspace']}:{row['tag']}"] = {
                "full": clean,
                "label": row["label"],
                "value": clean,
                "raw_value": raw,
            }
        return out

    def photo_json(self, photo: Photo, export_date: int, album_ids: list[str]) -> dict[str, Any]:
        """One ``photo_<id>.json``."""
        users = self.world.users
        owner = users[photo.owner]
        comments = [c for c in photo.comments if c.datecreate <= export_date]
        geo: Any = []
        if photo.geo is not None:
            geo = {
                "latitude": str(round(photo.geo.latitude * 1_000_000)),
                "longitude": str(round(photo.geo.longitude * 1_000_000)),
                "accuracy": str(photo.geo.accuracy),
            }
        original = ""
        rendition = find_rendition(photo, "o")
        if rendition is not None:
            original = f"{CDN}/{photo.server}/{photo.id}_{rendition.secret}_o.{rendition.ext}"
        return {
            "id": photo.id,
            "name": photo.title,
            "description": photo.description,
            "count_views": str(photo.views),
            "count_faves": str(sum(1 for f in photo.faves if f.favedate <= export_date)),
            "count_comments": str(len(comments)),
            "date_taken": photo.datetaken,
            "count_tags": str(len(photo.tags)),
            "count_notes": str(len(photo.notes)),
            "rotation": photo.rotation,
            "date_imported": fmt_date(photo.dateupload),
            "photopage": f"{WEB}/photos/{owner.path_alias or owner.nsid}/{photo.id}/",
            "original": original,
            "license": LICENSE_NAMES.get(photo.license),
            "geo": geo,
            "groups": [],
            "albums": album_ids,
            "tags": [
                {
                    "tag": t.raw,
                    "user": profile_url(users[t.author]),
                    "date_create": fmt_date(photo.dateupload),
                }
                for t in photo.tags
            ],
            "people": [
                {
                    "user": profile_url(users[p.nsid]),
                    "added_by": profile_url(users[p.added_by]),
                    **(
                        {}
                        if p.box is None
                        else dict(zip(("x", "y", "w", "h"), map(str, p.box), strict=True))
                    ),
                }
                for p in photo.people
            ],
            "notes": [
                {
                    "id": n.id,
                    "user": profile_url(users[n.author]),
                    "x": str(n.x),
                    "y": str(n.y),
                    "w": str(n.w),
                    "h": str(n.h),
                    "note": n.text,
                }
                for n in photo.notes
            ],
            "privacy": privacy(photo),
            "comment_permissions": "anyone",
            "tagging_permissions": "you",
            "safety": SAFETY.get(photo.safety_level, str(photo.safety_level)),
            "comments": [
                {
                    "id": c.id,
                    "date": fmt_date(c.datecreate),
                    "user": profile_url(users[c.author]),
                    "comment": c.text,
                }
                for c in comments
            ],
            "exif": self.exif_block(photo) if photo.media == "photo" else {},
        }

    def account_files(self, photos: list[Photo], export_date: int) -> Iterator[tuple[str, Any]]:
        """(member name, JSON) of the account-data zip, photo files last."""
        w = self.world
        owner = w.owner
        kept = {p.id for p in photos}
        first = min((p.dateupload for p in photos), default=export_date)
        yield (
            "account_profile.json",
            {
                "nsid": owner.nsid,
                "screen_name": owner.username,
                "real_name": owner.realname,
                "profile_url": profile_url(owner),
                "joined_date": fmt_date(first - 86400),
                "description": owner.description,
                "hometown": owner.location,
                "is_pro": "yes" if owner.ispro else "no",
            },
        )
        albums: list[dict[str, Any]] = []
        for a in w.live_albums():
            if a.date_create > export_date:
                continue
            ids = [i for i in a.photo_ids if i in kept]
            albums.append(
                {
                    "id": a.id,
                    "title": a.title,
                    "description": a.description,
                    "view_count": str(a.count_views),
                    "photo_count": str(len(ids)),
                    "created": str(a.date_create),
                    "last_updated": str(min(a.date_update or a.date_create, export_date)),
                    "cover_photo": f"{WEB}/photos//{a.primary}" if a.primary in kept else "",
                    "url": f"{WEB}/photos/{owner.path_alias or owner.nsid}/albums/{a.id}",
                    "photos": ids,
                }
            )
        yield "albums.json", {"albums": albums}
        galleries = [
            {
                "id": g.id,
                "title": g.title,
                "description": g.description,
                "view_count": str(g.count_views),
                "photo_count": str(len(g.items)),
                "created": str(g.date_create),
                "last_updated": str(g.date_update),
                "url": f"{WEB}/photos/{owner.path_alias or owner.nsid}/galleries/{g.id}/",
                "photos": [{"id": pid, "comment": note} for pid, note in g.items],
            }
            for g in w.galleries
            if g.date_create <= export_date
        ]
        yield "galleries.json", {"galleries": galleries}
        faves = [
            {
                "photo_id": f.photo_id,
                "url": self._page(w.photos[f.photo_id]),
                "date_faved": fmt_date(f.date_faved),
            }
            for f in w.owner_faves
            if f.date_faved <= export_date
        ]
        yield "faves_part001.json", {"faves": faves}
        mine = [
            {
                "photo_id": p.id,
                "comment_id": c.id,
                "url": self._page(p),
                "date": fmt_date(c.datecreate),
                "comment": c.text,
            }
            for p in w.photos.values()
            for c in p.comments
            if c.author == owner.nsid and c.datecreate <= export_date and not p.deleted
        ]
        yield "photos_comments_part001.json", {"comments": mine}
        yield "sets_comments_part001.json", {"comments": []}
        for photo in photos:
            albums_of = [a["id"] for a in albums if photo.id in a["photos"]]
            yield f"photo_{photo.id}.json", self.photo_json(photo, export_date, albums_of)

    def _page(self, photo: Photo) -> str:
        owner = self.world.users[photo.owner]
        return f"{WEB}/photos/{owner.path_alias or owner.nsid}/{photo.id}/"

    # -- media -------------------------------------------------------------------------------
    def original_chunks(self, photo: Photo) -> Iterator[bytes]:
        """The original's bytes, exactly what the CDN serves for it."""
        if photo.video is not None:
            yield from self.media.video_chunks(photo, "orig")
            return
        rendition = find_rendition(photo, "o")
        assert rendition is not None
        yield self.media.image(photo, rendition)

    def original_size(self, photo: Photo) -> int:
        """Byte length of the original (rendering images once; they are cached)."""
        if photo.video is not None:
            return self.media.video_size(photo, "orig")
        return sum(len(c) for c in self.original_chunks(photo))

    # -- the whole export ---------------------------------------------------------------------
    def write(
        self,
        folder: str | Path,
        *,
        export_date: int = GENERATED_NOW,
        split_bytes: int = DEFAULT_SPLIT,
        leave_out: Iterable[str] | int = (),
    ) -> ExportSummary:
        """Write the export into ``folder`` (created); ``leave_out``: ids whose originals the
        media zips lack, or how many to pick (evenly spread over the photostream)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        w = self.world
        stamp = time.gmtime(export_date)[:6]
        photos = [p for p in reversed(w.own_photos()) if p.dateupload <= export_date]
        with_original = [p for p in photos if p.has_original]
        if isinstance(leave_out, int):
            step = max(1, len(with_original) // max(1, leave_out))
            skipped = {p.id for p in with_original[step // 2 :: step][:leave_out]}
        else:
            skipped = set(leave_out)
        summary = ExportSummary(str(out), export_date)
        digits = w.owner.nsid.split("@")[0]
        tag = hashlib.sha1(f"{w.seed}:{export_date}".encode()).hexdigest()[:10]
        name = f"{digits}_{tag}_part1.zip"
        with zipfile.ZipFile(out / name, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in self.account_files(photos, export_date):
                info = zipfile.ZipInfo(member, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, json.dumps(data, ensure_ascii=False, indent=1))
                if member.startswith("photo_"):
                    summary.photo_ids.append(member[6:-5])
        summary.account_zips.append(name)
        part, used = 0, 0
        zf_media: zipfile.ZipFile | None = None
        try:
            for photo in with_original:
                if photo.id in skipped:
                    summary.left_out.append(photo.id)
                    continue
                size = self.original_size(photo)
                if zf_media is None or (used and used + size > split_bytes):
                    if zf_media is not None:
                        zf_media.close()
                    part += 1
                    used = 0
                    zip_name = f"data-download-{part}.zip"
                    zf_media = zipfile.ZipFile(out / zip_name, "w", zipfile.ZIP_STORED)
                    summary.media_zips.append(zip_name)
                member = media_name(photo)
                info = zipfile.ZipInfo(member, date_time=stamp)
                info.file_size = size
                with zf_media.open(info, "w", force_zip64=size > 0x7FFFFFFF) as fh:
                    for chunk in self.original_chunks(photo):
                        fh.write(chunk)
                summary.media[photo.id] = member
                used += size
        finally:
            if zf_media is not None:
                zf_media.close()
        return summary


def write_export(world: World, media: MediaStore, folder: str | Path, **kw: Any) -> ExportSummary:
    """Write ``world``'s export into ``folder`` under the world's lock (see ``ExportWriter``)."""
    with world.lock:
        return ExportWriter(world, media).write(folder, **kw)
