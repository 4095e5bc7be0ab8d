"""The camera's own EXIF, read from the original file instead of one getExif call per photo.

Flickr's photos.getExif only repeats what the original already carries, so the backup reads
the few fields people look for (camera, lens, exposure, when, where) from the downloaded bytes
and records them in the sidecar. Reading never changes the file.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

import piexif

if TYPE_CHECKING:
    from pathlib import Path

_FIELDS = {
    ("0th", piexif.ImageIFD.Make): "make",
    ("0th", piexif.ImageIFD.Model): "model",
    ("0th", piexif.ImageIFD.Software): "software",
    ("0th", piexif.ImageIFD.Orientation): "orientation",
    ("Exif", piexif.ExifIFD.DateTimeOriginal): "date_time_original",
    ("Exif", piexif.ExifIFD.OffsetTimeOriginal): "offset_time_original",
    ("Exif", piexif.ExifIFD.LensModel): "lens_model",
    ("Exif", piexif.ExifIFD.ExposureTime): "exposure_time",
    ("Exif", piexif.ExifIFD.FNumber): "f_number",
    ("Exif", piexif.ExifIFD.ISOSpeedRatings): "iso",
    ("Exif", piexif.ExifIFD.FocalLength): "focal_length",
    ("Exif", piexif.ExifIFD.PixelXDimension): "width",
    ("Exif", piexif.ExifIFD.PixelYDimension): "height",
}


def read_camera_exif(source: Path | bytes) -> dict[str, Any] | None:
    """The camera fields of a JPEG's EXIF (a file, or its bytes from the start to the scan
    data at least) as plain JSON values, or None if there is none."""
    try:
        exif = piexif.load(source if isinstance(source, bytes) else str(source))
    except (ValueError, OSError, piexif.InvalidImageDataError, KeyError, IndexError):
        return None
    found: dict[str, Any] = {}
    for (ifd, tag), name in _FIELDS.items():
        value = exif.get(ifd, {}).get(tag)
        if value is not None:
            found[name] = _plain(value)
    gps = exif.get("GPS", {})
    if gps.get(piexif.GPSIFD.GPSLatitude) and gps.get(piexif.GPSIFD.GPSLongitude):
        lat = _degrees(gps[piexif.GPSIFD.GPSLatitude], gps.get(piexif.GPSIFD.GPSLatitudeRef))
        lon = _degrees(gps[piexif.GPSIFD.GPSLongitude], gps.get(piexif.GPSIFD.GPSLongitudeRef))
        found["gps"] = {"latitude": lat, "longitude": lon}
    found["has_maker_note"] = piexif.ExifIFD.MakerNote in exif.get("Exif", {})
    return found if len(found) > 1 else None


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").rstrip("\x00").strip()
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return str(Fraction(*value)) if value[1] else None  # a rational: "1/250", "28/10"
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _degrees(dms: Any, ref: Any) -> float | None:
    try:
        degrees = sum(Fraction(n, d) / 60**i for i, (n, d) in enumerate(dms))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    sign = -1 if ref in (b"S", b"W", "S", "W") else 1
    return round(float(degrees) * sign, 7)
