#!/usr/bin/env python3
"""Benchmark: N accounts backed up at once under one API key, its hourly budget shared.

    .venv/bin/python bench/accounts.py --accounts 5 --limit 300 --photos 20

Starts a sandbox serving N accounts under one key that refuses (429) calls past ``--limit``
an hour per key, and a redis-server for the shared budget (``--budget file``: the per-key
file in a private state folder instead), then crawls every account at once with
``FLICKR_API_CALLS_PER_HOUR`` set to the limit. The limit is chosen below what the accounts
need together, so the hour's calls run out: once none has arrived for 5 s, the crawls are
stopped. Prints, from the sandbox's own counts, the calls the key got in that hour against
the limit (the calls/hour achieved), the calls it refused, how long the hour's calls took to
spend, and each account's share.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/: its incremental.py would shadow twisted's incremental

from flickr_crawl.sandbox.process import Sandbox  # noqa: E402
from tests.helpers import crawl_args  # noqa: E402
from tests.redis_server import start_redis  # noqa: E402


def run(accounts: int, limit: int, photos: int, budget: str, work: Path) -> dict:
    redis = start_redis(work) if budget == "redis" else None
    url = next(redis) if redis is not None else ""
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings",
               XDG_STATE_HOME=str(work / "state"))  # fmt: skip
    args = ("--accounts", str(accounts), "--api-limit", str(limit), "--photos", str(photos),
            "--videos", "0", "--albums", "3", "--image-size", "small",
            "--slow", "0.05")  # fmt: skip
    try:
        with Sandbox(*args, auth_file=work / "auth.json") as sandbox:
            shared = f"FLICKR_API_BUDGET_URL={url}" if url else "FLICKR_API_BUDGET_FILE="
            procs = {}
            started = time.monotonic()
            for n in range(1, accounts + 1):
                cmd = crawl_args(sandbox, work / f"archive-{n}", "-s",
                                 f"FLICKR_API_CALLS_PER_HOUR={limit}", "-s", shared,
                                 auth_file=sandbox.auth_file_of(n))  # fmt: skip
                procs[n] = subprocess.Popen(
                    [sys.executable, "-m", "scrapy", *cmd], cwd=ROOT, env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            last, quiet, spent_at = -1, time.monotonic(), None
            while any(p.poll() is None for p in procs.values()):
                total = sandbox.stats()["api_calls"]["total"]
                if total != last:
                    last, quiet = total, time.monotonic()
                    spent_at = time.monotonic() - started
                elif total >= limit and time.monotonic() - quiet > 5:
                    break  # the hour's calls are spent: the rest would wait for the next hour
                if time.monotonic() - started > 900:
                    break
                time.sleep(0.2)
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            codes = {n: p.wait(timeout=120) for n, p in procs.items()}
            stats = sandbox.stats()
        shares = {}
        for n in procs:
            summaries = list((work / f"archive-{n}" / "logs").glob("*.json"))
            shares[n] = json.loads(max(summaries).read_text())["api_calls"] if summaries else 0
    finally:
        if redis is not None:
            redis.close()
    accepted = stats["api_calls"]["total"] - stats["rate_limited"]
    return {
        "accounts": accounts,
        "budget": budget,
        "limit_per_hour": limit,
        "calls_in_the_hour": accepted,
        "achieved_share_of_limit": round(accepted / limit, 3),
        "refused_by_flickr": stats["rate_limited"],
        "seconds_to_spend_the_hour": round(spent_at or 0.0, 1),
        "calls_per_account": shares,
        "exit_codes": codes,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=5)
    p.add_argument("--limit", type=int, default=300, help="the key's calls an hour")
    p.add_argument("--photos", type=int, default=20, help="photos per account")
    p.add_argument("--budget", choices=("redis", "file"), default="redis")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-accounts-") as tmp:
        result = run(args.accounts, args.limit, args.photos, args.budget, Path(tmp))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
