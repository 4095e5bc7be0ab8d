"""EXIF (a PNG's or GIF's XMP packet) embedded while the original streams in gives the very
bytes of embedding afterwards.

A local server sends crafted files in small pieces (so the JPEG head arrives split), a crawl
fetches them through the engine and the streaming handler with ``StreamingEmbed``, as the media
pipeline does, and each stored file
is compared byte for byte with what ``embed_exif`` makes of the served file; the hashes of the
served and of the stored bytes are checked against both.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from flickr_crawl.metadata.exif import embed_exif
from tests.helpers import runspider
from tests.test_exif import camera_exif, make_jpeg, make_photo
from tests.test_pnggif import OWN_XMP, animated_gif, png_file

if TYPE_CHECKING:
    from pathlib import Path

TRAILER = bytes(range(256)) * 12_000  # 3 MB after the end of image, without FF D9 in it


def bodies(tmp: Path) -> dict[str, bytes]:
    plain = make_jpeg(tmp / "plain.jpg", camera_exif(gps=True))
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(png, "PNG")
    comments = b"".join(b"\xff\xfe\xff\xfe" + bytes(0xFFFC) for _ in range(80))  # 5 MB of COM
    return {
        "plain": plain,
        "noexif": make_jpeg(tmp / "noexif.jpg"),
        "noend": plain[: plain.rindex(b"\xff\xd9")],  # cut short: no end of image
        "trailer": plain + TRAILER,
        "png": png_file((400, 300)),  # the XMP packet goes in as a PNG streams too
        "gif": animated_gif(),
        "pngcut": png_file((400, 300))[:-5000],  # cut short inside its image data
        "gifxmp": OWN_XMP["gif-after-frames"](tmp),  # a packet of its own after the frames
        "text": png.getvalue()[8:],  # no image at all
        "tiny": plain[:100],  # shorter than its own head
        "bighead": plain[:2] + comments + plain[2:],  # head beyond what is held back
    }


class Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = self.files[self.path.lstrip("/")]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), 1500):  # small writes: the head arrives in pieces
            self.wfile.write(body[start : start + 1500])
            self.wfile.flush()


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("embed")
    Handler.files = bodies(tmp)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp / "out.json"
    try:
        result = runspider(
            "media_spider.py", tmp,
            "-a", f"base=http://127.0.0.1:{server.server_port}", "-a", f"out={out}",
            "-a", f"parts={tmp}", "-a", f"names={','.join(Handler.files)}", "-a", "embed=1",
            "-s", "LOG_LEVEL=WARNING", "-s", "RETRY_ENABLED=0",
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    results = json.loads(out.read_text())
    assert set(Handler.files) <= set(results), result.stderr[-3000:]  # the spider saw each file
    return results, tmp


def embedded_afterwards(tmp: Path, name: str) -> tuple[bytes, str]:
    """What embedding the served file on disk gives: its bytes and status."""
    path = tmp / f"{name}.after"
    path.write_bytes(Handler.files[name])
    status = embed_exif(path, make_photo(id=name))
    return path.read_bytes(), status


@pytest.mark.parametrize("name", ["plain", "noexif", "trailer", "png", "gif"])
def test_stream_embedding_equals_embedding_afterwards(fetched, name):
    results, tmp = fetched
    served = Handler.files[name]
    expected, status = embedded_afterwards(tmp, name)
    assert status == "embedded"
    stored = (tmp / f"{name}.part").read_bytes()
    assert stored == expected
    seen = results[name]
    assert seen["embed"] == "embedded"
    assert seen["result"]["size"] == len(served)
    assert seen["result"]["sha256"] == hashlib.sha256(served).hexdigest()
    assert seen["result"]["stored_size"] == len(stored)
    assert seen["result"]["stored_sha256"] == hashlib.sha256(stored).hexdigest()


def test_camera_exif_is_read_from_the_head(fetched):
    results, _ = fetched
    camera = results["plain"]["camera"]
    assert camera["make"] == "Canon"
    assert camera["model"] == "Canon EOS 5D Mark III"
    assert camera["gps"]["latitude"] == pytest.approx(-33.8688, abs=1e-3)


def test_a_jpeg_without_its_end_is_stored_as_served(fetched):
    results, tmp = fetched
    served = Handler.files["noend"]
    _, status = embedded_afterwards(tmp, "noend")
    assert status == results["noend"]["embed"] == "skipped: corrupt JPEG"
    assert (tmp / "noend.part").read_bytes() == served
    digest = hashlib.sha256(served).hexdigest()
    assert results["noend"]["result"]["sha256"] == results["noend"]["result"]["stored_sha256"]
    assert results["noend"]["result"]["sha256"] == digest
    assert not list(tmp.glob("noend.part.*"))  # the restore left no temp file


@pytest.mark.parametrize(
    ("name", "reason"), [("pngcut", "corrupt PNG"), ("gifxmp", "has its own XMP")]
)
def test_a_png_or_gif_found_wanting_after_its_head_is_stored_as_served(fetched, name, reason):
    """Cut short, or with an XMP packet of its own after the image data: seen only once the
    whole file is on disk, and then the served head is put back."""
    results, tmp = fetched
    served = Handler.files[name]
    _, status = embedded_afterwards(tmp, name)
    assert status == results[name]["embed"] == f"skipped: {reason}"
    assert (tmp / f"{name}.part").read_bytes() == served
    assert results[name]["result"]["stored_sha256"] == hashlib.sha256(served).hexdigest()
    assert not list(tmp.glob(f"{name}.part.*"))


@pytest.mark.parametrize("name", ["text", "tiny", "bighead"])
def test_what_the_stream_cannot_embed_is_stored_as_served(fetched, name):
    """Not a JPEG, PNG or GIF, shorter than its head, or a head beyond the hold limit:
    untouched, and no status, so the media pipeline embeds from the file if it is one."""
    results, tmp = fetched
    served = Handler.files[name]
    assert (tmp / f"{name}.part").read_bytes() == served
    assert results[name]["embed"] is None
    assert results[name]["result"]["sha256"] == hashlib.sha256(served).hexdigest()
    assert results[name]["result"]["stored_size"] == len(served)


def test_exiftool_reads_the_streamed_metadata(fetched):
    results, tmp = fetched
    binary = shutil.which("exiftool")
    if binary is None:
        pytest.fail("exiftool is required: apt-get install libimage-exiftool-perl")
    from tests.test_exif import exiftool

    path = tmp / "plain.jpg.out"
    path.write_bytes((tmp / "plain.part").read_bytes())
    tags = exiftool(path)
    assert tags["IFD0:XPTitle"] == "Harbour at dusk"
    assert tags["IFD0:Make"] == "Canon"
    assert results["plain"]["embed"] == "embedded"
