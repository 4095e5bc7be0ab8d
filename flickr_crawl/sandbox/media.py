"""Deterministic media bytes for the sandbox CDN: JPEG/PNG/GIF images and streamed videos.

Images are rendered with Pillow from (seed, photo id, size) so the same URL always returns the
same bytes; JPEG originals carry camera EXIF written with piexif (Make, Model, DateTimeOriginal
matching ``datetaken``, a MakerNote blob, GPS on geotagged photos, Orientation on some), which is
also what ``flickr.photos.getExif`` reports. Rendered images sit in a bounded LRU cache.

Videos are an ``ftyp`` box followed by an ``mdat`` box of pseudo-random bytes generated per
1 MiB chunk from (seed, photo id, stream, chunk index), so any byte range of a multi-gigabyte
file can be produced on demand without holding the file in memory.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import threading
import zlib
from collections import OrderedDict
from typing import TYPE_CHECKING

import piexif
from PIL import Image

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flickr_crawl.sandbox.sizes import Rendition
    from flickr_crawl.sandbox.world import Photo

CHUNK = 1 << 20
SMALL_EDGE = 48
VIDEO_STREAM_FRACTION = {"720p": 2, "360p": 5, "288p": 7, "700": 4, "appletv": 3, "iphone_wifi": 6}


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


def camera_settings(photo: Photo) -> dict[str, object]:
    """Exposure values for a photo, shared by the JPEG's EXIF and getExif."""
    r = _rng("exif", photo.id)
    return {
        "exposure": r.choice(((1, 60), (1, 125), (1, 250), (1, 1000), (1, 30), (2, 1))),
        "fnumber": r.choice(((18, 10), (28, 10), (40, 10), (56, 10), (80, 10))),
        "iso": r.choice((100, 200, 400, 800, 3200)),
        "focal": r.choice(((24, 1), (35, 1), (50, 1), (85, 1), (42, 10))),
        "lens": r.choice(("24-70mm F2.8", "35mm F1.4", "")),
    }


def exif_datetime(photo: Photo) -> str | None:
    """``datetaken`` in EXIF form, or None when the taken date is unknown."""
    if photo.takenunknown:
        return None
    return photo.datetaken.replace("-", ":", 2)


def _dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    value = abs(value)
    deg = int(value)
    minutes = int((value - deg) * 60)
    seconds = round(((value - deg) * 60 - minutes) * 60 * 100)
    return ((deg, 1), (minutes, 1), (seconds, 100))


def exif_bytes(photo: Photo) -> bytes | None:
    """The EXIF block embedded in a JPEG original, or None for cameraless photos."""
    if photo.camera is None:
        return None
    make, model = photo.camera
    cs = camera_settings(photo)
    zeroth: dict[int, object] = {
        piexif.ImageIFD.Make: make,
        piexif.ImageIFD.Model: model,
        piexif.ImageIFD.Orientation: photo.orientation,
        piexif.ImageIFD.XResolution: (72, 1),
        piexif.ImageIFD.YResolution: (72, 1),
        piexif.ImageIFD.ResolutionUnit: 2,
        piexif.ImageIFD.Software: "sandbox 1.0",
    }
    exif: dict[int, object] = {
        piexif.ExifIFD.ExposureTime: cs["exposure"],
        piexif.ExifIFD.FNumber: cs["fnumber"],
        piexif.ExifIFD.ISOSpeedRatings: cs["iso"],
        piexif.ExifIFD.FocalLength: cs["focal"],
        piexif.ExifIFD.PixelXDimension: photo.width,
        piexif.ExifIFD.PixelYDimension: photo.height,
        piexif.ExifIFD.MakerNote: b"SBXMN\x00" + hashlib.sha256(photo.id.encode()).digest() * 4,
    }
    dt = exif_datetime(photo)
    if dt:
        zeroth[piexif.ImageIFD.DateTime] = dt
        exif[piexif.ExifIFD.DateTimeOriginal] = dt
        exif[piexif.ExifIFD.DateTimeDigitized] = dt
    if cs["lens"]:
        exif[piexif.ExifIFD.LensModel] = cs["lens"]
    gps: dict[int, object] = {}
    if photo.geo is not None:
        gps = {
            piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
            piexif.GPSIFD.GPSLatitudeRef: "N" if photo.geo.latitude >= 0 else "S",
            piexif.GPSIFD.GPSLatitude: _dms(photo.geo.latitude),
            piexif.GPSIFD.GPSLongitudeRef: "E" if photo.geo.longitude >= 0 else "W",
            piexif.GPSIFD.GPSLongitude: _dms(photo.geo.longitude),
        }
    return piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps, "1st": {}, "thumbnail": None})


def _jpeg_with(template: bytes, exif: bytes | None, comment: bytes) -> bytes:
    """``template`` (SOI, APP0 JFIF, ...) with an APP1 EXIF block and a COM segment after APP0."""
    cut = 2
    if template[2:4] == b"\xff\xe0":
        cut = 4 + struct.unpack(">H", template[4:6])[0]
    parts = [template[:cut]]
    if exif:
        parts.append(b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif)
    parts.append(b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment)
    parts.append(template[cut:])
    return b"".join(parts)


def _png_with(template: bytes, text: bytes) -> bytes:
    """``template`` with a ``tEXt`` Comment chunk right after IHDR (8 + 25 bytes in)."""
    body = b"tEXt" + b"Comment\x00" + text
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return template[:33] + chunk + template[33:]


