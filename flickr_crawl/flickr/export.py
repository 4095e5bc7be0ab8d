"""Flickr's account data export ("Request my Flickr data") as a source: find what is in it.

An export is a folder of zips (``<digits>_<hex>_part<N>.zip`` with ``account_profile.json``,
``albums.json`` and one ``photo_<id>.json`` per item; ``data-download-<N>.zip`` with the
originals, named ``<name or title>_<id>_o.<ext>``), or the same files unpacked. ``ExportIndex``
maps photo ids to their JSON and their original without unpacking anything: members are read
from the zips where they lie, originals streamed by ``open_media``. Names are no identifiers
beyond the ``_<id>_o.`` in them, so nothing here trusts a name as a path.

What cannot be imported safely is said in one line each and kept out, never guessed at: an
unreadable (truncated or corrupt) zip or another account's export stop everything
(``ExportError``); a photo's JSON without its original, an original without JSON, an id found
twice, a member whose name climbs out of its folder or a JSON that names another id leave that
item to the API (``ExportIndex.notes``). The export date is when its files were written (the
account zips' member times, which have a 2-second grain): anything later comes from the API.
"""

from __future__ import annotations

import calendar
import json
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from types import TracebackType

PHOTO_JSON = re.compile(r"^photo_(\d+)\.json$")
MEDIA_NAME = re.compile(r"(?:^|_)(\d+)_o\.([0-9A-Za-z]+)$")
ACCOUNT_ZIP = re.compile(r"_part\d+\.zip$")
PROFILE = "account_profile.json"
ZIP_TIME_GRAIN = 2  # seconds: DOS times in zips are even


class ExportError(Exception):
    """The export cannot be used at all; the message is one line for a person."""


@dataclass(frozen=True)
class Member:
    """Where one file of the export lives: a zip member, or a loose file (``zip_path`` None)."""

    path: Path  # the zip, or the loose file itself
    name: str  # the member name ("" for a loose file)
    size: int
    mtime: int  # unix seconds, UTC

    @property
    def zip_path(self) -> Path | None:
        """The zip this member is in, or None for a loose file."""
        return self.path if self.name else None

    def where(self, folder: Path) -> str:
        """``data-download-1.zip:name.jpg`` or the loose file's path, relative to the export."""
        rel = self.path.relative_to(folder) if self.path.is_relative_to(folder) else self.path
        return f"{rel}:{self.name}" if self.name else str(rel)


def _unsafe(name: str) -> bool:
    """Does a member name climb out of its folder (``..``, absolute, drive or backslash)?"""
    if name.startswith(("/", "\\")) or "\\" in name or re.match(r"^[A-Za-z]:", name):
        return True
    return ".." in PurePosixPath(name).parts


def _zip_mtime(info: zipfile.ZipInfo) -> int:
    return calendar.timegm((*info.date_time, 0, 0, 0))


