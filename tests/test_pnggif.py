"""An XMP packet in PNG and GIF files (``flickr_crawl.metadata.pnggif`` through ``exif.py``'s
``embed_metadata`` and ``restore_original``): where it goes, that the image data and every other
chunk or block stay as they were, that the served bytes come back, and which files are left
alone. Files are made with Pillow and exiftool; exiftool reads the result back."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import zlib
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image, ImageSequence

from flickr_crawl.metadata.exif import (
    StreamingEmbed,
    embed_metadata,
    original_exif_segment,
    restore_original,
)
from flickr_crawl.metadata.pnggif import head_length
from tests.test_exif import make_photo

if TYPE_CHECKING:
    from pathlib import Path

MAGIC = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"  # XMP Part 3: the GIF trailer
THEIRS = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
          b'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Some Editor 1.0"><rdf:RDF '
          b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
          b'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt>'
          b'<rdf:li xml:lang="x-default">Theirs</rdf:li></rdf:Alt></dc:title>'
          b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')  # fmt: skip


def png_file(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size)
    image.putdata([(x * 5 % 256, y * 7 % 256, (x * y) % 256) for y in range(size[1])
                   for x in range(size[0])])  # fmt: skip
    image.save(out, "PNG", pnginfo=None, dpi=(72, 72))  # IHDR, pHYs, IDAT, IEND
    return out.getvalue()


def animated_gif() -> bytes:
    """GIF89a with a NETSCAPE2.0 loop, a comment and a graphic control extension per frame."""
    frames = [Image.new("P", (24, 16), colour) for colour in (1, 2, 3)]
    for i, frame in enumerate(frames):
        frame.putpalette([v for c in range(256) for v in (c, 255 - c, (c * 3) % 256)])
        frame.paste(9 + i, (i * 4, 2, i * 4 + 6, 10))
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=[100, 200, 300], comment=b"made for a test")  # fmt: skip
    return out.getvalue()


def still_gif() -> bytes:
    """GIF87a: Pillow writes the older version when nothing needs an extension."""
    out = io.BytesIO()
    Image.open(io.BytesIO(png_file())).convert("P", palette=Image.Palette.ADAPTIVE).save(
        out, "GIF")  # fmt: skip
    assert out.getvalue()[:6] == b"GIF87a"
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk, each one's CRC checked."""
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        body = data[pos + 4 : pos + 8 + length]
        assert data[pos + 8 + length : pos + 12 + length] == struct.pack(">I", zlib.crc32(body))
        chunks.append((body[:4], body[4:]))
        pos += 12 + length
    return chunks


def gif_blocks(data: bytes) -> list[bytes]:
    """Each block of a GIF after its screen descriptor and colour table, as bytes, walked as a
    decoder walks it (sub-blocks by their length bytes)."""
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    blocks = []
    while data[pos] != 0x3B:
        start = pos
        if data[pos] == 0x2C:
            packed = data[pos + 9]
            pos += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1
        else:
            pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
        blocks.append(data[start:pos])
    return blocks


def frames(data: bytes) -> list[tuple[bytes, Any, Any]]:
    with Image.open(io.BytesIO(data)) as image:
        return [(f.tobytes(), f.getpalette(), f.info.get("duration"))
                for f in ImageSequence.Iterator(image)]  # fmt: skip


