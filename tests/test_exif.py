"""EXIF embedding on real JPEGs, read back with exiftool as photo managers would.

Each case writes a JPEG with Pillow (camera EXIF from piexif, or a hand-made little-endian
TIFF block), runs ``embed_exif`` on a ``.part`` file, and checks what exiftool reads, that the
camera's tags and MakerNote bytes survive, and that every byte outside the EXIF segment
(JFIF, tables, scan data) is unchanged.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import struct
import subprocess
from typing import TYPE_CHECKING, Any

import piexif
import pytest
from PIL import Image

from flickr_crawl.items import PhotoItem
from flickr_crawl.metadata.exif import (
    build_exif,
    embed_exif,
    embed_metadata,
    html_to_text,
    original_exif_segment,
    restore_original,
    rights_text,
)
from flickr_crawl.metadata.xmp import write_xmp
from tests.helpers import exiv2

if TYPE_CHECKING:
    from pathlib import Path

MAKERNOTE = b"SBXMN\x00" + bytes(range(256)) * 3
CC_BY = "https://creativecommons.org/licenses/by/2.0/"


def exiftool(path: Path) -> dict[str, Any]:
    """What exiftool reads from ``path`` (-G1 group names, -n numeric values)."""
    binary = shutil.which("exiftool")
    if binary is None:
        pytest.fail("exiftool is required: apt-get install libimage-exiftool-perl")
    out = subprocess.run(
        [binary, "-j", "-G1", "-a", "-n", str(path)], capture_output=True, check=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout)[0]
    return result


def make_photo(**overrides: Any) -> PhotoItem:
    values: dict[str, Any] = {
        "id": "123",
        "owner": "12345678@N01",
        "owner_name": "Jane Doe",
        "title": "Harbour at dusk",
        "description": 'Boats<br />in the <b>harbour</b> &amp; gulls\n<a href="https://x.org/p">more</a>',
        "tags": ["harbour", "boats", "sea"],
        "date_taken": "2019-06-01T20:15:30",
        "license": 4,
        "license_name": "Attribution License",
        "license_url": CC_BY,
        "geo": {"latitude": 51.5007, "longitude": -0.1246, "accuracy": 16},
        "raw": {"flickr.people.getPhotos": {"id": "123", "geo_is_public": 1}},
    }
    values.update(overrides)
    return PhotoItem(**values)


def camera_exif(*, gps: bool = False, date: bytes | None = b"2019:06:01 20:15:29") -> bytes:
    zeroth: dict[int, Any] = {
        piexif.ImageIFD.Make: b"Canon",
        piexif.ImageIFD.Model: b"Canon EOS 5D Mark III",
        piexif.ImageIFD.Orientation: 6,
    }
    exif: dict[int, Any] = {piexif.ExifIFD.MakerNote: MAKERNOTE}
    if date:
        exif[piexif.ExifIFD.DateTimeOriginal] = date
    gps_ifd: dict[int, Any] = {}
    if gps:
        gps_ifd = {
            piexif.GPSIFD.GPSVersionID: (2, 2, 0, 0),
            piexif.GPSIFD.GPSLatitudeRef: b"S",
            piexif.GPSIFD.GPSLatitude: ((33, 1), (52, 1), (768, 100)),
            piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: ((151, 1), (12, 1), (3348, 100)),
        }
    return piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps_ifd, "1st": {}, "thumbnail": None})


def make_jpeg(path: Path, exif: bytes | None = None) -> bytes:
    image = Image.new("RGB", (96, 64))
    image.putdata([(x * 2, y * 3, (x * y) % 256) for y in range(64) for x in range(96)])
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **({"exif": exif} if exif else {}))
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _is_exif(segment: bytes) -> bool:
    return segment[1] == 0xE1 and segment[4:10] == b"Exif\x00\x00"


def _is_xmp_or_iptc(segment: bytes) -> bool:
    return (segment[1] == 0xE1 and segment[4:33] == b"http://ns.adobe.com/xap/1.0/\x00") or (
        segment[1] == 0xED and segment[4:18] == b"Photoshop 3.0\x00"
    )


def segments(data: bytes) -> tuple[list[bytes], bytes]:
    """(segments before the scan, everything from SOS on): our own parser."""
    pos, found = 2, []
    while data[pos + 1] != 0xDA:
        end = pos + 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        found.append(data[pos:end])
        pos = end
    return found, data[pos:]


def split(data: bytes) -> tuple[list[bytes], bytes]:
    """(segments before the scan except EXIF APP1, everything from SOS on)."""
    found, scan = segments(data)
    return [s for s in found if not _is_exif(s)], scan


def assert_only_metadata_segments_changed(before: bytes, after: bytes) -> None:
    """Only the metadata segments differ: EXIF, and the XMP and IPTC segments embedding adds
    to a file that had neither (one that had them keeps them byte for byte)."""
    kept, scan = split(before)
    now, scan_after = split(after)
    if not any(_is_xmp_or_iptc(s) for s in kept):
        now = [s for s in now if not _is_xmp_or_iptc(s)]
    assert (now, scan_after) == (kept, scan)


def assert_only_exif_changed(before: bytes, after: bytes) -> None:
    """Only the metadata segments differ, and the decoded pixels are the same."""
    assert_only_metadata_segments_changed(before, after)
    with Image.open(io.BytesIO(before)) as a, Image.open(io.BytesIO(after)) as b:
        assert a.tobytes() == b.tobytes()


@pytest.fixture
def part(tmp_path: Path) -> Path:
    return tmp_path / "123.jpg.part"


def test_camera_exif_kept_flickr_metadata_added(part: Path) -> None:
    before = make_jpeg(part, camera_exif())
    assert embed_exif(part, make_photo()) == "embedded"
    after = part.read_bytes()
    assert_only_exif_changed(before, after)
    assert not list(part.parent.glob(".*.tmp"))

    meta = exiftool(part)
    assert meta["IFD0:Make"] == "Canon"
    assert meta["IFD0:Model"] == "Canon EOS 5D Mark III"
    assert meta["IFD0:Orientation"] == 6
    assert meta["ExifIFD:DateTimeOriginal"] == "2019:06:01 20:15:29"  # the camera's, not Flickr's
    text = "Boats\nin the harbour & gulls\nmore (https://x.org/p)"
    assert meta["IFD0:ImageDescription"] == text
    assert meta["IFD0:XPComment"] == text
    assert meta["ExifIFD:UserComment"] == text
    assert meta["IFD0:XPTitle"] == "Harbour at dusk"
    assert meta["IFD0:XPSubject"] == "Harbour at dusk"
    assert meta["IFD0:XPKeywords"] == "harbour;boats;sea"
    assert meta["IFD0:Artist"] == "Jane Doe"
    assert meta["IFD0:Copyright"] == f"© 2019 Jane Doe. Attribution License {CC_BY}"
    assert meta["Composite:GPSLatitude"] == pytest.approx(51.5007, abs=1e-6)
    assert meta["Composite:GPSLongitude"] == pytest.approx(-0.1246, abs=1e-6)
    assert meta["GPS:GPSVersionID"] == "2 3 0 0"

    loaded = piexif.load(after)
    assert loaded["Exif"][piexif.ExifIFD.MakerNote] == MAKERNOTE
    assert loaded["0th"][piexif.ImageIFD.Make] == b"Canon"
    assert loaded["0th"][piexif.ImageIFD.Model] == b"Canon EOS 5D Mark III"


def test_camera_gps_kept(part: Path) -> None:
    before = make_jpeg(part, camera_exif(gps=True))
    assert embed_exif(part, make_photo()) == "embedded"
    assert_only_exif_changed(before, part.read_bytes())
    meta = exiftool(part)
    assert meta["Composite:GPSLatitude"] == pytest.approx(-(33 + 52 / 60 + 7.68 / 3600))
    assert meta["Composite:GPSLongitude"] == pytest.approx(151 + 12 / 60 + 33.48 / 3600)
    assert meta["GPS:GPSVersionID"] == "2 2 0 0"


def test_no_exif_at_all(part: Path) -> None:
    before = make_jpeg(part)
    assert b"Exif\x00\x00" not in before
    assert embed_exif(part, make_photo(geo=None)) == "embedded"
    after = part.read_bytes()
    assert_only_exif_changed(before, after)
    assert after[2:4] == b"\xff\xe0"  # JFIF APP0 still first, EXIF right after it
    meta = exiftool(part)
    assert meta["ExifIFD:DateTimeOriginal"] == "2019:06:01 20:15:30"
    assert meta["ExifIFD:CreateDate"] == "2019:06:01 20:15:30"
    assert meta["IFD0:XPTitle"] == "Harbour at dusk"
    assert "GPS:GPSLatitude" not in meta
    assert "IFD0:Make" not in meta


def test_unknown_taken_date_adds_no_date(part: Path) -> None:
    make_jpeg(part, camera_exif(date=None))
    photo = make_photo(date_taken="2019-06-01T00:00:00", date_taken_unknown=True)
    assert embed_exif(part, photo) == "embedded"
    meta = exiftool(part)
    assert "ExifIFD:DateTimeOriginal" not in meta
    assert "ExifIFD:CreateDate" not in meta
    assert meta["IFD0:Copyright"] == f"© Jane Doe. Attribution License {CC_BY}"


@pytest.mark.parametrize(
    ("date_taken", "granularity", "expected"),
    [("2011-03", 4, "2011:03:01 00:00:00"), ("1950", 8, "1950:01:01 00:00:00")],
)
def test_partial_taken_date(part: Path, date_taken: str, granularity: int, expected: str) -> None:
    make_jpeg(part, camera_exif(date=None))
    photo = make_photo(date_taken=date_taken, date_taken_granularity=granularity)
    assert embed_exif(part, photo) == "embedded"
    assert exiftool(part)["ExifIFD:DateTimeOriginal"] == expected


def test_emoji_and_html_survive(part: Path) -> None:
    make_jpeg(part, camera_exif())
    photo = make_photo(
        owner_name="Jürgen Müller",
        title="Grüße 🎉",
        description="<p>Schöne Grüße 🎈</p><p>&lt;zweite&gt; Zeile&nbsp;&#x1F600;</p>",
        tags=["grüße", "🎉"],
        license=0,
        license_name="All Rights Reserved",
        license_url="",
    )
    assert embed_exif(part, photo) == "embedded"
    meta = exiftool(part)
    text = "Schöne Grüße 🎈\n\n<zweite> Zeile\xa0😀"
    assert meta["IFD0:ImageDescription"] == text  # UTF-8 in the ASCII-typed tag
    assert meta["ExifIFD:UserComment"] == text  # "UNICODE\0" + UTF-16BE
    assert meta["IFD0:Artist"] == "Jürgen Müller"
    assert meta["IFD0:Copyright"] == "© 2019 Jürgen Müller. All Rights Reserved"
    # exiftool decodes XP* as UCS-2, so it shows characters outside the BMP as "?"; Windows
    # reads the UTF-16LE surrogate pairs. Check the BMP part with exiftool, the bytes directly.
    assert meta["IFD0:XPTitle"].startswith("Grüße ")
    zeroth = piexif.load(str(part))["0th"]
    assert bytes(zeroth[piexif.ImageIFD.XPTitle]) == "Grüße 🎉".encode("utf-16-le") + b"\0\0"
    keywords = bytes(zeroth[piexif.ImageIFD.XPKeywords])
    assert keywords == "grüße;🎉".encode("utf-16-le") + b"\0\0"


def test_huge_description_still_fits(part: Path) -> None:
    before = make_jpeg(part, camera_exif())
    photo = make_photo(description="Ünïcödé 🎈 " * 4000)
    assert embed_exif(part, photo) == "embedded"
    assert_only_exif_changed(before, part.read_bytes())
    meta = exiftool(part)
    assert meta["IFD0:ImageDescription"].startswith("Ünïcödé 🎈 Ünïcödé")
    assert meta["IFD0:ImageDescription"].endswith("…")
    assert meta["IFD0:XPTitle"] == "Harbour at dusk"


def test_embedding_twice_changes_nothing(part: Path) -> None:
    make_jpeg(part, camera_exif(date=None))
    assert embed_exif(part, make_photo()) == "embedded"
    once = part.read_bytes()
    assert embed_exif(part, make_photo()) == "embedded"
    assert part.read_bytes() == once


def test_bmp_skipped_unchanged(tmp_path: Path) -> None:
    """A kind of file with no place for metadata (a PNG or GIF gets XMP: test_pnggif.py)."""
    path = tmp_path / "456.bmp.part"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path, "BMP")
    before = path.read_bytes()
    assert embed_exif(path, make_photo()) == "skipped: not a JPEG"
    assert path.read_bytes() == before


def test_truncated_jpeg_skipped_unchanged(part: Path) -> None:
    data = make_jpeg(part, camera_exif())
    part.write_bytes(data[: len(data) // 2])
    assert embed_exif(part, make_photo()) == "skipped: corrupt JPEG"
    assert part.read_bytes() == data[: len(data) // 2]
    part.write_bytes(data[:40])  # cut inside the EXIF segment
    assert embed_exif(part, make_photo()) == "skipped: corrupt JPEG"
    assert part.read_bytes() == data[:40]


def app1(tiff: bytes) -> bytes:
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def test_unreadable_exif_skipped_unchanged(part: Path) -> None:
    data = make_jpeg(part)
    broken = data[:2] + app1(b"II*\x00\x08\x00\x00\x00\x05\x00\x0f\x01") + data[2:]
    part.write_bytes(broken)
    assert embed_exif(part, make_photo()) == "skipped: unreadable EXIF"
    assert part.read_bytes() == broken


def little_endian_tiff(exif_entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """IFD0 (Make "Sony", ExifIFD pointer) + an Exif IFD of (tag, type, count, 4-byte value)."""
    ifd0_at, exif_at = 8, 8 + 2 + 2 * 12 + 4
    data_at = exif_at + 2 + len(exif_entries) * 12 + 4
    ifd0 = struct.pack("<H", 2) + struct.pack("<HHLL", 0x010F, 2, 5, data_at)
    ifd0 += struct.pack("<HHLL", 0x8769, 4, 1, exif_at) + b"\0\0\0\0"
    exif = struct.pack("<H", len(exif_entries))
    exif += b"".join(struct.pack("<HHL4s", *entry) for entry in exif_entries) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<L", ifd0_at) + ifd0 + exif + b"Sony\x00"


def test_little_endian_camera_exif_kept(part: Path) -> None:
    data = make_jpeg(part)
    tiff = little_endian_tiff([(0x9000, 7, 4, b"0231"), (0x8827, 3, 1, b"\x90\x01\0\0")])
    source = data[:2] + app1(tiff) + data[2:]
    part.write_bytes(source)
    assert exiftool(part)["ExifIFD:ISO"] == 400
    assert embed_exif(part, make_photo()) == "embedded"
    meta = exiftool(part)
    assert meta["IFD0:Make"] == "Sony"
    assert meta["ExifIFD:ISO"] == 400
    assert meta["ExifIFD:ExifVersion"] == "0231"
    assert meta["IFD0:XPTitle"] == "Harbour at dusk"
    assert_only_metadata_segments_changed(source, part.read_bytes())


def test_tags_piexif_would_drop_skip_the_file(part: Path) -> None:
    data = make_jpeg(part)
    # 0xA460 CompositeImage (EXIF 2.32) is not in piexif 1.1.3's table: it would vanish.
    tiff = little_endian_tiff([(0xA460, 3, 1, b"\x02\0\0\0")])
    source = data[:2] + app1(tiff) + data[2:]
    part.write_bytes(source)
    assert embed_exif(part, make_photo()) == "skipped: EXIF tags piexif cannot keep"
    assert part.read_bytes() == source


# -- the pure parts ---------------------------------------------------------------------------


def test_build_exif_fills_only_what_the_camera_left_empty() -> None:
    existing = piexif.load(
        piexif.dump(
            {
                "0th": {piexif.ImageIFD.Artist: b"J. Doe (camera)", piexif.ImageIFD.Copyright: b""},
                "Exif": {piexif.ExifIFD.DateTimeOriginal: b"0000:00:00 00:00:00"},
                "GPS": {piexif.GPSIFD.GPSLatitude: ((0, 1), (0, 1), (0, 1))},
            }
        )
    )
    built = build_exif(existing, make_photo())
    assert built["0th"][piexif.ImageIFD.Artist] == b"J. Doe (camera)"
    assert built["0th"][piexif.ImageIFD.Copyright].startswith("© 2019 Jane Doe".encode())
    assert built["Exif"][piexif.ExifIFD.DateTimeOriginal] == b"2019:06:01 20:15:30"
    assert built["GPS"][piexif.GPSIFD.GPSLatitude] == ((51, 1), (30, 1), (25200, 10000))
    assert built["GPS"][piexif.GPSIFD.GPSLongitudeRef] == b"W"
    assert existing["Exif"][piexif.ExifIFD.DateTimeOriginal] == b"0000:00:00 00:00:00"


def test_build_exif_user_comment_charset() -> None:
    empty: dict[str, Any] = {}
    ascii_only = build_exif(empty, make_photo(description="plain"))["Exif"]
    assert ascii_only[piexif.ExifIFD.UserComment] == b"ASCII\0\0\0plain"
    unicode = build_exif(empty, make_photo(description="ü"))["Exif"]
    assert unicode[piexif.ExifIFD.UserComment] == b"UNICODE\0\x00\xfc"


def test_html_to_text() -> None:
    assert html_to_text("a<br>b<BR/>c") == "a\nb\nc"
    assert html_to_text("<p>one</p><p>two</p>") == "one\n\ntwo"
    assert html_to_text("keep\nnewlines &amp; &quot;entities&quot; &#233;") == (
        'keep\nnewlines & "entities" é'
    )
    assert html_to_text('<a href="https://e.org/x" rel="nofollow">https://e.org/x</a>') == (
        "https://e.org/x"
    )
    assert html_to_text('see <a href="https://e.org/x">here</a>.') == "see here (https://e.org/x)."
    assert html_to_text("<script>alert(1)</script>ok\x00\x07") == "ok"
    assert html_to_text("x < y & z") == "x < y & z"
    assert html_to_text("") == ""


def test_rights_text() -> None:
    assert rights_text(
        make_photo(license=0, license_name="All Rights Reserved", license_url="")
    ) == ("© 2019 Jane Doe. All Rights Reserved")
    cc0 = make_photo(
        license=9,
        license_name="Public Domain Dedication (CC0)",
        license_url="https://creativecommons.org/publicdomain/zero/1.0/",
        owner_name="",
        date_taken=None,
        date_posted="2020-01-02T03:04:05Z",
    )
    assert rights_text(cc0) == (
        "2020 12345678@N01. Public Domain Dedication (CC0) "
        "https://creativecommons.org/publicdomain/zero/1.0/"
    )


def test_absurd_tag_count_skipped_without_exhausting_memory(part: Path) -> None:
    data = make_jpeg(part)
    # A BYTE tag claiming 2**31 values: piexif would build a 2 GB struct format string.
    tiff = little_endian_tiff([(0x9000, 1, 0x7FFFFFFF, b"\0\0\0\0")])
    source = data[:2] + app1(tiff) + data[2:]
    part.write_bytes(source)
    assert embed_exif(part, make_photo()) == "skipped: unreadable EXIF"
    assert part.read_bytes() == source


def test_damaged_exif_never_raises_nor_touches_image_data(part: Path) -> None:
    thumbnail = io.BytesIO()
    Image.new("RGB", (16, 12), (9, 9, 9)).save(thumbnail, "JPEG")
    exif = piexif.load(camera_exif(gps=True))
    exif["1st"] = {piexif.ImageIFD.XResolution: (72, 1)}
    exif["thumbnail"] = thumbnail.getvalue()
    base = make_jpeg(part, piexif.dump(exif))
    assert embed_exif(part, make_photo()) == "embedded"
    assert piexif.load(str(part))["thumbnail"] == piexif.load(base)["thumbnail"]

    rng = random.Random(7)
    exif_end = base.index(b"\xff\xdb")  # flip bytes in the headers and EXIF only
    outcomes = set()
    for _ in range(300):
        damaged = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(2, exif_end)] = rng.randrange(256)
        part.write_bytes(damaged)
        outcome = embed_exif(part, make_photo())
        outcomes.add(outcome)
        if outcome == "embedded":
            assert_only_metadata_segments_changed(bytes(damaged), part.read_bytes())
        else:
            assert outcome.startswith("skipped: ")
            assert part.read_bytes() == damaged
    assert {"embedded", "skipped: unreadable EXIF"} <= outcomes


# -- XMP and IPTC inside the JPEG (for Lightroom, Apple Photos: no sidecar for a JPEG) ---------

MACHINE_TAGGED = ["harbour", "boats", "taxonomy:binomial=parus major", "zoë"]
# piexif writes the Exif and GPS IFDs without their 4-byte "next IFD" field, which libexiv2
# notices (and ignores) on every file whose EXIF we embedded; nothing to do with XMP or IPTC.
PIEXIF_NEXT_POINTER = "has an unexpected next pointer; ignored."


def exiv2_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.endswith(PIEXIF_NEXT_POINTER)]


def test_xmp_and_iptc_read_from_the_jpeg_alone(part: Path) -> None:
    before = make_jpeg(part, camera_exif())
    photo = make_photo(title="Zoë's harbour", tags=MACHINE_TAGGED)
    status, count = embed_metadata(part, photo)
    assert (status, count) == ("embedded", 3)
    after = part.read_bytes()
    assert_only_exif_changed(before, after)  # pixels, tables, scan data: as served

    meta = exiftool(part)
    text = "Boats\nin the harbour & gulls\nmore (https://x.org/p)"
    rights = f"© 2019 Jane Doe. Attribution License {CC_BY}"
    assert meta["XMP-dc:Title"] == "Zoë's harbour"
    assert meta["XMP-dc:Description"] == text
    assert meta["XMP-dc:Subject"] == MACHINE_TAGGED
    assert meta["XMP-lr:HierarchicalSubject"] == [
        "harbour", "boats", "taxonomy|binomial|parus major", "zoë",
    ]  # fmt: skip
    assert meta["XMP-dc:Creator"] == "Jane Doe"
    assert meta["XMP-dc:Rights"] == rights
    assert meta["XMP-xmpRights:WebStatement"] == CC_BY
    assert meta["XMP-photoshop:DateCreated"] == "2019:06:01 20:15:30"
    assert meta["XMP-exif:GPSLatitude"] == pytest.approx(51.5007, abs=1e-6)
    assert meta["XMP-exif:GPSLongitude"] == pytest.approx(-0.1246, abs=1e-6)
    assert meta["IPTC:CodedCharacterSet"] == "\x1b%G"
    assert meta["IPTC:ObjectName"] == "Zoë's harbour"
    assert meta["IPTC:Keywords"] == MACHINE_TAGGED
    assert meta["IPTC:Caption-Abstract"] == text
    assert meta["IPTC:By-line"] == "Jane Doe"
    assert meta["IPTC:CopyrightNotice"] == rights
    assert meta["IPTC:DateCreated"] == "2019:06:01"
    assert meta["IFD0:Make"] == "Canon"  # the camera's EXIF is still there
    assert piexif.load(after)["Exif"][piexif.ExifIFD.MakerNote] == MAKERNOTE

    # libexiv2 (digiKam, darktable, gThumb) reads the same (from a file without the made-up
    # MakerNote, which exiv2 would try to parse as Canon's)
    make_jpeg(part)
    assert embed_metadata(part, photo) == ("embedded", 3)
    # exiftool and libexiv2 read it all without a warning; the IPTC digest is the record's
    # (Lightroom and other MWG readers then trust that IPTC and XMP agree)
    assert "ExifTool:Warning" not in exiftool(part)
    digests = subprocess.run(
        ["exiftool", "-s3", "-CurrentIPTCDigest", "-IPTCDigest", str(part)],
        capture_output=True, check=True, text=True,
    ).stdout.split()  # fmt: skip
    assert len(digests) == 2
    assert digests[0] == digests[1]
    tags, stderr = exiv2(part)
    assert exiv2_warnings(stderr) == []
    assert tags["Xmp.dc.title"] == ['lang="x-default" Zoë\'s harbour']
    assert tags["Xmp.dc.subject"] == [", ".join(MACHINE_TAGGED)]
    assert tags["Xmp.digiKam.TagsList"] == ["harbour, boats, taxonomy/binomial/parus major, zoë"]
    assert tags["Iptc.Application2.ObjectName"] == ["Zoë's harbour"]
    assert tags["Iptc.Application2.Keywords"] == MACHINE_TAGGED
    assert tags["Iptc.Application2.Byline"] == ["Jane Doe"]
    assert tags["Iptc.Application2.Copyright"] == [rights]
    assert tags["Iptc.Application2.DateCreated"] == ["2019-06-01"]
    assert tags["Iptc.Application2.Caption"] == ["Boats"]  # first line of three
    assert tags["Xmp.exif.GPSLatitude"] == ["51,30.042000N"]


@pytest.mark.parametrize(("date_taken", "granularity"), [("2011-03", 4), ("1950", 8)])
def test_partial_dates_in_xmp_and_iptc(part: Path, date_taken: str, granularity: int) -> None:
    make_jpeg(part)
    photo = make_photo(date_taken=date_taken, date_taken_granularity=granularity)
    assert embed_metadata(part, photo) == ("embedded", 3)
    meta = exiftool(part)
    # As precise as Flickr knows it, nothing made up: no IPTC date (IIM's "00" month or day
    # is what libexiv2 rejects), the year or month in XMP.
    assert str(meta["XMP-exif:DateTimeOriginal"]) == date_taken.replace("-", ":")
    assert "XMP-photoshop:DateCreated" not in meta
    assert "IPTC:DateCreated" not in meta
    tags, stderr = exiv2(part)
    assert exiv2_warnings(stderr) == []
    assert tags["Xmp.exif.DateTimeOriginal"] == [date_taken]


def test_served_bytes_restored_after_xmp_and_iptc(part: Path) -> None:
    served = make_jpeg(part, camera_exif(gps=True))
    segment = original_exif_segment(served)
    assert segment is not None
    status, count = embed_metadata(part, make_photo(tags=MACHINE_TAGGED))
    assert (status, count) == ("embedded", 3)
    embedded = part.read_bytes()
    assert restore_original(embedded, segment, count) == served
    # no EXIF at all in the served file: ours (and XMP, IPTC) are taken out again
    served = make_jpeg(part)
    assert embed_metadata(part, make_photo()) == ("embedded", 3)
    assert restore_original(part.read_bytes(), b"", 3) == served
    # and a file embedded before XMP and IPTC were (EXIF alone; its record has no
    # embedded_segments): restored as then
    served = make_jpeg(part, camera_exif())
    assert embed_exif(part, make_photo()) == "embedded"
    found, scan = segments(part.read_bytes())
    exif_only = b"\xff\xd8" + b"".join(s for s in found if not _is_xmp_or_iptc(s)) + scan
    assert restore_original(exif_only, original_exif_segment(served) or b"", None) == served
    with pytest.raises(ValueError, match="fewer segments"):
        restore_original(exif_only, original_exif_segment(served) or b"", 99)


def test_a_file_with_its_own_xmp_and_iptc_keeps_them(part: Path) -> None:
    data = make_jpeg(part, camera_exif())
    own_xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:GPano="http://ns.google.com/'
        b'photos/1.0/panorama/" GPano:ProjectionType="equirectangular"/></rdf:RDF></x:xmpmeta>'
    )
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + own_xmp
    xmp = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    exif_end = data.index(b"\xff\xdb")  # before the quantisation tables
    served = data[:exif_end] + xmp + data[exif_end:]
    part.write_bytes(served)
    assert embed_metadata(part, make_photo()) == ("embedded", 1)
    after = part.read_bytes()
    assert xmp in after  # byte for byte
    assert b"Photoshop 3.0\x00" not in after  # no second, contradicting record
    assert_only_exif_changed(served, after)
    meta = exiftool(part)
    assert meta["XMP-GPano:ProjectionType"] == "equirectangular"
    assert "XMP-dc:Title" not in meta
    assert meta["IFD0:XPTitle"] == "Harbour at dusk"  # EXIF still gets Flickr's metadata
    assert restore_original(after, original_exif_segment(served) or b"", 1) == served


def test_iim_lengths_kept_xmp_has_everything(part: Path) -> None:
    make_jpeg(part)
    title = "é" * 40  # 80 bytes: IIM allows 64 for Object Name
    description = "Long " * 2000  # 10,000 characters: IIM allows 2,000 bytes for a caption
    tag = "ü" * 50
    assert embed_metadata(part, make_photo(title=title, description=description, tags=[tag])) == (
        "embedded",
        3,
    )
    meta = exiftool(part)
    assert meta["IPTC:ObjectName"] == "é" * 32  # cut at a character, not inside one
    assert meta["IPTC:Keywords"] == "ü" * 32
    assert len(meta["IPTC:Caption-Abstract"].encode()) <= 2000
    assert meta["XMP-dc:Title"] == title
    assert meta["XMP-dc:Subject"] == tag
    assert meta["XMP-dc:Description"] == description.strip()
    assert "ExifTool:Warning" not in meta


@pytest.mark.parametrize(
    "raw",
    [
        {"flickr.people.getPhotos": {"geo_is_public": 0}},
        {"flickr.photos.getInfo": {"geoperms": {"ispublic": 0, "isfamily": 1}}},
        {},
    ],
)
def test_a_place_flickr_does_not_show_publicly_stays_out_of_the_jpeg(
    part: Path, tmp_path: Path, raw: dict[str, Any]
) -> None:
    make_jpeg(part)
    photo = make_photo(raw=raw)  # friends and family only, or not said: not public
    assert embed_metadata(part, photo) == ("embedded", 3)
    meta = exiftool(part)
    assert not [key for key in meta if "GPS" in key]
    assert meta["XMP-dc:Title"] == "Harbour at dusk"
    # the owner's own sidecar keeps the place (as the JSON sidecar and the catalog do)
    sidecar = exiftool(write_xmp(tmp_path / "123.jpg", photo))
    assert sidecar["XMP-exif:GPSLatitude"] == pytest.approx(51.5007, abs=1e-6)
    # a camera's own GPS is the camera's EXIF: kept, as every camera value is
    make_jpeg(part, camera_exif(gps=True))
    assert embed_metadata(part, photo) == ("embedded", 3)
    assert exiftool(part)["GPS:GPSLatitudeRef"] == "S"


def test_a_public_place_from_get_info_goes_into_the_jpeg(part: Path) -> None:
    make_jpeg(part)
    photo = make_photo(raw={"flickr.photos.getInfo": {"geoperms": {"ispublic": 1}}})
    assert embed_metadata(part, photo) == ("embedded", 3)
    meta = exiftool(part)
    assert meta["Composite:GPSLatitude"] == pytest.approx(51.5007, abs=1e-6)
    assert meta["XMP-exif:GPSLatitude"] == pytest.approx(51.5007, abs=1e-6)
