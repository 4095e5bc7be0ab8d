"""Hostile titles become safe, unique folder names that stay inside the archive."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from flickr_crawl.archive.paths import album_folders, file_name, inside, photo_dirs, safe_name
from flickr_crawl.items import AlbumRef, PhotoItem

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Holiday 2019", "Holiday 2019"),
        ("a/b\\c", "a_b_c"),
        ("..", "Untitled"),
        (".", "Untitled"),
        ("", "Untitled"),
        ("   ", "Untitled"),
        ("CON", "CON_"),
        ("nul.txt", "nul.txt_"),
        ("trailing dots...", "trailing dots"),
        ("tab\tand\nnewline", "tab and newline"),
        ("nul\x00byte", "nul_byte"),
        ("emoji 🎉 ok", "emoji 🎉 ok"),
        ('what? "quotes" <tags>|pipe*', "what_ _quotes_ _tags__pipe_"),
    ],
)
def test_safe_name(title: str, expected: str):
    assert safe_name(title) == expected


def test_long_names_are_cut_on_a_character_boundary():
    name = safe_name("é" * 300)
    assert len(name.encode("utf-8")) <= 120
    assert name == "é" * 60


def test_duplicate_album_names_get_ids():
    folders = album_folders(
        [("1", "Trip"), ("2", "trip"), ("3", "Rock & Roll"), ("5", "R&amp;D"), ("4", "../..")]
    )
    assert folders == {
        "1": "Albums/Trip [1]",
        "2": "Albums/trip [2]",
        "3": "Albums/Rock & Roll",
        "4": "Albums/_",
        "5": "Albums/R&amp;D",
    }


def test_inside_refuses_escapes(tmp_path: Path):
    assert inside(tmp_path, "Albums/x/1.jpg") == tmp_path / "Albums" / "x" / "1.jpg"
    for bad in ("../x", "/etc/passwd", "Albums/../../x"):
        with pytest.raises(ValueError, match="unsafe"):
            inside(tmp_path, bad)
    (tmp_path / "Albums").mkdir()
    (tmp_path / "Albums" / "out").symlink_to("/tmp")
    with pytest.raises(ValueError, match="leaves"):
        inside(tmp_path, "Albums/out/x.jpg")


def test_layouts():
    photo = PhotoItem(id="42", owner="o", date_taken="2019-05-04T10:00:00",
                      date_posted="2020-01-01T00:00:00Z")  # fmt: skip
    assert photo_dirs(photo, "albums") == ["Unsorted"]
    assert photo_dirs(photo, "flat") == ["Photos"]
    assert photo_dirs(photo, "date") == ["Dates/2019/05/04"]
    photo.date_taken_unknown = True
    assert photo_dirs(photo, "date") == ["Dates/2020/01/01"]
    photo.albums = [AlbumRef(id="a", title="A", position=1, folder="Albums/A"),
                    AlbumRef(id="b", title="B", position=3, folder="Albums/B")]  # fmt: skip
    assert photo_dirs(photo, "albums") == ["Albums/A", "Albums/B"]
    assert file_name("42", "JPG") == "42.jpg"
