"""An XMP packet inside a PNG or GIF original, where each format has a place for one.

Neither format has room for EXIF or IPTC that photo apps read, but both carry XMP (XMP
Specification Part 3): PNG as an ``iTXt`` chunk with the keyword ``XML:com.adobe.xmp`` (not
compressed, no language tag, no translated keyword, the packet in UTF-8), GIF as an application
extension ``XMP DataXMP`` holding the packet raw, followed by a 258-byte "magic trailer" that
makes a reader who walks it as sub-blocks land on the block terminator. Ours goes where
exiftool puts it: in a PNG right after IHDR, in a GIF after the global colour table and the
application or comment extensions that follow it (a NETSCAPE2.0 loop is expected first), before
the first graphic control extension or image. A GIF87a becomes a GIF89a, the version that
allows extensions: every decoder reads both.

Nothing else changes: image data, palettes, ICC profiles and other chunks or blocks stay byte for
byte. The bytes embedding replaced (``served_segment``: b"" when the packet was inserted, the
GIF's served version in front) are all ``restore`` needs to give back the file as served. A
file that has its own XMP packet (an editor's) keeps it and gets none of ours; one of ours
(the file was archived, then uploaded again) is replaced in place.

The head (``head_length``: the chunks or blocks before the image data) is all embedding
rewrites, so it can be done while the file streams in (``exif.StreamingEmbed``); ``check_rest``
then walks the rest on disk for a packet of someone else's and for a file cut short.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = [
    "PNG_SIGNATURE",
    "Unembeddable",
    "check_rest",
    "container",
    "embed_packet",
    "head_length",
    "restore",
    "served_segment",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"XML:com.adobe.xmp"
# keyword, NUL, compression flag 0, compression method 0, empty language tag and translated
# keyword (each NUL-terminated): what precedes the packet in the chunk's data
_ITXT_PREFIX = PNG_KEYWORD + b"\x00\x00\x00\x00\x00"
_GIF_VERSIONS = (b"GIF87a", b"GIF89a")
_GIF_XMP_ID = b"\x0bXMP DataXMP"  # the application extension's first sub-block
_GIF_TRAILER = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"  # 258 bytes, the last a terminator
_MAX_PNG_CHUNK = 0x7FFFFFFF
OURS = b'x:xmptk="flickr-crawl"'  # in every packet xmp.py writes


class Unembeddable(Exception):
    """The file keeps no packet of ours, for the reason given ("has its own XMP"...)."""


class _Short(Exception):
    """The bytes end before the block that starts at ``args[0]`` does."""


@dataclass(frozen=True)
class _Block:
    # PNG: the chunk type ("IHDR", "IDAT"...); GIF: screen, extension, control, text, image,
    # trailer
    kind: str
    start: int
    end: int
    xmp: bool  # an XMP packet (iTXt XML:com.adobe.xmp, application extension XMP DataXMP)

    @property
    def image_data(self) -> bool:
        """Whether the head ends here: the first chunk or block of (or tied to) an image."""
        return self.kind in ("IDAT", "IEND", "control", "text", "image", "trailer")


def container(data: bytes | bytearray) -> str | None:
    """The kind of file ``data`` starts: "png", "gif", or None for any other."""
    if data[:8] == PNG_SIGNATURE:
        return "png"
    if data[:6] in _GIF_VERSIONS:
        return "gif"
    return None


# -- walking the chunks and blocks ----------------------------------------------------------


def _png_blocks(fh: IO[bytes], pos: int, size: int, *, head: bool) -> Iterator[_Block]:
    """The chunks of a PNG from ``pos`` (a chunk boundary) through IEND; raises _Short when
    ``size`` bytes end first, Unembeddable for bytes that are no chunks. ``head``: stop at
    the first chunk of image data, as soon as its type is known (its end is then -1)."""
    while True:
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8:
            raise _Short(pos)
        length, kind = struct.unpack(">I4s", header)
        if length > _MAX_PNG_CHUNK or not kind.isalpha():
            raise Unembeddable("corrupt PNG")
        if head and kind in (b"IDAT", b"IEND"):
            yield _Block(kind.decode("ascii"), pos, -1, xmp=False)
            return
        end = pos + 12 + length
        if end > size:
            raise _Short(pos)
        xmp = kind == b"iTXt" and fh.read(len(PNG_KEYWORD) + 1) == PNG_KEYWORD + b"\x00"
        yield _Block(kind.decode("ascii"), pos, end, xmp)
        if kind == b"IEND":
            return
        pos = end


def _skip_sub_blocks(fh: IO[bytes], pos: int) -> int:
    """Where the sub-blocks starting at ``pos`` end (after their terminator)."""
    fh.seek(pos)
    while True:
        count = fh.read(1)
        if not count:
            raise _Short(-1)  # inside a block: never where a head may end
        pos += 1
        if not count[0]:
            return pos
        pos += count[0]
        if len(fh.read(count[0])) < count[0]:
            raise _Short(-1)


def _colour_table(packed: int) -> int:
    """Bytes of the colour table a GIF's packed field announces (0 without one)."""
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


