"""PNG and GIF originals carry an XMP packet of their own (issue 21): a PNG in an iTXt chunk
``XML:com.adobe.xmp``, a GIF in the ``XMP DataXMP`` application extension. Read back from the
file alone by exiftool, by libexiv2 (PNG; exiv2 reads no metadata from a GIF at all) and by
Adobe's XMP Toolkit (exempi, both), after a real crawl of the sandbox; the image data is the
served one, the served bytes come back from the file and what the sidecar kept, and an edit on
Flickr (a new title, a place made private) is embedded again at the next run without a download.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image, ImageSequence

from flickr_crawl.metadata.exif import restore_original
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, exiv2, run_log, sidecars

if TYPE_CHECKING:
    from pathlib import Path

ACCOUNT = ("--photos", "24", "--videos", "0", "--albums", "3", "--image-size", "small",
           "--seed", "7")  # fmt: skip
NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
}
# What the owner typed on Flickr for each of the two files (set before the first crawl).
EDITS = {
    "png": {
        "title": "Harbour & lights — Ø",
        "description": "Low tide at <b>dusk</b>",
        "tags": ["harbour", "night sky", "geo:lat=59.91"],
        "datetaken": "2019-07-04 18:57:43", "takengranularity": 0,
        "geo": {"latitude": 59.913868, "longitude": 10.752245},
        "license": 4, "ispublic": 1,
    },
    "gif": {
        "title": "Spinning globe",
        "description": "An animation from 2011",
        "tags": ["globe", "animation"],
        "datetaken": "2011-03-01 00:00:00", "takengranularity": 4,  # March 2011, no day
        "geo": {"latitude": -33.856784, "longitude": 151.215297},
        "license": 0, "ispublic": 1,
    },
}  # fmt: skip


def _exiftool_xmp(path: Path) -> dict[str, Any]:
    """``exiftool -j -XMP:all`` (with group names and numbers) of the file alone."""
    binary = shutil.which("exiftool")
    assert binary, "exiftool is needed (Debian: libimage-exiftool-perl; dev.py test installs it)"
    out = subprocess.run([binary, "-j", "-XMP:all", "-G1", "-n", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return json.loads(out)[0]


def _exempi(path: Path) -> ET.Element:
    """The XMP Adobe's XMP Toolkit (exempi) finds in the file, as an RDF tree."""
    binary = shutil.which("exempi")
    if binary is None:
        pytest.fail("exempi is required: apt-get install exempi (python3 dev.py test installs it)")
    out = subprocess.run([binary, "-x", str(path)], capture_output=True, check=True,
                         encoding="utf-8").stdout  # fmt: skip
    packet = out[out.index("<x:xmpmeta") :]
    return ET.fromstring(packet)


def _alt(tree: ET.Element, name: str) -> str | None:
    found = tree.find(f".//{name}/rdf:Alt/rdf:li", NS)
    return None if found is None else found.text


def _items(tree: ET.Element, name: str) -> list[str]:
    return [li.text or "" for li in tree.findall(f".//{name}/*/rdf:li", NS)]


def _simple(tree: ET.Element, name: str) -> str | None:
    prefix, local = name.split(":")
    for description in tree.iterfind(".//rdf:Description", NS):
        value = description.get(f"{{{NS[prefix]}}}{local}")
        if value is not None:
            return value
        child = description.find(name, NS)
        if child is not None:
            return child.text
    return None


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk, each CRC checked."""
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        body = data[pos + 4 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(body), body[:4]
        chunks.append((body[:4], body[4:]))
        pos += 12 + length
    return chunks


def _frames(data: bytes) -> list[tuple[bytes, list[int] | None]]:
    """Every frame's pixels and palette, decoded."""
    with Image.open(io.BytesIO(data)) as image:
        return [(f.tobytes(), f.getpalette()) for f in ImageSequence.Iterator(image)]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("pnggif")
    with Sandbox(*ACCOUNT, auth_file=tmp / "auth.json") as sandbox:
        photos = {}
        for photo in sandbox.account(hashes=False)["photos"]:
            url = (photo.get("original") or {}).get("url", "")
            kind = url.rsplit(".", 1)[-1]
            if kind in EDITS and kind not in photos:
                photos[kind] = photo["id"]
        assert set(photos) == {"png", "gif"}, "the sandbox account should have both"
        sandbox.mutate([{"op": "edit_photo", "id": pid, **EDITS[kind]}
                        for kind, pid in photos.items()])  # fmt: skip
        archive = tmp / "archive"
        result = crawl(sandbox, archive)
        assert result.returncode == 0, result.stderr[-3000:]
        account = {p["id"]: p for p in sandbox.account()["photos"]}
        yield SimpleNamespace(sandbox=sandbox, archive=archive, ids=photos, account=account)


