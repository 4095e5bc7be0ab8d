"""``item_type``: a feed export of a crawl says on every line which item shape it is."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import fields
from typing import TYPE_CHECKING

from flickr_crawl.items import ITEM_TYPES
from tests.helpers import crawl

if TYPE_CHECKING:
    from pathlib import Path


def test_feed_export_lines_carry_their_item_type(sandbox, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    out = tmp_path / "items.jsonl"
    done = crawl(sandbox, archive, "-O", f"{out}:jsonlines")
    assert done.returncode in (0, 2), done.stderr[-3000:]  # 2: videos need a web session
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines
    assert all(isinstance(line.get("item_type"), str) for line in lines), [
        sorted(line)[:5] for line in lines if "item_type" not in line
    ][:3]
    by_type = Counter(line["item_type"] for line in lines)
    # What the sandbox account holds, so every shape of a full photostream run shows up.
    account = sandbox.account()
    expected = {"photo", "album", "comments", "faves", "photo_info", "photostream_listed"}
    if account.get("galleries"):
        expected.add("gallery")
    if account.get("collections"):
        expected.add("collection")
    assert expected <= set(by_type), by_type
    assert set(by_type) <= set(ITEM_TYPES), by_type
    # Each line has exactly the fields of the dataclass its item_type names: a split export
    # can be read back shape by shape.
    for line in lines:
        names = {f.name for f in fields(ITEM_TYPES[line["item_type"]])}
        assert set(line) == names, (line["item_type"], set(line) ^ names)
    photos = [line for line in lines if line["item_type"] == "photo"]
    assert {p["id"] for p in photos} == {p["id"] for p in account["photos"]}
    albums = [line for line in lines if line["item_type"] == "album"]
    assert {a["id"] for a in albums} == {a["id"] for a in account["albums"]}
