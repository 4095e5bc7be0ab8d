"""Reading Flickr's account export (issue 19 part 2): an export the sandbox writes is indexed by
photo id without unpacking, zipped or unpacked alike; every bad export either stops with one
clear line or keeps the bad item out, never importing it wrongly."""

from __future__ import annotations

import hashlib
import json
import zipfile
from typing import TYPE_CHECKING

import pytest

from flickr_crawl.flickr.export import ExportError, open_export
from flickr_crawl.sandbox.export import write_export
from flickr_crawl.sandbox.media import MediaStore
from flickr_crawl.sandbox.world import GENERATED_NOW, World

if TYPE_CHECKING:
    from pathlib import Path

    from flickr_crawl.sandbox.export import ExportSummary


def make_export(folder: Path, **kw: object) -> tuple[World, ExportSummary]:
    world = World(seed=5, photos=16, videos=2, albums=3, video_size=40_000)
    summary = write_export(world, MediaStore(5, "small"), folder, split_bytes=50_000, **kw)
    return world, summary


def listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_index_of_a_zipped_export(tmp_path: Path) -> None:
    world, summary = make_export(tmp_path / "x", leave_out=2)
    before = listing(tmp_path)
    with open_export(tmp_path / "x", expect_nsid=world.owner.nsid) as index:
        assert index.nsid == world.owner.nsid
        assert GENERATED_NOW - 2 < index.export_date <= GENERATED_NOW + 1
        assert set(index.photos) == {p.id for p in world.own_photos()}
        assert set(index.media) == set(summary.media)
        assert len(summary.left_out) == 2
        for pid in summary.left_out:
            assert pid not in index.media
            assert any(n.startswith(f"photo {pid}: JSON without its original") for n in index.notes)
        photo = world.photos[summary.photo_ids[3]]
        data = index.photo(photo.id)
        assert data is not None
        assert data["name"] == photo.title
        video = next(p for p in world.own_photos() if p.video and p.id in index.media)
        with index.open_media(video.id) as fh:
            got = fh.read()
        assert sha(got) == MediaStore(5, "small").video_digest(video)
        albums = index.account_json("albums.json")
        assert [a["id"] for a in albums["albums"]] == [a.id for a in world.live_albums()]
    assert listing(tmp_path) == before, "nothing unpacked or written beside the export"


def test_unpacked_export_gives_the_same_index(tmp_path: Path) -> None:
    make_export(tmp_path / "x")
    unpacked = tmp_path / "unpacked"
    for path in (tmp_path / "x").glob("*.zip"):
        with zipfile.ZipFile(path) as zf:
            zf.extractall(unpacked / path.stem)
    with open_export(tmp_path / "x") as zipped, open_export(unpacked) as loose:
        assert loose.nsid == zipped.nsid
        assert set(loose.photos) == set(zipped.photos)
        assert set(loose.media) == set(zipped.media)
        for pid in loose.media:
            with loose.open_media(pid) as a, zipped.open_media(pid) as b:
                assert a.read() == b.read()


