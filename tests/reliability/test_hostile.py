"""Hostile data: what an account holds (or a broken Flickr sends) never escapes the archive,
never crashes the run, and is kept as faithfully as the formats allow.

Titles, descriptions, tags, comments and album names get path traversal, NUL and other control
characters, 10 kB strings, unpaired UTF-16 surrogates and HTML/script payloads (through the
sandbox's mutation hooks, so the ordinary generated account stays as it is). A folder of the
archive that is a symlink leading outside it stops the run before anything is written.
"""

from __future__ import annotations

import json
import os
import sqlite3
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, sidecars
from tests.reliability.common import run_summary

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LONG = "Lorem ipsum dolor sit amet " * 380  # about 10 kB
HOSTILE = [
    "../../../../../../tmp/flickr-crawl-escape",
    "/etc/passwd",
    "..\\..\\windows\\system32",
    "nul\x00byte",
    "bell\x07 escape\x1b[31m red\x7f del\x0b",
    LONG,
    "lone \ud800 high and \udfff low surrogate",
    "<script>alert(document.cookie)</script>",
    '"><img src=x onerror=alert(1)>',
    "%2e%2e%2f%2e%2e%2fetc",
    "CON",
    "",
]


def _unsurrogate(text: str) -> str:
    """What a backup can store: unpaired surrogates are not text in UTF-8."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    tmp = tmp_path_factory.mktemp("hostile")
    args = ("--photos", "14", "--videos", "0", "--albums", "4", "--image-size", "small",
            "--seed", "41")  # fmt: skip
    with Sandbox(*args, auth_file=tmp / "auth.json") as sandbox:
        account = sandbox.account(hashes=False)
        photos = [p["id"] for p in account["photos"]]
        ops: list[dict[str, Any]] = []
        for i, text in enumerate(HOSTILE):
            ops.append({"op": "edit_photo", "id": photos[i], "title": text,
                        "description": HOSTILE[-1 - i], "tags": [text, "ok"]})  # fmt: skip
            ops.append({"op": "add_comment", "photo_id": photos[i], "text": text})
        for album, text in zip(account["albums"], HOSTILE, strict=False):
            ops.append({"op": "rename_album", "album_id": album["id"], "title": text,
                        "description": text})  # fmt: skip
        sandbox.mutate(ops)
        yield sandbox, tmp


def _files_outside(tmp: Path, archive: Path) -> set[Path]:
    return {p for p in tmp.rglob("*") if not p.is_relative_to(archive)}


def test_hostile_metadata_is_kept_inside_the_archive(hostile, tmp_path):
    sandbox, _ = hostile
    archive = tmp_path / "archive"
    before = _files_outside(tmp_path, archive)
    escape = "/tmp/flickr-crawl-escape"
    result = crawl(sandbox, archive)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert _files_outside(tmp_path, archive) == before
    assert not os.path.lexists(escape)
    for path in archive.rglob("*"):  # every file really is inside, links included
        assert path.resolve().is_relative_to(archive.resolve()), path
    assert run_summary(archive)["failed"] == []

    account = sandbox.account(hashes=False)
    records = sidecars(archive)
    for photo in account["photos"]:
        record = records[photo["id"]][0]
        assert record["title"] == _unsurrogate(photo["title"])
        assert record["description"] == _unsurrogate(photo["description"])
        texts = [c["html"] for c in record.get("comments", [])]
        assert texts == [_unsurrogate(c["text"]) for c in photo["comments"]]
    for album in account["albums"]:
        matches = [p for p in archive.glob("Albums/*/album.json")
                   if json.loads(p.read_text(encoding="utf-8"))["id"] == album["id"]]  # fmt: skip
        assert len(matches) == 1, album["id"]
        assert len(matches[0].parent.name.encode()) <= 255
        saved = json.loads(matches[0].read_text(encoding="utf-8"))
        assert saved["title"] == _unsurrogate(album["title"])
    for xmp in archive.rglob("*.xmp"):
        ET.parse(xmp)  # well-formed XML, whatever the titles held
    db = sqlite3.connect(archive / "catalog.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        titles = dict(db.execute("SELECT id, title FROM photos"))
    finally:
        db.close()
    assert titles == {p["id"]: _unsurrogate(p["title"]) for p in account["photos"]}


def test_a_symlink_leading_out_of_the_archive_stops_the_run_before_it_writes(hostile, tmp_path):
    sandbox, _ = hostile
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = tmp_path / "archive"
    (archive / "Albums").mkdir(parents=True)
    (archive / "Unsorted").symlink_to(outside, target_is_directory=True)
    result = crawl(sandbox, archive)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), last
    assert "Unsorted" in last
    assert str(outside) in last
    assert list(outside.iterdir()) == []


def test_a_symlink_inside_the_archive_is_fine(hostile, tmp_path):
    """Links that stay inside (a user's own shortcut) are no reason to refuse."""
    sandbox, _ = hostile
    archive = tmp_path / "archive"
    (archive / "Shortcuts").mkdir(parents=True)
    (archive / "Shortcuts" / "albums").symlink_to(archive / "Albums", target_is_directory=True)
    result = crawl(sandbox, archive)
    assert result.returncode == 0, result.stderr[-3000:]