@dataclass
class ExportIndex:
    """What an export folder holds, by photo id; ``close()`` (or ``with``) releases the zips."""

    folder: Path
    profile: dict[str, Any]
    export_date: int
    photos: dict[str, Member] = field(default_factory=dict)  # id -> photo_<id>.json
    media: dict[str, Member] = field(default_factory=dict)  # id -> original
    account: dict[str, Member] = field(default_factory=dict)  # other account JSON by name
    notes: list[str] = field(default_factory=list)  # one line per item left to the API
    _zips: dict[Path, zipfile.ZipFile] = field(default_factory=dict, repr=False)

    @property
    def nsid(self) -> str:
        """The account the export belongs to."""
        return str(self.profile.get("nsid") or "")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every zip this index opened."""
        for zf in self._zips.values():
            zf.close()
        self._zips.clear()

    def _zip(self, path: Path) -> zipfile.ZipFile:
        zf = self._zips.get(path)
        if zf is None:
            zf = self._zips[path] = zipfile.ZipFile(path)
        return zf

    def open_member(self, member: Member) -> IO[bytes]:
        """A binary stream of one member (a zip member is decompressed as it is read, and
        its CRC checked at the end: a corrupt member raises ``zipfile.BadZipFile``)."""
        if member.zip_path is None:
            return member.path.open("rb")
        return self._zip(member.path).open(member.name)

    def read_json(self, member: Member) -> Any:
        """One JSON member, parsed."""
        with self.open_member(member) as fh:
            return json.loads(fh.read().decode("utf-8"))

    def photo(self, photo_id: str) -> dict[str, Any] | None:
        """The photo's ``photo_<id>.json``, or None when the export has none (or a bad one:
        said in ``notes`` and the id dropped, so the API is asked instead)."""
        member = self.photos.get(photo_id)
        if member is None:
            return None
        try:
            data = self.read_json(member)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            self._drop(photo_id, f"{member.where(self.folder)} is not readable JSON ({exc})")
            return None
        if not isinstance(data, dict) or str(data.get("id", "")) != photo_id:
            got = data.get("id") if isinstance(data, dict) else type(data).__name__
            self._drop(photo_id, f"{member.where(self.folder)} holds id {got!r}, not {photo_id}")
            return None
        return data

    def open_media(self, photo_id: str) -> IO[bytes]:
        """Stream the original of ``photo_id`` out of its zip (KeyError when there is none)."""
        return self.open_member(self.media[photo_id])

    def account_json(self, name: str) -> Any:
        """Another account file (``albums.json``, ``faves_part001.json``...), or None."""
        member = self.account.get(name)
        return None if member is None else self.read_json(member)

    def _drop(self, photo_id: str, why: str) -> None:
        self.photos.pop(photo_id, None)
        self.media.pop(photo_id, None)
        self.notes.append(f"photo {photo_id}: {why}; it is fetched from Flickr instead")


class _Scan:
    """Collects members from zips and loose files, then checks them (see ``open_export``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index = ExportIndex(folder, {}, 0)
        self.photo_seen: dict[str, list[Member]] = {}
        self.media_seen: dict[str, list[Member]] = {}
        self.profiles: list[Member] = []
        self.account_times: list[int] = []

    def add(self, member: Member, base: str, *, account_zip: bool) -> None:
        """File one member under what its base name says it is."""
        where = member.where(self.folder)
        if m := PHOTO_JSON.match(base):
            self.photo_seen.setdefault(m.group(1), []).append(member)
        elif m := MEDIA_NAME.search(base):
            self.media_seen.setdefault(m.group(1), []).append(member)
        elif base == PROFILE:
            self.profiles.append(member)
        elif base.endswith(".json"):
            if base in self.index.account:
                self.index.notes.append(f"{where}: a second {base}; the first one is used")
            else:
                self.index.account[base] = member
        else:
            return
        if account_zip or base.endswith(".json"):
            self.account_times.append(member.mtime)

    def scan_zip(self, path: Path) -> None:
        """Index a zip's members (reading only its central directory)."""
        try:
            zf = self.index._zip(path)
            infos = zf.infolist()
        except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
            rel = path.relative_to(self.folder)
            raise ExportError(f"{rel}: not a readable zip (truncated or corrupt: {exc})") from exc
        end = path.stat().st_size
        for info in infos:
            if info.is_dir():
                continue
            if _unsafe(info.filename):
                self.index.notes.append(
                    f"{path.name}:{info.filename}: a name that leaves its folder; ignored"
                )
                continue
            if info.header_offset + info.compress_size > end:
                raise ExportError(f"{path.name}: truncated ({info.filename} runs past its end)")
            member = Member(path, info.filename, info.file_size, _zip_mtime(info))
            base = PurePosixPath(info.filename).name
            self.add(member, base, account_zip=bool(ACCOUNT_ZIP.search(path.name)))

    def scan(self) -> None:
        """Every zip and loose file under the folder (symlinks are not followed)."""
        for path in sorted(self.folder.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            if path.suffix.lower() == ".zip":
                self.scan_zip(path)
            else:
                st = path.stat()
                self.add(Member(path, "", st.st_size, int(st.st_mtime)), path.name,
                         account_zip=False)  # fmt: skip


def open_export(folder: str | Path, *, expect_nsid: str = "", export_date: int = 0) -> ExportIndex:
    """Index the export in ``folder``. ``expect_nsid``: the account being backed up (another
    account's export is refused); ``export_date``: overrides the date read from the files."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ExportError(f"export folder {root} does not exist or is not a folder")
    scan = _Scan(root)
    index = scan.index
    try:
        scan.scan()
        if not scan.profiles:
            raise ExportError(
                f"{root}: no {PROFILE} (in a *_part1.zip or unpacked): not a Flickr export"
            )
        profiles = [index.read_json(m) for m in scan.profiles]
        nsids = {str(p.get("nsid") or "") for p in profiles if isinstance(p, dict)}
        if len(nsids) != 1 or "" in nsids:
            raise ExportError(f"{root}: account_profile.json names no single account ({nsids})")
        index.profile = profiles[0]
        nsid = nsids.pop()
        if expect_nsid and nsid != expect_nsid:
            raise ExportError(
                f"{root} is the export of account {nsid}, not of {expect_nsid} being backed up"
            )
    except (ExportError, OSError, ValueError, zipfile.BadZipFile) as exc:
        index.close()
        if isinstance(exc, ExportError):
            raise
        raise ExportError(f"{root}: cannot read the export ({exc})") from exc
    index.export_date = export_date or (max(scan.account_times) + ZIP_TIME_GRAIN - 1)
    for pid, found in sorted(scan.photo_seen.items()):
        if len(found) > 1:
            places = ", ".join(m.where(root) for m in found)
            index.notes.append(f"photo {pid}: its JSON is in the export twice ({places}); "
                               "it is fetched from Flickr instead")  # fmt: skip
            continue
        index.photos[pid] = found[0]
    for pid, found in sorted(scan.media_seen.items()):
        if len(found) > 1:
            places = ", ".join(m.where(root) for m in found)
            index.photos.pop(pid, None)
            index.notes.append(f"photo {pid}: two originals in the export ({places}); "
                               "it is fetched from Flickr instead")  # fmt: skip
            continue
        if pid not in index.photos and pid not in scan.photo_seen:
            index.notes.append(f"{found[0].where(root)}: an original without photo_{pid}.json; "
                               "not imported")  # fmt: skip
            continue
        index.media[pid] = found[0]
    for pid in sorted(set(index.photos) - set(index.media)):
        if pid not in scan.media_seen:
            index.notes.append(f"photo {pid}: JSON without its original in the export; "
                               "the original is fetched from Flickr")  # fmt: skip
    for pid in list(index.media):
        if pid not in index.photos:
            del index.media[pid]
    return index


def export_date_text(ts: int) -> str:
    """An export date for people (UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
