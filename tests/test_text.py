"""Text as people typed it: titles with ``&``, ``<``, quotes and accents read back the same from
the JPEG's EXIF and the XMP sidecar (exiftool), catalog.db, findmissing and the offline site;
descriptions keep their HTML in the catalog and are searched as text; an archive made before
catalog schema 3 is repaired by the next ordinary run, with no download."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
import shutil
import sqlite3
import subprocess
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.catalog.schema import SCHEMA_VERSION
from flickr_crawl.demo import sandbox_settings
from flickr_crawl.metadata.xmp import sidecar_path
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import as_old_catalog, crawl, scrapy, sidecars

if TYPE_CHECKING:
    from pathlib import Path

EXIFTOOL = shutil.which("exiftool")

# Titles as the owner typed them; Flickr serves them so (tests/test_sandbox.py checks that
# against the real recordings). The last one was typed with an entity in it: it must stay so.
TITLES = (
    "Fish & Chips",
    'She said "hi" <3 & left',
    "Ünïcödé Ñandú façade 日本",
    "R&amp;D, typed as it reads",
)
DESCRIPTION = 'Fish &amp; chips &lt;3 at <a href="https://chippy.example/menu">the menu</a>'
DESCRIPTION_TEXT = "Fish & chips <3 at the menu (https://chippy.example/menu)"


def _exiftool(path: Path) -> dict[str, Any]:
    assert EXIFTOOL, "exiftool is needed (Debian: libimage-exiftool-perl; dev.py test installs it)"
    out = subprocess.run([EXIFTOOL, "-j", "-G1", str(path)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return json.loads(out)[0]


def _search(archive: Path, query: str) -> list[str]:
    with sqlite3.connect(archive / "catalog.db") as db:
        found = db.execute(
            "SELECT id FROM photos WHERE rowid IN "
            "(SELECT rowid FROM photos_fts WHERE photos_fts MATCH ?) ORDER BY id", (query,)
        ).fetchall()  # fmt: skip
    db.close()
    return [row[0] for row in found]


def _media(archive: Path) -> dict[str, str]:
    """sha256 of every JPEG in the archive, by path."""
    return {p.relative_to(archive).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(archive.rglob("*.jpg"))}  # fmt: skip


@pytest.fixture(scope="module")
def typed(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("text")
    args = ("--photos", "12", "--videos", "0", "--albums", "2", "--image-size", "small",
            "--seed", "5")  # fmt: skip
    with Sandbox(*args, auth_file=tmp / "auth.json") as sandbox:
        photos = sandbox.account()["photos"]
        jpegs = [p for p in photos if (p["original"] or {}).get("format") == "jpg"]
        chosen = {title: photo["id"] for title, photo in zip(TITLES, jpegs, strict=False)}
        assert len(chosen) == len(TITLES)
        ops = [{"op": "edit_photo", "id": pid, "title": title} for title, pid in chosen.items()]
        ops.append({"op": "edit_photo", "id": chosen["Fish & Chips"], "description": DESCRIPTION})
        sandbox.mutate(ops)
        archive = tmp / "archive"
        result = crawl(sandbox, archive)
        assert result.returncode == 0, result.stderr[-3000:]
        yield SimpleNamespace(sandbox=sandbox, archive=archive, chosen=chosen, tmp=tmp,
                              records=sidecars(archive))  # fmt: skip


def test_exif_and_xmp_hold_the_titles_as_typed(typed):
    for title, pid in typed.chosen.items():
        record = typed.records[pid][0]
        jpeg = typed.archive / record["file"]["path"]
        tags = _exiftool(jpeg)
        assert tags["IFD0:XPTitle"] == title
        if title == "Fish & Chips":
            assert tags["IFD0:ImageDescription"] == DESCRIPTION_TEXT
        xmp = _exiftool(sidecar_path(jpeg))
        assert xmp["XMP-dc:Title"] == title
    fish = typed.records[typed.chosen["Fish & Chips"]][0]["file"]["path"]
    xmp = _exiftool(sidecar_path(typed.archive / fish))
    assert xmp["XMP-dc:Description"] == DESCRIPTION_TEXT


def test_catalog_keeps_titles_as_typed_and_the_description_html(typed):
    with sqlite3.connect(typed.archive / "catalog.db") as db:
        rows = dict(db.execute("SELECT id, title FROM photos").fetchall())
        described = db.execute(
            "SELECT description, description_text FROM photos WHERE id = ?",
            (typed.chosen["Fish & Chips"],),
        ).fetchone()
    db.close()
    for title, pid in typed.chosen.items():
        assert rows[pid] == title
    assert described == (DESCRIPTION, DESCRIPTION_TEXT)


def test_search_finds_text_not_markup(typed):
    fish = typed.chosen["Fish & Chips"]
    assert _search(typed.archive, "href") == []  # the link's markup
    assert _search(typed.archive, "menu") == [fish]  # its text
    assert _search(typed.archive, "chippy") == [fish]  # and where it points
    assert _search(typed.archive, "amp") == [typed.chosen["R&amp;D, typed as it reads"]]
    assert _search(typed.archive, "nandu") == [typed.chosen["Ünïcödé Ñandú façade 日本"]]


def test_findmissing_prints_titles_as_typed(typed):
    record = typed.records[typed.chosen["R&amp;D, typed as it reads"]][0]
    (typed.archive / record["file"]["path"]).unlink()
    settings = sandbox_settings(typed.sandbox.url, typed.sandbox.auth_file, typed.archive)
    found = scrapy("findmissing", *settings)
    assert found.returncode == 2, found.stderr  # something is missing
    rows = list(csv.DictReader(io.StringIO(found.stdout)))
    assert [row["title"] for row in rows] == ["R&amp;D, typed as it reads"]
    assert crawl(typed.sandbox, typed.archive).returncode == 0  # put it back for the others


def test_the_site_shows_titles_as_typed(typed):
    built = scrapy("site", "--archive", str(typed.archive))
    assert built.returncode == 0, built.stderr[-3000:]
    for title, pid in typed.chosen.items():
        page = (typed.archive / "site" / "photos" / f"{pid}.html").read_text(encoding="utf-8")
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.DOTALL)
        assert heading, pid
        assert "<" not in heading.group(1)  # text, not markup
        assert html.unescape(heading.group(1)) == title


def test_an_older_archive_is_repaired_by_the_next_run_without_downloads(typed, tmp_path):
    """An archive whose catalog.db a version before schema 3 wrote (search over the HTML of
    descriptions) gets its search index remade by an ordinary run: no file is fetched or
    rewritten, the HTML stays in its column."""
    archive = tmp_path / "archive"
    shutil.copytree(typed.archive, archive, symlinks=True)
    shutil.rmtree(archive / "site", ignore_errors=True)
    as_old_catalog(archive / "catalog.db", 2)
    fish = typed.chosen["Fish & Chips"]
    assert fish in _search(archive, "href")  # the old index: markup found
    files = _media(archive)
    typed.sandbox.reset_stats()
    again = crawl(typed.sandbox, archive)
    assert again.returncode == 0, again.stderr[-3000:]
    stats = typed.sandbox.stats()
    assert stats["media_requests"] == 0
    assert stats["api_calls"]["total"] <= 6  # an ordinary incremental run's listing calls
    assert _search(archive, "href") == []
    assert _search(archive, "menu") == [fish]
    assert _media(archive) == files
    with sqlite3.connect(archive / "catalog.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT description FROM photos WHERE id = ?", (fish,)).fetchone() == (
            DESCRIPTION,
        )
    db.close()
