"""What a backup captured, judged from the files it wrote, against the sandbox's ground truth.

No tool's documentation is trusted: every metadata file on disk (``.json``, ``.txt``, ``.xmp``)
whose name holds a photo id is read as plain strings and numbers, and a field counts as captured
for a photo when the ground-truth value appears there (an album also counts when the photo's file
sits in a folder named after it). Media files are opened: a photo counts when an image at the
original's full resolution is on disk; a video is classed as original (same byte size as the
uploaded file), stream (another video file), poster (only a still) or nothing.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    from pathlib import Path

ID_RE = re.compile(r"(?<!\d)(\d{11})(?!\d)")
META_EXT = (".json", ".txt", ".xmp")
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif")
VIDEO_EXT = (".mp4", ".mov")
NUMBER_RE = re.compile(r"-?\d+\.\d+")
FIELDS = ("title", "description", "tags", "date taken", "geo", "comments", "faves", "albums",
          "notes", "people", "camera (EXIF)")  # fmt: skip


@dataclass
class Haystack:
    """Every string and decimal number in one photo's metadata files."""

    strings: list[str] = field(default_factory=list)
    numbers: set[float] = field(default_factory=set)

    def add(self, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self.add(k)
                self.add(v)
        elif isinstance(value, list):
            for v in value:
                self.add(v)
        elif isinstance(value, float):
            self.numbers.add(round(value, 4))
        elif value is not None:
            text = str(value)
            self.strings.append(text)
            self.numbers.update(round(float(n), 4) for n in NUMBER_RE.findall(text))

    def has(self, value: str) -> bool:
        """An exact leaf, or (4+ characters) part of one."""
        v = value.strip()
        if not v:
            return False
        if len(v) < 4:
            return any(v == s or v in s.split() for s in self.strings)
        return any(v in s for s in self.strings)


@dataclass
class Capture:
    """Per field: (photos that have it captured, photos that have it at all)."""

    counts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    videos: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def score(self, name: str, got: int, want: int) -> None:
        self.counts[name][0] += got
        self.counts[name][1] += want

    def cell(self, name: str) -> str:
        got, want = self.counts.get(name, [0, 0])
        return "n/a" if not want else f"{100 * got / want:.0f}%"


def scan(root: Path) -> tuple[dict[str, Haystack], dict[str, list[Path]]]:
    """Metadata haystacks and media files, by photo id."""
    hay: dict[str, Haystack] = defaultdict(Haystack)
    media: dict[str, list[Path]] = defaultdict(list)
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        ids = ID_RE.findall(path.name)
        if not ids:
            continue
        name = path.name.lower()
        if name.endswith(META_EXT):
            text = path.read_text(encoding="utf-8", errors="replace")
            try:
                hay[ids[0]].add(json.loads(text))
            except ValueError:
                hay[ids[0]].add(text)
        elif name.endswith(IMAGE_EXT + VIDEO_EXT):
            media[ids[0]].append(path)
    return hay, media


def _norm(text: str) -> str:
    return re.sub(r"[\W_]", "", text).lower()


def judge(root: Path, truth: dict[str, Any]) -> Capture:
    """Score one tool's output folder against the account's ground truth."""
    hay, media = scan(root)
    cap = Capture()
    albums = {a["id"]: a for a in truth["albums"]}
    for p in truth["photos"]:
        h = hay.get(p["id"], Haystack())
        files = media.get(p["id"], [])
        if p["media"] == "video":
            cap.videos[_video_kind(p, files)] += 1
        elif p["original"]:
            cap.score("original photo", int(_full_size(p, files)), 1)
        if p["title"].strip():
            cap.score("title", int(h.has(p["title"])), 1)
        if p["description"].strip():
            cap.score("description", int(h.has(p["description"])), 1)
        for t in p["tags"]:
            cap.score("tags", int(h.has(t["raw"]) or h.has(t["content"])), 1)
        cap.score("date taken", int(h.has(p["datetaken"][:10])), 1)
        if p["geo"]:
            cap.score("geo", int(round(p["geo"]["latitude"], 4) in h.numbers), 1)
        for c in p["comments"]:
            cap.score("comments", int(h.has(c["id"]) or h.has(c["text"])), 1)
        for f in p["faves"]:
            cap.score("faves", int(h.has(f["nsid"])), 1)
        for n in p["notes"]:
            cap.score("notes", int(h.has(n["text"])), 1)
        for person in p["people"]:
            cap.score("people", int(h.has(person["nsid"])), 1)
        if p["camera"]:
            cap.score("camera (EXIF)", int(h.has(p["camera"]["model"])), 1)
        folders = {_norm(part) for f in files for part in f.relative_to(root).parts[:-1]}
        for aid in p["album_ids"]:
            title = _norm(albums[aid]["title"])
            cap.score("albums", int(h.has(aid) or bool(title and title in folders)), 1)
    return cap


def _full_size(photo: dict[str, Any], files: list[Path]) -> bool:
    for f in files:
        if f.suffix.lower() in IMAGE_EXT:
            try:
                with Image.open(f) as img:
                    if img.size == (photo["width"], photo["height"]):
                        return True
            except OSError:
                continue
    return False


def _video_kind(photo: dict[str, Any], files: list[Path]) -> str:
    videos = [f for f in files if f.suffix.lower() in VIDEO_EXT and _is_video(f)]
    if any(f.stat().st_size == photo["video"]["size"] for f in videos):
        return "original"
    if videos:
        return "stream"
    return "poster" if files else "nothing"


def _is_video(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(8)[4:8] == b"ftyp"