_GIF_LABELS = {0xF9: "control", 0x01: "text"}


def _gif_blocks(fh: IO[bytes], pos: int, *, head: bool) -> Iterator[_Block]:
    """The blocks of a GIF from ``pos`` (0: the header and screen descriptor, else a block
    boundary) through the trailer; raises _Short when the bytes end first. ``head``: stop at
    the first block of (or for) an image, as soon as its kind is known (its end is then -1)."""
    if pos == 0:
        fh.seek(0)
        screen = fh.read(13)
        if len(screen) < 13:
            raise _Short(0)
        end = 13 + _colour_table(screen[10])
        fh.seek(end - 1)
        if len(fh.read(1)) < 1:
            raise _Short(0)
        yield _Block("screen", 0, end, xmp=False)
        pos = end
    while True:
        fh.seek(pos)
        introducer = fh.read(2)
        if not introducer:
            raise _Short(pos)
        if introducer[0] == 0x3B:
            yield _Block("trailer", pos, pos + 1, xmp=False)
            return
        if len(introducer) < 2:
            raise _Short(pos)
        image = introducer[0] == 0x2C
        if head and (image or (introducer[0] == 0x21 and introducer[1] in _GIF_LABELS)):
            yield _Block("image" if image else _GIF_LABELS[introducer[1]], pos, -1, xmp=False)
            return
        if introducer[0] == 0x21:
            label = introducer[1]
            xmp = label == 0xFF and fh.read(len(_GIF_XMP_ID)) == _GIF_XMP_ID
            end = _skip_sub_blocks(fh, pos + 2)
            yield _Block(_GIF_LABELS.get(label, "extension"), pos, end, xmp)
        elif introducer[0] == 0x2C:
            fh.seek(pos)
            descriptor = fh.read(10)
            if len(descriptor) < 10:
                raise _Short(pos)
            data = pos + 10 + _colour_table(descriptor[9]) + 1  # after the LZW code size
            end = _skip_sub_blocks(fh, data)
            yield _Block("image", pos, end, xmp=False)
        else:
            raise Unembeddable("corrupt GIF")
        pos = end


def _blocks(
    fh: IO[bytes], kind: str, pos: int, size: int, *, head: bool = False
) -> Iterator[_Block]:
    if kind == "png":
        return _png_blocks(fh, pos or len(PNG_SIGNATURE), size, head=head)
    return _gif_blocks(fh, pos, head=head)


def head_length(data: bytes | bytearray) -> int | None:
    """How many leading bytes of a PNG or GIF come before its image data: all embedding
    reads and rewrites. None while ``data`` is too short to tell; 0 for bytes that are not a
    PNG or GIF, or not one this can walk."""
    if len(data) < 8:
        raw = bytes(data)
        maybe = PNG_SIGNATURE.startswith(raw) or any(v.startswith(raw[:6]) for v in _GIF_VERSIONS)
        return None if maybe else 0
    kind = container(data)
    if kind is None:
        return 0
    try:
        for block in _blocks(io.BytesIO(data), kind, 0, len(data), head=True):
            if kind == "png" and block.start == len(PNG_SIGNATURE) and block.kind != "IHDR":
                return 0
            if block.image_data:
                return block.start if block.kind != "IEND" else 0
    except _Short:
        return None
    except Unembeddable:
        return 0
    return 0


# -- embedding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    kind: str
    start: int  # the bytes data[start:end] make way for our packet
    end: int


