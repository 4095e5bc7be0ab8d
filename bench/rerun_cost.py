#!/usr/bin/env python3
"""Benchmark: what a nightly re-run costs on a large account, in API calls and wall time.

    .venv/bin/python bench/rerun_cost.py --photos 10000 --albums 100

Starts a sandbox, makes a full backup (API pacing off, small images: the calls do not depend
on image size), then runs again with nothing changed, then again after a handful of changes
(new uploads, edited titles, new comments, a photo moved between albums, a renamed album), and
prints the sandbox's own count of API calls and the wall time of each run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flickr_crawl.sandbox.process import Sandbox  # noqa: E402
from tests.helpers import crawl_args, scrapy  # noqa: E402


def changes(account: dict) -> list[dict]:
    """Ten changes a week of ordinary use makes."""
    photos = [p["id"] for p in account["photos"]]
    albums = sorted(account["albums"], key=lambda a: len(a["photo_ids"]), reverse=True)
    moved = next(p for p in albums[0]["photo_ids"] if p not in albums[1]["photo_ids"])
    return [
        {"op": "add_photo", "title": "New upload 1"},
        {"op": "add_photo", "title": "New upload 2"},
        {"op": "edit_photo", "id": photos[len(photos) // 2], "title": "Edited title"},
        {"op": "edit_photo", "id": photos[-1], "tags": "retagged"},
        {"op": "add_comment", "photo_id": photos[len(photos) // 3], "text": "Lovely"},
        {"op": "add_comment", "photo_id": photos[-2], "text": "Where is this?"},
        {"op": "remove_from_album", "photo_id": moved, "album_id": albums[0]["id"]},
        {"op": "add_to_album", "photo_id": moved, "album_id": albums[1]["id"]},
        {"op": "rename_album", "album_id": albums[2]["id"], "title": "Renamed"},
        {"op": "add_fave", "photo_id": photos[0]},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=10000)
    parser.add_argument("--videos", type=int, default=0)
    parser.add_argument("--albums", type=int, default=100)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
        sandbox_args = ("--photos", str(args.photos), "--videos", str(args.videos),
                        "--albums", str(args.albums), "--image-size", "small")  # fmt: skip
        with Sandbox(*sandbox_args, auth_file=Path(tmp) / "auth.json", timeout=600) as sandbox:
            archive = Path(tmp) / "archive"
            for run in ("full", "no change", "10 changes"):
                if run == "10 changes":
                    sandbox.mutate(changes(sandbox.account(hashes=False)))
                sandbox.reset_stats()
                start = time.monotonic()
                result = scrapy(*crawl_args(sandbox, archive), timeout=7200)
                elapsed = time.monotonic() - start
                calls = sandbox.stats()["api_calls"]["by_method"]
                logs = sorted((archive / "logs").glob("*.json"), key=lambda p: p.stat().st_mtime)
                summary = json.loads(logs[-1].read_text())
                rows.append((run, result.returncode, calls, elapsed, summary))
    print(f"account: {args.photos} photos, {args.videos} videos, {args.albums} albums")
    print(f"{'run':<12} {'exit':>4} {'API calls':>9} {'wall s':>8} {'downloaded':>10}  listing")
    for run, code, calls, elapsed, summary in rows:
        print(f"{run:<12} {code:>4} {sum(calls.values()):>9} {elapsed:>8.1f} "
              f"{summary['files_downloaded']:>10}  {summary['listing']}")  # fmt: skip
    for run, _code, calls, _elapsed, _summary in rows[1:]:
        print(f"{run}: " + ", ".join(f"{m.removeprefix('flickr.')} {n}"
                                     for m, n in sorted(calls.items())))  # fmt: skip
    return 0 if all(code == 0 for _run, code, *_ in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
