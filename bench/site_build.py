#!/usr/bin/env python3
"""Benchmark: ``scrapy site`` build time, full and after a small backup.

    .venv/bin/python bench/site_build.py --photos 10000 --videos 50 --albums 100
    .venv/bin/python bench/site_build.py --photos 300 --image-size realistic  # image cost

Makes a real archive first: starts a sandbox with that many photos, runs ``scrapy crawl
photostream`` (pacing off) and ``scrapy crawl favorites`` into a temporary folder, so catalog.db
and the originals are what a backup writes. Then times ``scrapy site`` as a user runs it:

1. full build (every thumbnail and web copy made, every page written);
2. rebuild with nothing changed;
3. a 10-photo change on "Flickr" (sandbox mutations: 3 new photos, 4 new comments, 3 new
   titles), an incremental ``scrapy crawl photostream``, then the rebuild (timed alone).

``--image-size small`` (the default) makes 48px originals, so runs 1-3 measure the catalog,
pages, search index and file handling at full scale; ``realistic`` originals (up to 6000x4000
JPEGs, as cameras make) measure what making the images costs per photo. The sandbox renders
realistic originals slowly, so use a few hundred photos for that.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flickr_crawl.sandbox.process import Sandbox  # noqa: E402
from tests.helpers import crawl_args, scrapy, web_session  # noqa: E402


def site(archive: Path, *extra: str) -> tuple[float, str]:
    """Run ``scrapy site``; (seconds, its summary line)."""
    start = time.monotonic()
    result = scrapy("site", "--archive", str(archive), *extra, timeout=7200)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"scrapy site failed: {result.stderr[-2000:]}")
    return elapsed, result.stderr.strip().splitlines()[-1]


def crawl(sandbox: Sandbox, archive: Path, *extra: str, spider: str = "photostream") -> None:
    """``scrapy crawl`` as the tests run it, with time for a big account."""
    result = scrapy(*crawl_args(sandbox, archive, *extra, spider=spider), timeout=6 * 3600)
    if result.returncode != 0:
        sys.exit(f"crawl {spider} failed: {result.stderr[-2000:]}")


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=10000)
    parser.add_argument("--videos", type=int, default=50)
    parser.add_argument("--albums", type=int, default=100)
    parser.add_argument("--image-size", default="small", choices=("small", "realistic"))
    parser.add_argument("--keep", type=Path, help="build the archive here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / "archive"
        sandbox_args = ("--photos", str(args.photos), "--videos", str(args.videos),
                        "--albums", str(args.albums), "--image-size", args.image_size)  # fmt: skip
        with Sandbox(*sandbox_args, auth_file=folder / "auth.json") as sandbox:
            session = web_session(sandbox, folder / "web-session.json")
            session_setting = f"FLICKR_WEB_SESSION_FILE={session}"
            start = time.monotonic()
            for spider in ("photostream", "favorites"):
                crawl(sandbox, archive, "-s", session_setting, spider=spider)
            crawled = time.monotonic() - start
            print(f"archive: {args.photos} photos, {args.videos} videos, {args.albums} albums, "
                  f"{args.image_size} images; crawled in {crawled:.0f} s")  # fmt: skip

            rows = [("full build", *site(archive))]
            rows.append(("rebuild, nothing changed", *site(archive)))

            photos = [p for p in sandbox.account(hashes=False)["photos"] if p["media"] == "photo"]
            ops: list[dict[str, object]] = [{"op": "add_photo"} for _ in range(3)]
            ops += [{"op": "add_comment", "photo_id": p["id"], "text": f"bench comment {i}"}
                    for i, p in enumerate(photos[10:14])]  # fmt: skip
            ops += [{"op": "edit_photo", "id": p["id"], "title": f"bench title {i}"}
                    for i, p in enumerate(photos[100:103])]  # fmt: skip
            sandbox.mutate(ops)
            start = time.monotonic()
            crawl(sandbox, archive, "-s", session_setting)
            crawled = time.monotonic() - start
            rows.append(("rebuild after a 10-photo change", *site(archive)))
            rows.append(("rebuild --full", *site(archive, "--full")))

        site_dir = archive / "site"
        index = site_dir / "search-index.js"
        print(f"incremental crawl of the change: {crawled:.1f} s")
        print("| run | wall s | images made | pages written | pages unchanged |")
        print("| --- | --- | --- | --- | --- |")
        for run, seconds, line in rows:
            made = re.search(r"images: (\d+) made", line)
            written = re.search(r"pages: (\d+) written, (\d+) unchanged", line)
            print(f"| {run} | {seconds:.1f} | {made.group(1) if made else '?'} | "
                  f"{written.group(1) if written else '?'} | "
                  f"{written.group(2) if written else '?'} |")  # fmt: skip
        print(f"site size: {size_of(site_dir) / 1e6:.1f} MB "
              f"(thumbnails {size_of(site_dir / 't') / 1e6:.1f} MB, "
              f"web copies {size_of(site_dir / 'w') / 1e6:.1f} MB); "
              f"search-index.js {index.stat().st_size / 1e6:.2f} MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
