"""XMP sidecars read back by exiftool, and kept well-formed whatever the strings contain."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.items import PhotoItem
from flickr_crawl.metadata.xmp import NAMESPACES, sidecar_path, write_xmp, xmp_gps, xmp_packet
from tests.helpers import exiv2

if TYPE_CHECKING:
    from pathlib import Path

CC_BY_SA = "https://creativecommons.org/licenses/by-sa/2.0/"
RDF = "{" + NAMESPACES["rdf"] + "}"
DC = "{" + NAMESPACES["dc"] + "}"


def exiftool(path: Path) -> dict[str, Any]:
    """What exiftool reads from ``path`` (-G1 group names, -n numeric values)."""
    binary = shutil.which("exiftool")
    if binary is None:
        pytest.fail("exiftool is required: apt-get install libimage-exiftool-perl")
    out = subprocess.run(
        [binary, "-j", "-G1", "-n", str(path)], capture_output=True, check=True, text=True
    )
    assert "Warning" not in out.stdout, out.stdout
    result: dict[str, Any] = json.loads(out.stdout)[0]
    return result


def make_video(**overrides: Any) -> PhotoItem:
    values: dict[str, Any] = {
        "id": "456",
        "owner": "12345678@N01",
        "owner_name": "Zoë Ångström",
        "media": "video",
        "title": "Waves 🌊",
        "description": "First line<br>second &amp; <i>last</i> line",
        "tags": ["sea", "waves", "geo:lat=1"],
        "date_taken": "2011-03",
        "date_taken_granularity": 4,
        "license": 5,
        "license_name": "Attribution-ShareAlike License",
        "license_url": CC_BY_SA,
        "geo": {"latitude": 59.3293, "longitude": -18.0686, "accuracy": 16, "context": 0},
        "page_url": "https://www.flickr.com/photos/zoe/456/",
    }
    values.update(overrides)
    return PhotoItem(**values)


def test_video_sidecar_read_by_exiftool(tmp_path: Path) -> None:
    video = tmp_path / "456.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(100))
    before = video.read_bytes()
    path = write_xmp(video, make_video())
    assert path == tmp_path / "456.mp4.xmp"
    assert video.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["456.mp4", "456.mp4.xmp"]

    meta = exiftool(path)
    assert meta["XMP-dc:Title"] == "Waves 🌊"
    assert meta["XMP-dc:Description"] == "First line\nsecond & last line"
    assert meta["XMP-dc:Subject"] == ["sea", "waves", "geo:lat=1"]
    assert meta["XMP-dc:Creator"] == "Zoë Ångström"
    assert (
        meta["XMP-dc:Rights"] == f"© 2011 Zoë Ångström. Attribution-ShareAlike License {CC_BY_SA}"
    )
    assert meta["XMP-dc:Source"] == "https://www.flickr.com/photos/zoe/456/"
    assert meta["XMP-xmpRights:WebStatement"] == CC_BY_SA
    assert meta["XMP-xmpRights:Marked"] is True
    assert meta["XMP-exif:DateTimeOriginal"] == "2011:03"  # a month: no day made up
    assert "XMP-photoshop:DateCreated" not in meta  # libexiv2 would turn "2011-03" into a day
    assert meta["XMP-exif:GPSLatitude"] == pytest.approx(59.3293, abs=1e-6)
    assert meta["XMP-exif:GPSLongitude"] == pytest.approx(-18.0686, abs=1e-6)
    assert meta["XMP-lr:HierarchicalSubject"] == ["sea", "waves", "geo|lat|1"]
    assert meta["XMP-digiKam:TagsList"] == ["sea", "waves", "geo/lat/1"]

    # libexiv2, as digiKam, darktable and gThumb read a video's sidecar: no warning
    tags, stderr = exiv2(path)
    assert stderr == ""
    assert tags["Xmp.dc.title"] == ['lang="x-default" Waves 🌊']
    assert tags["Xmp.dc.subject"] == ["sea, waves, geo:lat=1"]
    assert tags["Xmp.lr.HierarchicalSubject"] == ["sea, waves, geo|lat|1"]
    assert tags["Xmp.digiKam.TagsList"] == ["sea, waves, geo/lat/1"]
    assert tags["Xmp.dc.creator"] == ["Zoë Ångström"]
    assert tags["Xmp.exif.DateTimeOriginal"] == ["2011-03"]
    assert tags["Xmp.exif.GPSLatitude"] == ["59,19.758000N"]


@pytest.mark.parametrize(
    ("date_taken", "granularity", "expected"),
    [
        ("2011-03-05T14:22:10", 0, "2011:03:05 14:22:10"),
        ("2011-03", 4, "2011:03"),
        ("2011", 6, "2011"),
    ],
)
def test_date_granularity(tmp_path: Path, date_taken: str, granularity: int, expected: str) -> None:
    photo = make_video(date_taken=date_taken, date_taken_granularity=granularity)
    path = write_xmp(tmp_path / "1.jpg", photo)
    meta = exiftool(path)
    assert str(meta["XMP-exif:DateTimeOriginal"]) == expected
    if granularity == 0:
        assert str(meta["XMP-photoshop:DateCreated"]) == expected
        assert str(meta["XMP-xmp:CreateDate"]) == expected
    else:  # only where libexiv2 leaves a year or a month as it is
        assert "XMP-photoshop:DateCreated" not in meta
        assert "XMP-xmp:CreateDate" not in meta
    # libexiv2 converts a sidecar's dates to EXIF and IPTC as it reads it: without a warning
    # ("Unsupported date format") and without a made-up day
    tags, stderr = exiv2(path)
    assert stderr == ""
    dates = ("Exif.Photo.DateTime", "Iptc.Application2.DateCreated", "Iptc.Application2.Digit")
    converted = {key: value for key, value in tags.items() if key.startswith(dates)}
    if granularity == 0:
        assert tags["Xmp.exif.DateTimeOriginal"] == [expected]
        assert converted["Exif.Photo.DateTimeOriginal"] == [expected]
        assert converted["Iptc.Application2.DateCreated"] == ["2011-03-05"]
    else:
        assert tags["Xmp.exif.DateTimeOriginal"] == [date_taken]
        assert converted == {}  # (was: DateTimeOriginal 2010:11:30 for "2011")


def test_unknown_facts_are_left_out(tmp_path: Path) -> None:
    photo = make_video(
        title="",
        description="",
        tags=[],
        date_taken="2011-03-01T00:00:00",
        date_taken_unknown=True,
        geo=None,
        license=9,
        license_name="Public Domain Dedication (CC0)",
        license_url="https://creativecommons.org/publicdomain/zero/1.0/",
        page_url="",
    )
    meta = exiftool(write_xmp(tmp_path / "789.gif", photo))
    for key in ("Title", "Description", "Subject", "Source"):
        assert f"XMP-dc:{key}" not in meta
    assert "XMP-photoshop:DateCreated" not in meta
    assert "XMP-exif:GPSLatitude" not in meta
    assert meta["XMP-xmpRights:Marked"] is False
    assert meta["XMP-dc:Rights"].startswith("Zoë Ångström. Public Domain Dedication (CC0) https")


def test_hostile_strings_give_a_well_formed_file(tmp_path: Path) -> None:
    nasty = "<script>alert('x')</script> & \"q\" ]]> \x00\x01\x08\x0b\x0c\x1f\ud800\ufffe end"
    photo = make_video(
        title=nasty,
        description=nasty + "<" * 10 + "&amp;" + "x" * 10_000,
        tags=[nasty, "</rdf:li>", "&"],
        owner_name="</x:xmpmeta>",
        license_name=nasty,
        license_url='https://e.org/"><x>',
        page_url="javascript:&<>",
    )
    png = tmp_path / "789.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    path = write_xmp(png, photo)
    assert path.name == "789.png.xmp"
    assert png.read_bytes() == b"\x89PNG\r\n\x1a\n"

    packet = path.read_bytes()
    assert packet == xmp_packet(photo)
    root = ET.fromstring(packet)
    description = root.find(f"{RDF}RDF/{RDF}Description")
    assert description is not None
    title = description.find(f"{DC}title/{RDF}Alt/{RDF}li")
    assert title is not None
    assert title.text == "<script>alert('x')</script> & \"q\" ]]>  end"
    subjects = [li.text for li in description.iterfind(f"{DC}subject/{RDF}Bag/{RDF}li")]
    assert subjects[1:] == ["</rdf:li>", "&"]
    creator = description.find(f"{DC}creator/{RDF}Seq/{RDF}li")
    assert creator is not None
    assert creator.text == "</x:xmpmeta>"
    text = description.find(f"{DC}description/{RDF}Alt/{RDF}li")
    assert text is not None
    assert text.text is not None
    assert text.text.endswith("x" * 10_000)

    meta = exiftool(path)
    assert meta["XMP-dc:Title"] == "<script>alert('x')</script> & \"q\" ]]>  end"
    assert meta["XMP-dc:Creator"] == "</x:xmpmeta>"


def test_rewriting_replaces_the_sidecar(tmp_path: Path) -> None:
    media = tmp_path / "1.jpg"
    write_xmp(media, make_video(title="old"))
    write_xmp(media, make_video(title="new"))
    assert exiftool(tmp_path / "1.jpg.xmp")["XMP-dc:Title"] == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["1.jpg.xmp"]


def test_gps_form() -> None:
    gps = xmp_gps(make_video(geo={"latitude": -33.8688, "longitude": 151.2093}))
    assert gps == ("33,52.128000S", "151,12.558000E")
    assert xmp_gps(make_video(geo={"latitude": 0.0, "longitude": 179.9999999})) == (
        "0,00.000000N",
        "179,59.999994E",
    )
    assert xmp_gps(make_video(geo={"latitude": float("nan"), "longitude": 1.0})) is None
    assert xmp_gps(make_video(geo={"latitude": 91.0, "longitude": 1.0})) is None


def test_sidecar_naming_for_lightroom(tmp_path: Path) -> None:
    media = tmp_path / "123.jpg"
    assert write_xmp(media, make_video()) == tmp_path / "123.jpg.xmp"
    path = write_xmp(media, make_video(title="renamed"), "file.xmp")
    assert path == tmp_path / "123.xmp"
    # the sidecar named as the earlier setting said goes: one sidecar per file
    assert [p.name for p in tmp_path.iterdir()] == ["123.xmp"]
    assert exiftool(path)["XMP-dc:Title"] == "renamed"
    assert write_xmp(media, make_video(), "file.ext.xmp") == tmp_path / "123.jpg.xmp"
    assert [p.name for p in tmp_path.iterdir()] == ["123.jpg.xmp"]
    assert sidecar_path(tmp_path / "123.poster.jpg", "file.xmp").name == "123.poster.xmp"
    with pytest.raises(ValueError, match=r"unknown XMP sidecar naming 'x\.xmp'"):
        sidecar_path(media, "x.xmp")
