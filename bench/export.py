#!/usr/bin/env python3
"""Benchmark: a full-metadata first backup from Flickr's account export against an API-only one.

    .venv/bin/python bench/export.py --photos 2000 --videos 40

Starts a sandbox, has it write its account's export, makes an API-only backup (with a web
session, for the videos) and one with ``-a export=DIR`` (without: videos come from the export),
and prints the sandbox's own count of API calls per item and the wall time of each, as a
Markdown table row each (issue 19's target: <= 0.5 calls per item from the export).

Measured 2026-12-05 (2 shared cores, small images, API pacing off):

| backup | items | API calls | calls per item | wall time |
| --- | --- | --- | --- | --- |
| API only | 2040 | 2886 | 1.41 | 60 s |
| from the export | 2040 | 713 | 0.35 | 35 s |
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/: its incremental.py would shadow the package

from flickr_crawl.sandbox.process import Sandbox  # noqa: E402
from tests.helpers import crawl, web_session  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--photos", type=int, default=2000)
    p.add_argument("--videos", type=int, default=40)
    p.add_argument("--image-size", default="small", choices=("small", "fast", "realistic"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sandbox_args = ("--image-size", args.image_size, "--photos", str(args.photos),
                        "--videos", str(args.videos), "--video-size", "80000")  # fmt: skip
        with Sandbox(*sandbox_args, auth_file=tmp / "auth.json") as sb:
            sb.export(tmp / "export")
            items = len(sb.account(hashes=False)["photos"])
            session = web_session(sb, tmp / "web-session.json")
            print("| backup | items | API calls | calls per item | wall time |")
            print("| --- | --- | --- | --- | --- |")
            runs = (
                ("API only", ("-s", f"FLICKR_WEB_SESSION_FILE={session}"), tmp / "api"),
                ("from the export", ("-a", f"export={tmp / 'export'}"), tmp / "exp"),
            )
            for name, extra, archive in runs:
                sb.reset_stats()
                started = time.monotonic()
                result = crawl(sb, archive, *extra)
                took = time.monotonic() - started
                calls = sb.stats()["api_calls"]
                if result.returncode != 0:
                    print(result.stderr[-2000:], file=sys.stderr)
                    return 1
                print(f"| {name} | {items} | {calls['total']} | {calls['total'] / items:.2f} "
                      f"| {took:.0f} s |")  # fmt: skip
                print(json.dumps(calls["by_method"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