class MediaStore:
    """Renders and caches image bytes; generates video bytes on the fly."""

    def __init__(self, seed: int, image_size: str = "realistic", cache_bytes: int = 96 << 20):
        self.seed = seed
        self.small = image_size == "small"
        # "fast": realistic dimensions and byte sizes, pixels encoded once per (size, format)
        # and made unique per photo by its own EXIF and a comment. Benchmarks use it so the
        # sandbox's Pillow encoder (~0.4 s per 24 MP JPEG) is not what they measure.
        self.templated = image_size == "fast"
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._cached = 0
        self._templates: dict[tuple[int, int, str], bytes] = {}
        self._lock = threading.Lock()

    # -- images -------------------------------------------------------------------------------
    def image(self, photo: Photo, rendition: Rendition) -> bytes:
        """The bytes of one rendition (LRU-cached)."""
        key = (photo.id, rendition.spec.code, rendition.secret)
        with self._lock:
            data = self._cache.get(key)
            if data is not None:
                self._cache.move_to_end(key)
                return data
        data = self._render(photo, rendition)
        with self._lock:
            if key not in self._cache and len(data) < self.cache_bytes // 4:
                self._cache[key] = data
                self._cached += len(data)
                while self._cached > self.cache_bytes and self._cache:
                    _, old = self._cache.popitem(last=False)
                    self._cached -= len(old)
        return data

    def _render(self, photo: Photo, rendition: Rendition) -> bytes:
        w, h = rendition.width, rendition.height
        if self.small:
            scale = SMALL_EDGE / max(w, h)
            w, h = max(1, round(w * scale)), max(1, round(h * scale))
        is_original = rendition.spec.code == "o"
        fmt = rendition.ext if is_original else "jpg"
        exif = exif_bytes(photo) if is_original and photo.media == "photo" else None
        if self.templated and fmt in ("jpg", "png"):
            tag = f"sandbox {self.seed}:{photo.id}:{rendition.spec.code}".encode()
            template = self._template(w, h, fmt)
            return _jpeg_with(template, exif, tag) if fmt == "jpg" else _png_with(template, tag)
        img = self._pixels(w, h, _rng(self.seed, photo.id, rendition.spec.code))
        out = io.BytesIO()
        if fmt == "png":
            img.save(out, "PNG")
        elif fmt == "gif":
            img.convert("P", palette=Image.Palette.ADAPTIVE).save(out, "GIF")
        elif exif:
            img.save(out, "JPEG", quality=88, exif=exif)
        else:
            img.save(out, "JPEG", quality=88)
        return out.getvalue()

    @staticmethod
    def _pixels(w: int, h: int, r: random.Random) -> Image.Image:
        """Smooth colour blobs plus fine noise: compresses about like a photo."""
        gw, gh = max(2, w // 64), max(2, h // 64)
        base = Image.frombytes("RGB", (gw, gh), r.randbytes(gw * gh * 3))
        base = base.resize((w, h), Image.Resampling.BICUBIC)
        nw, nh = max(1, w // 3), max(1, h // 3)
        noise = Image.frombytes("RGB", (nw, nh), r.randbytes(nw * nh * 3))
        return Image.blend(base, noise.resize((w, h), Image.Resampling.NEAREST), 0.12)

    def _template(self, w: int, h: int, fmt: str) -> bytes:
        """The encoded pixels shared by every rendition of this size and format."""
        key = (w, h, fmt)
        with self._lock:
            data = self._templates.get(key)
        if data is None:
            out = io.BytesIO()
            img = self._pixels(w, h, _rng(self.seed, "template", w, h, fmt))
            img.save(out, "PNG" if fmt == "png" else "JPEG", quality=88)
            data = out.getvalue()
            with self._lock:
                self._templates.setdefault(key, data)
        return data

    # -- videos -------------------------------------------------------------------------------
    def video_size(self, photo: Photo, stream: str) -> int:
        """Total byte length of a video stream ("orig" = the uploaded original)."""
        assert photo.video is not None
        if stream == "orig":
            return photo.video.size
        return max(4096, photo.video.size // VIDEO_STREAM_FRACTION.get(stream, 4))

    def _header(self, photo: Photo, stream: str) -> bytes:
        assert photo.video is not None
        total = self.video_size(photo, stream)
        if stream == "orig" and photo.video.container == "mov":
            ftyp = b"ftyp" + b"qt  " + struct.pack(">I", 0x20050300) + b"qt  "
        else:
            ftyp = b"ftyp" + b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
        ftyp = struct.pack(">I", len(ftyp) + 4) + ftyp
        rest = total - len(ftyp)
        if rest <= 0xFFFFFFFF:
            mdat = struct.pack(">I", rest) + b"mdat"
        else:
            mdat = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", rest)
        return ftyp + mdat

    def video_chunks(
        self, photo: Photo, stream: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Yield bytes [start, end] (inclusive) of a video stream in <= 1 MiB pieces."""
        total = self.video_size(photo, stream)
        last = total - 1 if end is None else min(end, total - 1)
        header = self._header(photo, stream)
        pos = start
        if pos < len(header):
            piece = header[pos : min(len(header), last + 1)]
            yield piece
            pos += len(piece)
        while pos <= last:
            offset = pos - len(header)
            index, within = divmod(offset, CHUNK)
            chunk = _rng(self.seed, photo.id, stream, index).randbytes(CHUNK)
            piece = chunk[within : within + (last + 1 - pos)]
            yield piece
            pos += len(piece)

    def video_digest(self, photo: Photo, stream: str = "orig") -> str:
        """sha256 of a whole video stream, computed by streaming."""
        h = hashlib.sha256()
        for piece in self.video_chunks(photo, stream):
            h.update(piece)
        return h.hexdigest()