def test_truncated_zip_stops_with_one_line(tmp_path: Path) -> None:
    make_export(tmp_path / "x")
    media = tmp_path / "x" / "data-download-1.zip"
    media.write_bytes(media.read_bytes()[: media.stat().st_size // 2])
    with pytest.raises(ExportError) as err:
        open_export(tmp_path / "x")
    assert "data-download-1.zip: not a readable zip (truncated or corrupt" in str(err.value)
    assert "\n" not in str(err.value)


def test_corrupt_member_fails_its_crc_when_streamed(tmp_path: Path) -> None:
    _world, summary = make_export(tmp_path / "x")
    pid, member = next(iter(summary.media.items()))
    path = tmp_path / "x" / "data-download-1.zip"
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with (
        open_export(tmp_path / "x") as index,
        index.open_media(pid) as fh,
        pytest.raises(zipfile.BadZipFile, match="CRC"),
    ):
        fh.read()


def test_another_accounts_export_is_refused(tmp_path: Path) -> None:
    world, _ = make_export(tmp_path / "x")
    with pytest.raises(ExportError) as err:
        open_export(tmp_path / "x", expect_nsid="12345678@N00")
    assert str(err.value) == (
        f"{tmp_path / 'x'} is the export of account {world.owner.nsid}, "
        "not of 12345678@N00 being backed up"
    )


def test_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("hi")
    with pytest.raises(ExportError, match=r"no account_profile\.json"):
        open_export(tmp_path / "x")
    with pytest.raises(ExportError, match="does not exist"):
        open_export(tmp_path / "nowhere")


def add_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_media_without_json_is_not_imported(tmp_path: Path) -> None:
    make_export(tmp_path / "x")
    add_zip(tmp_path / "x" / "data-download-90.zip", {"stray_99999999999_o.jpg": b"\xff\xd8\xff"})
    with open_export(tmp_path / "x") as index:
        assert "99999999999" not in index.media
        assert "99999999999" not in index.photos
        assert (
            "data-download-90.zip:stray_99999999999_o.jpg: an original without "
            "photo_99999999999.json; not imported"
        ) in index.notes


def test_same_id_twice_leaves_it_to_the_api(tmp_path: Path) -> None:
    _world, summary = make_export(tmp_path / "x")
    twice_media, member = next(iter(summary.media.items()))
    add_zip(tmp_path / "x" / "data-download-91.zip", {f"copy_{twice_media}_o.jpg": b"\xff\xd8"})
    twice_json = summary.photo_ids[-1]
    account = tmp_path / "x" / summary.account_zips[0]
    with zipfile.ZipFile(account) as zf:
        text = zf.read(f"photo_{twice_json}.json")
    add_zip(account.with_name(account.name.replace("part1", "part2")),
            {f"photo_{twice_json}.json": text})  # fmt: skip
    with open_export(tmp_path / "x") as index:
        for pid in (twice_media, twice_json):
            assert pid not in index.photos
            assert pid not in index.media
            assert index.photo(pid) is None
        assert any(
            n.startswith(f"photo {twice_media}: two originals in the export (")
            and member in n
            and n.endswith("it is fetched from Flickr instead")
            for n in index.notes
        )
        assert any(n.startswith(f"photo {twice_json}: its JSON is in the export twice")
                   for n in index.notes)  # fmt: skip


def test_names_that_leave_their_folder_are_ignored(tmp_path: Path) -> None:
    _world, summary = make_export(tmp_path / "x", leave_out=1)
    pid = summary.left_out[0]
    add_zip(tmp_path / "x" / "data-download-92.zip", {
        f"../../evil_{pid}_o.jpg": b"\xff\xd8\xff",
        f"/abs/evil_{pid}_o.jpg": b"\xff\xd8\xff",
        f"..\\evil_{pid}_o.jpg": b"\xff\xd8\xff",
    })  # fmt: skip
    with open_export(tmp_path / "x") as index:
        assert pid not in index.media
        assert pid in index.photos
        bad = [n for n in index.notes if "a name that leaves its folder; ignored" in n]
        assert len(bad) == 3
    assert not (tmp_path / f"evil_{pid}_o.jpg").exists()


def test_json_naming_another_id_is_dropped(tmp_path: Path) -> None:
    _world, summary = make_export(tmp_path / "x")
    pid, other = summary.photo_ids[0], summary.photo_ids[1]
    account = tmp_path / "x" / summary.account_zips[0]
    with zipfile.ZipFile(account) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    data = json.loads(members[f"photo_{pid}.json"])
    data["id"] = other
    members[f"photo_{pid}.json"] = json.dumps(data).encode()
    account.unlink()
    add_zip(account, members)
    with open_export(tmp_path / "x") as index:
        assert index.photo(pid) is None
        assert pid not in index.photos
        assert pid not in index.media
        assert any(n.startswith(f"photo {pid}: ") and f"holds id '{other}'" in n
                   for n in index.notes)  # fmt: skip