def _plan(data: bytes, *, complete: bool) -> _Plan:
    """Where our packet goes in ``data`` (a whole file, or with ``complete`` False its head,
    ``head_length`` bytes); Unembeddable when it goes nowhere."""
    kind = container(data)
    if kind is None:
        raise Unembeddable("not a PNG or GIF")
    head: list[_Block] = []
    rest: list[_Block] = []
    try:
        for block in _blocks(io.BytesIO(data), kind, 0, len(data), head=not complete):
            (rest if rest or block.image_data else head).append(block)
    except _Short as short:
        if complete or short.args[0] != len(data):
            raise Unembeddable(f"corrupt {kind.upper()}") from None
    if not head or (kind == "png" and head[0].kind != "IHDR"):
        raise Unembeddable(f"corrupt {kind.upper()}")
    if complete and not rest:
        raise Unembeddable(f"corrupt {kind.upper()}")  # no image data
    if complete and kind == "png" and rest[0].kind != "IDAT":
        raise Unembeddable("corrupt PNG")
    packets = [b for b in head + rest if b.xmp]
    ours = [b for b in head if b.xmp and OURS in data[b.start : b.end]]
    if len(packets) > len(ours) or len(ours) > 1:
        raise Unembeddable("has its own XMP")
    if ours:
        return _Plan(kind, ours[0].start, ours[0].end)
    where = head[0].end if kind == "png" else head[-1].end
    return _Plan(kind, where, where)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _gif_extension(packet: bytes) -> bytes:
    return b"\x21\xff" + _GIF_XMP_ID + packet + _GIF_TRAILER


def served_segment(data: bytes, *, complete: bool = True) -> bytes:
    """The served bytes ``embed_packet`` replaces (b"" where it only inserts; a GIF's 6-byte
    header in front): with them ``restore`` gives the file back as served."""
    plan = _plan(data, complete=complete)
    header = data[:6] if plan.kind == "gif" else b""
    return header + data[plan.start : plan.end]


def embed_packet(data: bytes, packet: bytes, *, complete: bool = True) -> bytes:
    """``data`` (a PNG or GIF, or with ``complete`` False its head) with ``packet`` (UTF-8
    XMP) in it; raises Unembeddable for a file that keeps no packet of ours."""
    plan = _plan(data, complete=complete)
    if plan.kind == "png":
        block = _png_chunk(b"iTXt", _ITXT_PREFIX + packet)
        return data[: plan.start] + block + data[plan.end :]
    if b"\x00" in packet:  # read as a sub-block terminator inside the raw packet
        raise Unembeddable("XMP packet has a NUL byte")
    block = _gif_extension(packet)
    return b"GIF89a" + data[6 : plan.start] + block + data[plan.end :]


def restore(data: bytes, segment: bytes) -> bytes:
    """The file as served, from one with our packet and the ``served_segment`` kept."""
    kind = container(data)
    if kind is None:
        raise ValueError("not a PNG or GIF")
    try:
        blocks = list(_blocks(io.BytesIO(data), kind, 0, len(data)))
    except (_Short, Unembeddable) as exc:
        raise ValueError(f"corrupt {kind.upper()}") from exc
    packets = [b for b in blocks if b.xmp]
    if len(packets) != 1 or OURS not in data[packets[0].start : packets[0].end]:
        raise ValueError("no XMP packet of ours to replace")
    ours = packets[0]
    if kind == "png":
        return data[: ours.start] + segment + data[ours.end :]
    if segment[:6] not in _GIF_VERSIONS:
        raise ValueError("the kept segment has no GIF header")
    return segment[:6] + data[6 : ours.start] + segment[6:] + data[ours.end :]


def check_rest(path: Path, start: int) -> None:
    """After the head was rewritten on its way to disk: raises Unembeddable when the file at
    ``path`` has an XMP packet of its own after its first ``start`` bytes (its head), or ends
    before its last chunk or block."""
    with path.open("rb") as fh:
        kind = container(fh.read(8))
        size = fh.seek(0, 2)
        if kind is None:
            raise Unembeddable("not a PNG or GIF")
        try:
            for block in _blocks(fh, kind, start, size):
                if block.xmp:
                    raise Unembeddable("has its own XMP")
        except _Short:
            raise Unembeddable(f"corrupt {kind.upper()}") from None