def _file(run: Any, kind: str) -> tuple[dict[str, Any], Path, bytes]:
    """The sidecar record, path and served bytes of the PNG or GIF."""
    photo = run.account[run.ids[kind]]
    record = sidecars(run.archive)[photo["id"]][0]
    served = run.sandbox.get("/" + photo["original"]["url"].split("/", 3)[3])
    return record, run.archive / record["file"]["path"], served


@pytest.mark.parametrize("kind", ["png", "gif"])
def test_the_xmp_packet_reads_back_from_the_file_alone(run, kind):
    record, path, _served = _file(run, kind)
    edit = EDITS[kind]
    assert path.suffix == f".{kind}"
    assert record["file"]["metadata"] == "embedded", record["file"]
    assert record["file"]["embedded_segments"] == 1
    sidecar = _exiftool_xmp(path.with_name(path.name + ".xmp"))
    tags = _exiftool_xmp(path)
    assert tags["XMP-dc:Title"] == edit["title"]
    description = "Low tide at dusk" if kind == "png" else edit["description"]  # as text
    assert tags["XMP-dc:Description"] == description
    photo = run.account[run.ids[kind]]
    assert _as_list(tags["XMP-dc:Subject"]) == [t["content"] for t in photo["tags"]]
    assert _as_list(tags["XMP-dc:Creator"]) == [record["owner_name"]]
    assert tags["XMP-dc:Rights"].startswith("©")
    if kind == "png":
        assert "Attribution License https://creativecommons.org/licenses/by/2.0/" in tags[
            "XMP-dc:Rights"]  # fmt: skip
        assert tags["XMP-xmpRights:WebStatement"] == "https://creativecommons.org/licenses/by/2.0/"
        assert "geo|lat|59.91" in _as_list(tags["XMP-lr:HierarchicalSubject"])
        assert tags["XMP-photoshop:DateCreated"].startswith("2019:07:04 18:57:43")
    else:
        assert tags["XMP-dc:Rights"].endswith("All Rights Reserved")
        assert str(tags["XMP-exif:DateTimeOriginal"]) == "2011:03"  # the month, no day made up
        assert "XMP-photoshop:DateCreated" not in tags
    assert tags["XMP-exif:GPSLatitude"] == pytest.approx(edit["geo"]["latitude"], abs=1e-5)
    assert tags["XMP-exif:GPSLongitude"] == pytest.approx(edit["geo"]["longitude"], abs=1e-5)
    # the same values as the sidecar beside it
    for key in ("XMP-dc:Title", "XMP-dc:Description", "XMP-dc:Subject", "XMP-dc:Creator",
                "XMP-dc:Rights", "XMP-lr:HierarchicalSubject", "XMP-xmpRights:UsageTerms",
                "XMP-exif:DateTimeOriginal", "XMP-exif:GPSLatitude"):  # fmt: skip
        assert tags.get(key) == sidecar.get(key), key

    # Adobe's own XMP Toolkit finds the packet where the XMP specification puts it
    tree = _exempi(path)
    assert _alt(tree, "dc:title") == edit["title"]
    assert _items(tree, "dc:subject") == _as_list(tags["XMP-dc:Subject"])
    assert _items(tree, "dc:creator") == [record["owner_name"]]
    assert _alt(tree, "dc:rights") == tags["XMP-dc:Rights"]
    date = "2019-07-04T18:57:43" if kind == "png" else "2011-03"
    assert (_simple(tree, "exif:DateTimeOriginal") or "").startswith(date)

    if kind == "png":  # libexiv2 (digiKam, darktable, gThumb)
        raw = subprocess.run(["exiv2", "-pX", str(path)], capture_output=True, check=True,
                             encoding="utf-8").stdout  # fmt: skip
        assert 'x:xmptk="flickr-crawl"' in raw
        read, stderr = exiv2(path)
        assert read["Xmp.dc.title"] == [f'lang="x-default" {edit["title"]}']
        assert read["Xmp.dc.description"] == ['lang="x-default" Low tide at dusk']
        assert read["Xmp.dc.subject"] == [", ".join(_as_list(tags["XMP-dc:Subject"]))]
        assert read["Xmp.dc.creator"] == [record["owner_name"]]
        assert read["Xmp.photoshop.DateCreated"] == ["2019-07-04T18:57:43"]
        assert "Warning" not in stderr, stderr
        assert "Error" not in stderr, stderr


