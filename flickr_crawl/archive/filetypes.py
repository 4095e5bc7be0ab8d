"""What a file really is, from its first bytes; and the extension it should carry.

A poster JPEG must never be saved under a video's name, and an HTML error page never under a
photo's: the bytes decide, not the URL or a fixed ``.mov``.
"""

from __future__ import annotations

IMAGE_KINDS = frozenset({"jpeg", "png", "gif", "webp", "heic", "tiff", "bmp"})
VIDEO_KINDS = frozenset({"mp4", "mov", "avi", "mpeg", "webm", "3gp", "m4v", "wmv", "flv"})

EXTENSIONS = {
    "jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "heic": "heic", "tiff": "tif",
    "bmp": "bmp", "mp4": "mp4", "mov": "mov", "avi": "avi", "mpeg": "mpg", "webm": "webm",
    "3gp": "3gp", "m4v": "m4v", "wmv": "wmv", "flv": "flv",
}  # fmt: skip

CONTENT_TYPES = {
    "video/mp4": "mp4", "video/quicktime": "mov", "video/x-msvideo": "avi", "video/avi": "avi",
    "video/mpeg": "mpeg", "video/webm": "webm", "video/3gpp": "3gp", "video/x-m4v": "m4v",
    "video/x-ms-wmv": "wmv", "video/x-flv": "flv", "image/jpeg": "jpeg", "image/png": "png",
    "image/gif": "gif", "image/webp": "webp", "image/heic": "heic", "image/tiff": "tiff",
}  # fmt: skip

# The type of each kind of bytes: what a verified file is recorded as, whatever a CDN said.
MIME_TYPES = {
    "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
    "heic": "image/heic", "tiff": "image/tiff", "bmp": "image/bmp", "mp4": "video/mp4",
    "mov": "video/quicktime", "avi": "video/x-msvideo", "mpeg": "video/mpeg",
    "webm": "video/webm", "3gp": "video/3gpp", "m4v": "video/x-m4v", "wmv": "video/x-ms-wmv",
    "flv": "video/x-flv",
}  # fmt: skip

_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff(head: bytes) -> str | None:
    """The kind of file these first bytes (at least 16) start, or None if unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "mov"
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "heic"
        if brand.startswith(b"3g"):
            return "3gp"
        if brand == b"M4V ":
            return "m4v"
        return "mp4"
    if head[4:8] in _QUICKTIME_ATOMS:
        return "mov"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "webm"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg"
    if head[:3] == b"FLV":
        return "flv"
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return "wmv"
    if head[:2] == b"BM":
        return "bmp"
    if head.lstrip()[:1] == b"<":
        return "html"
    return None


def mime_type(kind: str | None) -> str | None:
    """The media type of a kind of file ``sniff`` found; None for an unknown kind."""
    return MIME_TYPES.get(kind or "")


def mime_type_of_name(name: str) -> str | None:
    """The media type of a file we placed, from its name: its extension is its sniffed kind's."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kinds = {ext: kind for kind, ext in EXTENSIONS.items()}
    return mime_type(kinds.get(extension))


def is_video(kind: str | None) -> bool:
    return kind in VIDEO_KINDS


def is_image(kind: str | None) -> bool:
    return kind in IMAGE_KINDS


def extension_for(kind: str | None, content_type: str = "", disposition: str = "") -> str | None:
    """The extension to save under: from the bytes, else Content-Disposition, else Content-Type."""
    if kind in EXTENSIONS:
        return EXTENSIONS[kind]
    if "filename=" in disposition:
        name = disposition.split("filename=", 1)[1].strip().strip('"')
        if "." in name:
            return name.rsplit(".", 1)[1].lower()[:8]
    mapped = CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
    return EXTENSIONS.get(mapped) if mapped else None
