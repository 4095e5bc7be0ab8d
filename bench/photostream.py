#!/usr/bin/env python3
"""Benchmark: API calls per photo and wall time of a full photostream backup.

    .venv/bin/python bench/photostream.py --photos 1000 --videos 20 --albums 30

Starts a sandbox (realistic image sizes by default), runs ``scrapy crawl photostream`` with
the API pacing off (so wall time is the crawler's own speed), and prints the sandbox's own count
of API calls, the wall time and the throughput: for a full backup, a no-change re-run, and a
full backup without the deep metadata pass (``FLICKR_DEEP_METADATA_ENABLED=False``). API calls
do not depend on image sizes, so ``--image-size small`` measures them quickly.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from peers.measure import Step, step  # noqa: E402

from flickr_crawl.sandbox.process import Sandbox  # noqa: E402
from tests.helpers import crawl_args  # noqa: E402


def crawl_step(sandbox: Any, archive: Path, run: str, *extra: str, log: Path,
               items: int) -> Step:  # fmt: skip
    """One measured ``scrapy crawl photostream`` into ``archive`` (API pacing off)."""
    cmd = [sys.executable, "-m", "scrapy", *crawl_args(sandbox, archive, *extra)]
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings")
    return step("flickr-crawl", run, sandbox, cmd, log=log, items=items, cwd=ROOT, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--albums", type=int, default=30)
    parser.add_argument("--image-size", default="realistic", choices=("small", "realistic", "fast"))
    parser.add_argument("--logs", type=Path, help="keep each crawl's log in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-photostream-") as tmp:
        auth = Path(tmp) / "auth.json"
        sandbox_args = ("--photos", str(args.photos), "--videos", str(args.videos),
                        "--albums", str(args.albums), "--image-size", args.image_size)  # fmt: skip
        with Sandbox(*sandbox_args, auth_file=auth) as sandbox:
            archive = Path(tmp) / "archive"
            photos = sandbox.account(hashes=False)["photos"]
            with_comments = sum(1 for p in photos if p["comments"])
            with_faves = sum(1 for p in photos if p["faves"])
            rows = []
            runs = [("full", archive, ()), ("no-change", archive, ()),
                    ("full, no deep pass", Path(tmp) / "archive-shallow",
                     ("-s", "FLICKR_DEEP_METADATA_ENABLED=False"))]  # fmt: skip
            logs = args.logs or Path(tmp)
            for run, target, extra in runs:
                log = logs / f"{run.replace(' ', '_').replace(',', '')}.log"
                rows.append(crawl_step(sandbox, target, run, *extra, log=log, items=len(photos)))
        print(f"account: {args.photos} photos, {args.videos} videos, {args.albums} albums "
              f"({args.image_size} images)")  # fmt: skip
        print(f"with comments: {with_comments}, with faves: {with_faves}")
        print("| run | exit | API calls | calls/photo | wall s | MB | MB/s | peak RSS MiB |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r.run} | {r.returncode} | {r.api_calls} | {r.calls_per_item:.4f} | "
                  f"{r.wall:.1f} | {r.bytes_served / 1e6:.1f} | {r.mb_per_s:.1f} | "
                  f"{r.peak_rss_mib:.0f} |")  # fmt: skip
        for r in rows:
            print(f"calls by method ({r.run}):", r.by_method)
    return 0


if __name__ == "__main__":
    sys.exit(main())