@pytest.mark.parametrize("kind", ["png", "gif"])
def test_image_data_is_the_served_one_and_the_served_bytes_come_back(run, kind):
    record, path, served = _file(run, kind)
    photo = run.account[run.ids[kind]]
    data = path.read_bytes()
    assert data != served  # the packet is in
    assert _frames(data) == _frames(served)  # every pixel and palette as served
    if kind == "png":
        ours = [c for c in _png_chunks(data) if c[0] == b"iTXt"]
        assert len(ours) == 1
        assert ours[0][1].startswith(b"XML:com.adobe.xmp\x00\x00\x00\x00\x00")
        assert [c for c in _png_chunks(data) if c[0] != b"iTXt"] == _png_chunks(served)
        assert _png_chunks(data)[1][0] == b"iTXt"  # right after IHDR, before any IDAT
    else:
        assert data[:6] == b"GIF89a"  # the version with extensions
        start = data.index(b"\x21\xff\x0bXMP DataXMP")
        end = data.index(b"\x01" + bytes(range(255, -1, -1)) + b"\x00", start) + 258
        assert data[end:] == served[start:]  # the image blocks and trailer byte for byte
        assert data[6:start] == served[6:start]  # screen descriptor and colour table
    assert record["file"]["original_sha256"] == photo["original"]["sha256"]
    assert record["file"]["sha256"] == hashlib.sha256(data).hexdigest()
    back = restore_original(data, base64.b64decode(record["file"]["original_exif"]),
                            record["file"]["embedded_segments"])  # fmt: skip
    assert back == served
    assert hashlib.sha256(back).hexdigest() == photo["original"]["sha256"]


def _stat(log: str, key: str) -> int | None:
    found = re.search(rf"'{re.escape(key)}': (\d+)", log)
    return int(found.group(1)) if found else None


def _again(run: Any, ops: list[dict[str, Any]]) -> str:
    """Apply ``ops`` on Flickr, run an incremental crawl; its log. No media is fetched."""
    run.sandbox.mutate(ops)
    run.sandbox.reset_stats()
    result = crawl(run.sandbox, run.archive)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [e for e in run.sandbox.requests() if e["kind"] == "media"] == []
    return run_log(run.archive)


def test_a_title_edited_on_flickr_is_embedded_again_at_the_next_run(run):
    ops = [{"op": "edit_photo", "id": pid, "title": f"Renamed {kind} on Flickr"}
           for kind, pid in run.ids.items()]  # fmt: skip
    log = _again(run, ops)
    assert _stat(log, "flickr/exif/refreshed") == 2, log[-3000:]
    for kind in ("png", "gif"):
        record, path, served = _file(run, kind)
        assert _exiftool_xmp(path)["XMP-dc:Title"] == f"Renamed {kind} on Flickr"
        assert _alt(_exempi(path), "dc:title") == f"Renamed {kind} on Flickr"
        data = path.read_bytes()
        assert data.count(b'x:xmptk="flickr-crawl"') == 1  # replaced, not a second packet
        assert record["file"]["sha256"] == hashlib.sha256(data).hexdigest()
        back = restore_original(data, base64.b64decode(record["file"]["original_exif"]),
                                record["file"]["embedded_segments"])  # fmt: skip
        assert back == served
        assert hashlib.sha256(back).hexdigest() == record["file"]["original_sha256"]


def test_a_place_made_private_on_flickr_leaves_the_file(run):
    for kind in ("png", "gif"):
        _record, path, _served = _file(run, kind)
        assert "XMP-exif:GPSLatitude" in _exiftool_xmp(path)  # else this proves nothing
    ops = [{"op": "edit_photo", "id": pid, "ispublic": 0, "isfriend": 1}
           for pid in run.ids.values()]  # fmt: skip
    log = _again(run, ops)
    assert _stat(log, "flickr/exif/refreshed") == 2, log[-3000:]
    for kind in ("png", "gif"):
        record, path, served = _file(run, kind)
        tags = _exiftool_xmp(path)
        assert not [key for key in tags if "GPS" in key], tags
        assert b"exif:GPSLatitude" not in path.read_bytes()
        assert record["geo"]["latitude"] == pytest.approx(EDITS[kind]["geo"]["latitude"])
        assert tags["XMP-dc:Title"]  # the rest is still there
        back = restore_original(
            path.read_bytes(), base64.b64decode(record["file"]["original_exif"]), 1
        )
        assert back == served
