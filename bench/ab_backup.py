#!/usr/bin/env python3
"""Benchmark: full backups of two checkouts of flickr-crawl, taken in turns against one sandbox.

    .venv/bin/python bench/ab_backup.py --before /path/to/other/checkout --rounds 3

On a machine shared with other work one run of each says little: load comes and goes. Here each
round runs the other checkout's crawl (``--before``, with its own ``.venv``), then this one's,
then aria2c fetching the same originals, one after another against the same sandbox account
(the bench/run account: ``--image-size fast``, API limit off, web session for video originals),
and the 2 GB video test the same way on a second sandbox. It prints every run, the medians and
spread, and the load average at each step, and writes them to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from peers import tools  # noqa: E402
from peers.measure import Step, step  # noqa: E402
from video_rss import sandbox_args as big_video_args  # noqa: E402

from flickr_crawl.sandbox.process import Sandbox  # noqa: E402
from tests.helpers import crawl_args, web_session  # noqa: E402


def ours(label: str, checkout: Path, sb: Any, out: Path, session: Path, log: Path,
         items: int) -> Step:  # fmt: skip
    """One ``scrapy crawl photostream`` of ``checkout`` (its own virtualenv) into ``out``."""
    python = checkout / ".venv" / "bin" / "python"
    cmd = [str(python), "-m", "scrapy",
           *crawl_args(sb, out, "-s", f"FLICKR_WEB_SESSION_FILE={session}")]  # fmt: skip
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings")
    return step(label, "full", sb, cmd, log=log, items=items, cwd=checkout, env=env)


def rounds(args: argparse.Namespace, sb: Any, work: Path, name: str, items: int,
           truth: dict[str, Any], session: Path) -> list[dict[str, Any]]:  # fmt: skip
    """``args.rounds`` rounds of: the other checkout, this one, aria2c."""
    runs = []
    for n in range(1, args.rounds + 1):
        for label, checkout in (("before", args.before), ("after", ROOT), ("aria2c", None)):
            out = work / f"{name}-{label}-{n}"
            log = work / "logs" / f"{name}-{label}-{n}.log"
            load = os.getloadavg()[0]
            if checkout is None:
                s = step("aria2c", "full", sb, tools.aria2c(truth, session, out).cmd, log=log,
                         items=items)  # fmt: skip
            else:
                s = ours(label, checkout, sb, out, session, log, items)
            shutil.rmtree(out, ignore_errors=True)
            row = {"scenario": name, "round": n, "who": label, "exit": s.returncode,
                   "wall": round(s.wall, 2), "rss_mib": round(s.peak_rss_mib or 0, 1),
                   "api_calls": s.api_calls, "calls_per_item": round(s.calls_per_item, 3),
                   "bytes": s.bytes_served, "cpu_s": round(s.cpu_s or 0, 1),
                   "load_before": round(load, 2),
                   "load_after": round(os.getloadavg()[0], 2)}  # fmt: skip
            runs.append(row)
            print(json.dumps(row), flush=True)
    return runs


def summary(runs: list[dict[str, Any]]) -> list[str]:
    """Medians and spread per scenario and checkout, and the ratios the issue bounds name."""
    lines = ["| scenario | who | runs | wall s median | min-max | peak RSS MiB max | calls/item |",
             "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    med: dict[tuple[str, str], float] = {}
    for scenario in dict.fromkeys(r["scenario"] for r in runs):
        for who in ("before", "after", "aria2c"):
            rows = [r for r in runs if r["scenario"] == scenario and r["who"] == who]
            if not rows:
                continue
            walls = [r["wall"] for r in rows]
            med[scenario, who] = statistics.median(walls)
            lines.append(f"| {scenario} | {who} | {len(rows)} | {med[scenario, who]:.1f} | "
                         f"{min(walls):.1f}-{max(walls):.1f} | "
                         f"{max(r['rss_mib'] for r in rows):.0f} | "
                         f"{rows[0]['calls_per_item']} |")  # fmt: skip
    for scenario in dict.fromkeys(r["scenario"] for r in runs):
        if (scenario, "before") in med and (scenario, "after") in med:
            ratio = med[scenario, "after"] / med[scenario, "before"]
            lines.append(f"{scenario}: after / before = {ratio:.2f}")
        for who in ("before", "after"):
            if (scenario, who) in med and (scenario, "aria2c") in med:
                ratio = med[scenario, who] / med[scenario, "aria2c"]
                lines.append(f"{scenario}: {who} / aria2c = {ratio:.2f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True,
                        help="the other checkout (with its own .venv)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--albums", type=int, default=30)
    parser.add_argument("--video-size", type=int, default=2_000_000_000,
                        help="bytes of the one video in the memory test (0 = skip)")  # fmt: skip
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work-ab")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / ".work-ab.json")
    args = parser.parse_args()
    args.before = args.before.resolve()
    if not (args.before / ".venv" / "bin" / "python").exists():
        parser.error(f"{args.before}/.venv/bin/python not found")
    if shutil.which("aria2c") is None:
        parser.error("aria2c is not installed (bench/run installs it with apt-get)")
    shutil.rmtree(args.work, ignore_errors=True)
    (args.work / "logs").mkdir(parents=True)
    runs: list[dict[str, Any]] = []
    account = ("--photos", str(args.photos), "--videos", str(args.videos),
               "--albums", str(args.albums), "--image-size", "fast")  # fmt: skip
    with Sandbox(*account, auth_file=args.work / "auth.json") as sb:
        truth = sb.account(hashes=False)
        items = len(truth["photos"])
        session = web_session(sb, args.work / "session.json")
        print(f"account: {items} items at {sb.url}", flush=True)
        warm = tools.aria2c(truth, session, args.work / "warm-up")  # the sandbox encodes once
        step("aria2c", "warm-up", sb, warm.cmd, log=args.work / "logs" / "warm-up.log",
             items=items)  # fmt: skip
        shutil.rmtree(args.work / "warm-up")
        runs += rounds(args, sb, args.work, "full backup", items, truth, session)
    if args.video_size:
        big = args.work / "bigvideo"
        big.mkdir()
        with Sandbox(*big_video_args(args.video_size), auth_file=big / "auth.json") as sb:
            truth = sb.account(hashes=False)
            session = web_session(sb, big / "session.json")
            runs += rounds(args, sb, args.work, "2 GB video", 2, truth, session)
    lines = summary(runs)
    args.out.write_text(json.dumps({"runs": runs, "summary": lines}, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
