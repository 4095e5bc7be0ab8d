#!/usr/bin/env python3
"""Benchmark: peak memory of a crawl while it downloads one very large video original.

    .venv/bin/python bench/video_rss.py --size 2000000000

Starts a sandbox whose account holds one video of ``--size`` bytes, signs in to its web pages
(cookies saved like ``scrapy weblogin`` does), runs ``scrapy crawl photostream`` and prints the
crawl process's peak RSS (getrusage of the finished child), the wall time and whether the
saved file's SHA-256 matches the sandbox's. Memory must not grow with the file size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flickr_crawl.sandbox.process import Sandbox  # noqa: E402
from tests.helpers import crawl, web_session  # noqa: E402


def sandbox_args(size: int) -> tuple[str, ...]:
    """A sandbox account holding one photo and one video of ``size`` bytes."""
    return ("--photos", "1", "--videos", "0", "--albums", "1", "--image-size", "small",
            "--big-video", str(size))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2_000_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-video-", dir=ROOT) as tmp:
        auth = Path(tmp) / "auth.json"
        with Sandbox(*sandbox_args(args.size), auth_file=auth) as sandbox:
            session = web_session(sandbox, Path(tmp) / "session.json")
            archive = Path(tmp) / "archive"
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.monotonic()
            result = crawl(sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}",
                           "-s", "FLICKR_DEEP_METADATA_ENABLED=False")  # fmt: skip
            elapsed = time.monotonic() - start
            peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        videos = [p for p in archive.rglob("*") if p.suffix in (".mp4", ".mov")]
        size = videos[0].stat().st_size if videos else 0
        digest = hashlib.sha256()
        if videos:
            with videos[0].open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        records = [json.loads(p.read_text()) for p in archive.rglob("*.json")
                   if "logs" not in p.parts]  # fmt: skip
        record = next((r for r in records if r.get("media") == "video"), {})
        rate = size / 1e6 / elapsed
        print(f"crawl exit code {result.returncode}; video saved: {size} bytes "
              f"({size / 1e9:.2f} GB) in {elapsed:.1f} s ({rate:.0f} MB/s)")  # fmt: skip
        print(f"peak RSS of the crawl process: {peak_kib / 1024:.0f} MiB "
              f"(children before: {before / 1024:.0f} MiB)")  # fmt: skip
        print(f"sha256 on disk matches the recorded one: "
              f"{digest.hexdigest() == (record.get('file') or {}).get('sha256')}")  # fmt: skip
    return 0 if result.returncode == 0 and size == args.size else 1


if __name__ == "__main__":
    sys.exit(main())