def exiftool_xmp(path: Path) -> dict[str, Any]:
    binary = shutil.which("exiftool")
    assert binary, "exiftool is needed (dev.py test installs it)"
    out = subprocess.run([binary, "-j", "-XMP:all", "-G1", "-n", "-warning", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return json.loads(out)[0]


def embedded(tmp: Path, name: str, served: bytes, **photo: Any) -> tuple[bytes, str, int, bytes]:
    """Embed into a copy of ``served``: its bytes, the status, segments, and served segment."""
    path = tmp / name
    path.write_bytes(served)
    segment = original_exif_segment(served)
    status, count = embed_metadata(path, make_photo(**photo))
    return path.read_bytes(), status, count, segment or b""


def test_png_gets_an_itxt_chunk_after_ihdr(tmp_path):
    served = png_file()
    data, status, count, segment = embedded(tmp_path, "a.png", served)
    assert (status, count, segment) == ("embedded", 1, b"")
    chunks = png_chunks(data)  # every CRC right
    assert [c[0] for c in chunks] == [b"IHDR", b"iTXt", b"pHYs", b"IDAT", b"IEND"]
    keyword, _, rest = chunks[1][1].partition(b"\x00")
    assert keyword == b"XML:com.adobe.xmp"
    assert rest[:4] == b"\x00\x00\x00\x00"  # uncompressed, no language, no translated keyword
    assert rest[4:].startswith(b"<?xpacket begin=")
    assert [c for c in chunks if c[0] != b"iTXt"] == png_chunks(served)
    assert frames(data) == frames(served)
    tags = exiftool_xmp(tmp_path / "a.png")
    assert tags["XMP-dc:Title"] == "Harbour at dusk"
    assert tags["XMP-dc:Subject"] == ["harbour", "boats", "sea"]
    assert tags["XMP-dc:Creator"] == "Jane Doe"
    assert tags["XMP-photoshop:DateCreated"] == "2019:06:01 20:15:30"
    assert tags["XMP-exif:GPSLatitude"] == pytest.approx(51.5007)
    assert "Warning" not in tags, tags
    assert restore_original(data, segment, count) == served


def test_gif_gets_the_xmp_extension_after_the_loop_and_before_the_first_frame(tmp_path):
    served = animated_gif()
    data, status, count, segment = embedded(tmp_path, "a.gif", served)
    assert (status, count, segment) == ("embedded", 1, b"GIF89a")
    before, after = gif_blocks(served), gif_blocks(data)
    assert [b[:2] for b in before[:3]] == [b"\x21\xff", b"\x21\xfe", b"\x21\xf9"]
    assert before[0].startswith(b"\x21\xff\x0bNETSCAPE2.0")  # the loop, first
    ours = after[2]  # after the loop and the comment, before the first frame's control
    assert ours.startswith(b"\x21\xff\x0bXMP DataXMP<?xpacket begin=")
    assert ours.endswith(MAGIC)
    assert after[:2] + after[3:] == before  # every other block byte for byte, in order
    assert data[:13] == served[:13]
    assert frames(data) == frames(served)  # pixels, palettes, durations
    with Image.open(io.BytesIO(data)) as image:
        assert image.info["loop"] == 0
    assert exiftool_xmp(tmp_path / "a.gif")["XMP-dc:Title"] == "Harbour at dusk"
    assert restore_original(data, segment, count) == served


def test_the_magic_trailer_brings_any_reader_of_the_packet_to_its_end(tmp_path):
    data, *_ = embedded(tmp_path, "a.gif", animated_gif())
    block = gif_blocks(data)[2]
    assert len(MAGIC) == 258
    assert block.endswith(MAGIC)
    for start in range(14, len(block) - 2):  # a reader taking any packet byte for a length
        pos = start
        while block[pos]:
            pos += 1 + block[pos]
        assert pos == len(block) - 1, start  # lands on the terminator, the block's last byte


def test_a_gif87a_becomes_a_gif89a_and_restores_as_87a(tmp_path):
    served = still_gif()
    data, status, count, segment = embedded(tmp_path, "a.gif", served)
    assert status == "embedded"
    assert data[:6] == b"GIF89a"
    assert segment == b"GIF87a"
    assert frames(data) == frames(served)
    assert gif_blocks(data)[1:] == gif_blocks(served)
    assert restore_original(data, segment, count) == served


@pytest.mark.parametrize("make", [png_file, animated_gif])
def test_a_packet_of_ours_is_replaced_in_place_not_doubled(tmp_path, make):
    """A file archived here and uploaded to Flickr again comes back with our packet in it."""
    served, status, _count, _segment = embedded(tmp_path, "first", make(), title="First")
    assert status == "embedded"
    data, status, count, segment = embedded(tmp_path, "second", served, title="Second")
    assert status == "embedded"
    assert data.count(b'x:xmptk="flickr-crawl"') == 1
    assert b"Second" in data
    assert b"First" not in data
    assert restore_original(data, segment, count) == served


def _with_exiftool(tmp: Path, name: str, data: bytes) -> bytes:
    path = tmp / name
    path.write_bytes(data)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Title=Theirs", str(path)],
                   check=True)  # fmt: skip
    return path.read_bytes()


def _png_xmp_after_idat() -> bytes:
    data = png_file()
    end = data.rindex(b"IEND") - 4
    chunk = png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + THEIRS)
    return data[:end] + chunk + data[end:]


