"""Command line entry point: ``python -m flickr_crawl.sandbox``.

Builds the world from the flags, optionally writes a ready OAuth token file for the demo
account (mode 0600) and the account's data export (``--export-dir``), starts the server on
127.0.0.1, prints exactly one ``sandbox ready http://127.0.0.1:PORT`` line and serves until
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from flickr_crawl.sandbox.export import DEFAULT_SPLIT, parse_export_date, write_export
from flickr_crawl.sandbox.server import Config, SandboxServer
from flickr_crawl.sandbox.world import GENERATED_NOW, World

if TYPE_CHECKING:
    from types import FrameType

logger = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The sandbox's command-line flags."""
    p = argparse.ArgumentParser(prog="python -m flickr_crawl.sandbox", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--photos", type=int, default=60)
    p.add_argument("--videos", type=int, default=4)
    p.add_argument("--albums", type=int, default=8)
    p.add_argument("--auth-file", help="write a ready token file for the demo account (0600)")
    p.add_argument("--accounts", type=int, default=1,
                   help="accounts under the one API key, each with its own token and "
                   "photos (token files: --auth-file, then -N before .json)")  # fmt: skip
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--api-limit", type=int, default=0, help="API calls per hour per key; 0 = off")
    p.add_argument(
        "--image-size",
        choices=("small", "realistic", "fast"),
        default="realistic",
        help="fast: realistic sizes, pixels encoded once per size (for benchmarks)",
    )
    p.add_argument("--video-size", type=int, default=3_000_000)
    p.add_argument("--big-video", type=int, default=0, help="add one video of this many bytes")
    p.add_argument("--video-url-ttl", type=int, default=180)
    p.add_argument("--slow", type=float, default=0.0, help="added latency per API call (s)")
    p.add_argument("--media-slow", type=float, default=0.0,
                   help="added latency per photo file request (s)")  # fmt: skip
    p.add_argument("--media-host", default="",
                   help="the host name API answers give CDN files and pages (another name for "
                   "127.0.0.1, such as localhost: a CDN move); default: the API's own")  # fmt: skip
    p.add_argument("--web-password", default="sandbox-password")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument("--export-dir", help="write the account's data export (Flickr's zips) here "
                   "before serving; mutations made later are not in it")  # fmt: skip
    p.add_argument("--export-date", default="",
                   help="the export's date: nothing after it is in it (YYYY-MM-DD, "
                   "YYYY-MM-DD HH:MM:SS UTC or unix seconds; default 2024-07-01)")  # fmt: skip
    p.add_argument("--export-split", type=int, default=DEFAULT_SPLIT,
                   help="bytes per data-download-N.zip media part")  # fmt: skip
    p.add_argument("--export-leave-out", default="0",
                   help="originals left out: a count or comma-separated ids")  # fmt: skip
    args = p.parse_args(argv)
    if not 0.0 <= args.fault_rate <= 1.0:
        p.error("--fault-rate must be between 0 and 1")
    if args.accounts < 1:
        p.error("--accounts must be 1 or more")
    try:
        args.export_date = parse_export_date(args.export_date) if args.export_date else 0
    except ValueError as exc:
        p.error(f"--export-date: {exc}")
    if args.export_split < 1:
        p.error("--export-split must be a positive number of bytes")
    leave = args.export_leave_out.strip()
    args.export_leave_out = int(leave) if leave.isdigit() else [x for x in leave.split(",") if x]
    return args


def write_auth_file(path: str, world: World) -> None:
    """Write the demo account's token file, created with mode 0600."""
    data = {
        "api_key": world.api_key,
        "api_secret": world.api_secret,
        "oauth_token": world.oauth_token,
        "oauth_token_secret": world.oauth_token_secret,
        "user_nsid": world.owner.nsid,
        "username": world.owner.username,
        "fullname": world.owner.realname,
        "perms": "read",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    Path(path).chmod(0o600)


def account_auth_file(path: str, n: int) -> str:
    """Account ``n``'s token file: ``auth.json`` -> ``auth-2.json`` (account 1: ``path``)."""
    p = Path(path)
    return str(p if n == 1 else p.with_name(f"{p.stem}-{n}{p.suffix}"))


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until signalled."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    world = World(
        seed=args.seed,
        photos=args.photos,
        videos=args.videos,
        albums=args.albums,
        video_size=args.video_size,
        big_video=args.big_video,
        web_password=args.web_password,
    )
    others = []
    for n in range(2, args.accounts + 1):
        other = World(
            seed=args.seed * 1000 + n,  # photos, albums and a token of its own
            photos=args.photos,
            videos=args.videos,
            albums=args.albums,
            video_size=args.video_size,
            web_password=args.web_password,
        )
        other.api_key, other.api_secret = world.api_key, world.api_secret  # one app, one key
        others.append(other)
    if args.auth_file:
        write_auth_file(args.auth_file, world)
        for n, other in enumerate(others, start=2):
            write_auth_file(account_auth_file(args.auth_file, n), other)
    config = Config(
        seed=args.seed,
        fault_rate=args.fault_rate,
        api_limit=args.api_limit,
        video_url_ttl=args.video_url_ttl,
        slow=args.slow,
        media_slow=args.media_slow,
        image_size=args.image_size,
        media_host=args.media_host,
    )
    server = SandboxServer(world, config, args.port, others=others)
    if args.export_dir:
        summary = write_export(
            world,
            server.media,
            args.export_dir,
            export_date=args.export_date or GENERATED_NOW,
            split_bytes=args.export_split,
            leave_out=args.export_leave_out,
        )
        print(f"sandbox export {json.dumps(summary.as_dict())}", file=sys.stderr, flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"sandbox ready {server.base}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