def _gif_xmp_after_the_frames() -> bytes:
    data = animated_gif()
    return data[:-1] + b"\x21\xff\x0bXMP DataXMP" + THEIRS + MAGIC + b";"


OWN_XMP = {
    "png-exiftool": lambda tmp: _with_exiftool(tmp, "x.png", png_file()),
    "gif-exiftool": lambda tmp: _with_exiftool(tmp, "x.gif", animated_gif()),
    "png-after-idat": lambda tmp: _png_xmp_after_idat(),
    "gif-after-frames": lambda tmp: _gif_xmp_after_the_frames(),
}


@pytest.mark.parametrize("name", list(OWN_XMP))
def test_a_file_with_its_own_xmp_keeps_it_and_gets_none_of_ours(tmp_path, name):
    served = OWN_XMP[name](tmp_path)
    assert b"Theirs" in served
    data, status, count, _segment = embedded(tmp_path, "own", served)
    assert (status, count) == ("skipped: has its own XMP", 0)
    assert data == served


@pytest.mark.parametrize(
    ("make", "cut", "reason"),
    [
        (png_file, -20, "corrupt PNG"),
        (animated_gif, -30, "corrupt GIF"),
        (animated_gif, -1, "corrupt GIF"),
    ],
)
def test_a_file_cut_short_is_left_as_served(tmp_path, make, cut, reason):
    served = make()[:cut]
    data, status, _count, _segment = embedded(tmp_path, "cut", served)
    assert status == f"skipped: {reason}"
    assert data == served


@pytest.mark.parametrize("make", [png_file, animated_gif, still_gif])
def test_the_head_is_known_once_whole_and_embedding_it_alone_gives_the_same_file(tmp_path, make):
    """What a download does: the head (before the image data) is rewritten as it streams in."""
    served = make()
    length = head_length(served)
    assert length
    assert all(head_length(served[:n]) is None for n in range(length + 1))  # not yet known
    assert head_length(served[: length + 8]) == length  # the next block's type tells
    whole, status, count, segment = embedded(tmp_path, "whole", served)
    assert status == "embedded"
    stream = StreamingEmbed(make_photo())
    assert stream.head_length(served[: length + 8]) == length
    head = stream.rewrite(served[:length])
    stored = tmp_path / "stored"
    stored.write_bytes(head + served[length:])
    assert stream.keep(stored, len(head))
    assert (stream.status, stream.segments, stream.original_segment) == ("embedded", count, segment)
    assert stored.read_bytes() == whole


@pytest.mark.parametrize("name", list(OWN_XMP))
def test_a_packet_of_their_own_after_the_head_puts_the_served_head_back(tmp_path, name):
    """While it streams, only the head is seen: a packet further on shows at the end."""
    served = OWN_XMP[name](tmp_path)
    stream = StreamingEmbed(make_photo())
    length = stream.head_length(served)
    assert length
    head = stream.rewrite(served[:length])
    if stream.status != "embedded":  # theirs is in the head (exiftool puts it there)
        assert stream.status == "skipped: has its own XMP"
        assert head == served[:length]
        return
    stored = tmp_path / "stored"
    stored.write_bytes(head + served[length:])
    assert not stream.keep(stored, len(head))  # the download handler restores the head
    assert stream.status == "skipped: has its own XMP"


def test_a_place_flickr_does_not_show_publicly_is_not_in_the_packet(tmp_path):
    private = {"flickr.people.getPhotos": {"id": "123", "geo_is_public": 0}}
    for make in (png_file, animated_gif):
        data, status, *_ = embedded(tmp_path, "private", make(), raw=private)
        assert status == "embedded"
        assert b"Harbour at dusk" in data
        assert b"GPS" not in data
