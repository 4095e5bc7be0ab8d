"""Side-by-side benchmark of flickr-crawl, its peers and aria2c on one sandbox account.

    bench/run            # 2000 photos + 40 videos; writes bench/RESULTS.md
    bench/run --big      # also 20 000 photos, ours only

One sandbox serves a generated account with a realistic mix (videos, albums, comments on ~15 %,
faves on ~20 %, geo, notes, people; ``--image-size fast``: realistic file sizes) with the API
limit off. Each tool makes a full backup (measured: API calls by method as the sandbox counted
them, wall time, bytes served, peak RSS) and then a no-change re-run; what it captured is judged
from its files (``judge.py``). aria2c fetches the same originals as the physical limit. A second
sandbox holds one 2 GB video for the memory test.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from photostream import crawl_step  # noqa: E402
from video_rss import sandbox_args as big_video_args  # noqa: E402

from flickr_crawl.sandbox.process import Sandbox  # noqa: E402
from flickr_crawl.settings import ITEM_PIPELINES  # noqa: E402
from peers import tools  # noqa: E402
from peers.judge import Capture, judge  # noqa: E402
from peers.measure import Step, step  # noqa: E402
from peers.report import (  # noqa: E402
    FROM_EXPORT,
    METADATA_ONLY,
    OURS_EXPORT,
    WITH_ARIA2C,
    WITH_METADATA,
    render,
    to_json,
)
from tests.helpers import web_session  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

OURS = "flickr-crawl"
GDL_FLOOR = "gallery-dl (0.5 s floor off)"
# Every pipeline of ours but the media one: API calls, sidecars and the catalog, no file.
NO_MEDIA = (
    "-s",
    "ITEM_PIPELINES="
    + json.dumps(
        {
            name: order
            for name, order in ITEM_PIPELINES.items()
            if not name.endswith(".MediaPipeline")
        }
    ),
)


class Bench:
    """Runs the steps and keeps their measurements and captures."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.steps: list[Step] = []
        self.captures: dict[str, Capture] = {}
        self.notes: list[str] = []

    def log(self, name: str) -> Path:
        return self.work / "logs" / f"{name.replace(' ', '_').replace('/', '_')}.log"

    def ours(self, sb: Any, out: Path, run: str, items: int, session: Path, *extra: str) -> Step:
        s = crawl_step(sb, out, run, "-s", f"FLICKR_WEB_SESSION_FILE={session}", *extra,
                       log=self.log(f"ours-{out.name}-{run}"), items=items)  # fmt: skip
        self.steps.append(s)
        print(f"  {s.tool} {run}: exit {s.returncode}, {s.api_calls} calls, {s.wall:.1f} s",
              flush=True)  # fmt: skip
        return s

    def peer(self, tool: str, run: str, sb: Any, inv: tools.Invocation, items: int) -> Step:
        s = step(tool, run, sb, inv.cmd, log=self.log(f"{tool}-{run}"), items=items,
                 cwd=inv.cwd, env=inv.env)  # fmt: skip
        self.steps.append(s)
        print(f"  {tool} {run}: exit {s.returncode}, {s.api_calls} calls, {s.wall:.1f} s",
              flush=True)  # fmt: skip
        return s

    def get(self, tool: str, run: str) -> Step | None:
        return next((s for s in self.steps if s.tool == tool and s.run == run), None)


def main_account(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """Full backups, captures and no-change re-runs of every tool on the main account."""
    work = bench.work
    account = ("--photos", str(args.photos), "--videos", str(args.videos),
               "--albums", str(args.albums), "--image-size", "fast")  # fmt: skip
    with Sandbox(*account, auth_file=work / "auth.json") as sb:
        truth = sb.account(hashes=False)
        items = len(truth["photos"])
        session = web_session(sb, work / "session.json")
        cfg = tools.peer_config(sb, truth, work, session)
        print(f"account: {items} items at {sb.url}", flush=True)
        # Unmeasured warm-up: the sandbox encodes each image size once ("fast" images), so the
        # first tool would otherwise pay for it.
        warm = tools.aria2c(truth, session, work / "warm-up")
        step("aria2c", "warm-up", sb, warm.cmd, log=bench.log("warm-up"), items=items)
        shutil.rmtree(work / "warm-up")

        out = work / "ours"
        bench.ours(sb, out, "full", items, session)
        bench.captures[OURS] = judge(out, truth)
        bench.ours(sb, out, "no-change", items, session)
        shutil.rmtree(out)
        from_export(bench, sb, truth, session, items)

        peers: list[tuple[str, Callable[..., tools.Invocation], dict[str, Any], bool]] = [
            ("flickrbackup", tools.flickrbackup, {}, True),
            ("flickr_download", tools.flickr_download, {}, True),
            ("gallery-dl", tools.gallery_dl, {"limit": args.gallery_dl_cap}, False),
            (GDL_FLOOR, tools.gallery_dl, {"no_floor": True}, True),
        ]
        for tool, build, kw, rerun in peers:
            out = work / tool.split()[0] / ("nofloor" if "floor" in tool else "shipped")
            out.parent.mkdir(parents=True, exist_ok=True)
            limit = kw.get("limit", 0)
            subset = dict(truth, photos=truth["photos"][:limit]) if limit else truth
            bench.peer(tool, "full", sb, build(cfg, out, first=True, **kw), limit or items)
            bench.captures[tool] = judge(out, subset)
            if rerun:
                bench.peer(tool, "no-change", sb, build(cfg, out, first=False, **kw), items)
            shutil.rmtree(out.parent)

        out = work / "aria2c"
        bench.peer("aria2c", "full", sb, tools.aria2c(truth, session, out), items)
        bench.captures["aria2c"] = judge(out, truth)
        shutil.rmtree(out)
        split_bound(bench, sb, truth, session, items)
    return truth


def from_export(bench: Bench, sb: Any, truth: dict[str, Any], session: Path, items: int) -> None:
    """Our full backup with ``-a export=DIR``: the sandbox writes the account's data export
    (Flickr's zips) as it stands, and the crawl asks the API only for what the export lacks."""
    exported = bench.work / "export"
    sb.export(exported)
    out = bench.work / "ours-export"
    bench.ours(sb, out, FROM_EXPORT, items, session, "-a", f"export={exported}")
    bench.captures[OURS_EXPORT] = judge(out, truth)
    shutil.rmtree(out)
    shutil.rmtree(exported)


def split_bound(bench: Bench, sb: Any, truth: dict[str, Any], session: Path, items: int) -> None:
    """The best wall time any split of our work across processes could reach: our metadata
    work (every API call, sidecar and catalog row; no media pipeline) alone, then beside aria2c
    fetching every original, both started together. Downloads cost no less than aria2c's, so
    a full backup cannot finish before the later of the two."""
    out = bench.work / "metadata-only"
    bench.ours(sb, out, METADATA_ONLY, items, session, *NO_MEDIA)
    shutil.rmtree(out)
    aria = threading.Thread(
        target=bench.peer,
        args=(
            "aria2c",
            WITH_METADATA,
            sb,
            tools.aria2c(truth, session, bench.work / "aria2c"),
            items,
        ),
    )
    aria.start()
    bench.ours(sb, out, WITH_ARIA2C, items, session, *NO_MEDIA)
    aria.join()
    shutil.rmtree(out)
    shutil.rmtree(bench.work / "aria2c")


def big_video(bench: Bench, size: int) -> None:
    """Peak RSS of every tool while it backs up an account holding one ``size``-byte video."""
    work = bench.work / "bigvideo"
    work.mkdir()
    with Sandbox(*big_video_args(size), auth_file=work / "auth.json") as sb:
        truth = sb.account(hashes=False)
        session = web_session(sb, work / "session.json")
        cfg = tools.peer_config(sb, truth, work, session)
        out = work / "ours"
        bench.ours(sb, out, "2 GB video", 2, session)
        bench.captures[f"{OURS} 2 GB video"] = judge(out, truth)
        shutil.rmtree(out)
        for tool, build in (("flickrbackup", tools.flickrbackup),
                            ("flickr_download", tools.flickr_download),
                            ("gallery-dl", tools.gallery_dl)):  # fmt: skip
            out = work / tool
            bench.peer(tool, "2 GB video", sb, build(cfg, out, first=True), 2)
            bench.captures[f"{tool} 2 GB video"] = judge(out, truth)
            shutil.rmtree(out)
        out = work / "aria2c"
        bench.peer("aria2c", "2 GB video", sb, tools.aria2c(truth, session, out), 2)
        shutil.rmtree(out)


def big_account(bench: Bench, photos: int) -> None:
    """Ours only on a ``photos``-photo account (small images: the cost of size, not bytes)."""
    work = bench.work / "big"
    work.mkdir()
    account = ("--photos", str(photos), "--videos", str(photos // 50),
               "--albums", str(max(30, photos // 100)), "--image-size", "small")  # fmt: skip
    with Sandbox(*account, auth_file=work / "auth.json", timeout=300) as sb:
        items = len(sb.account(hashes=False)["photos"])
        session = web_session(sb, work / "session.json")
        out = work / "ours"
        bench.ours(sb, out, f"full, {items} items", items, session)
        bench.ours(sb, out, f"no-change, {items} items", items, session)
        shutil.rmtree(out)


def machine() -> list[str]:
    """Lines describing this machine and the tool versions."""
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    mem = next((int(line.split()[1]) // 1024 for line in
                Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)  # fmt: skip
    v = tools.versions()
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        (
            f"- machine: {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, "
            f"{mem} MiB RAM (shared with other work while measuring)"
        ),
        (
            f"- Python {platform.python_version()}; Scrapy {v['scrapy']}; flickrbackup "
            f"{v['flickrbackup']}; flickr_download {v['flickr_download']}; gallery-dl "
            f"{v['gallery-dl']}; aria2c {v['aria2c']} (-j{tools.ARIA2_JOBS})"
        ),
    ]


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--albums", type=int, default=30)
    parser.add_argument("--video-size", type=int, default=2_000_000_000,
                        help="bytes of the one video in the memory test (0 = skip)")  # fmt: skip
    parser.add_argument("--gallery-dl-cap", type=int, default=60,
                        help="photos for shipped gallery-dl (0.5 s per API call)")  # fmt: skip
    parser.add_argument("--big", action="store_true", help="also 20 000 photos, ours only")
    parser.add_argument("--big-photos", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="only rewrite RESULTS.md from a saved results.json")  # fmt: skip
    args = parser.parse_args()
    if args.render:
        args.results.write_text(render(json.loads(args.render.read_text())))
        return 0
    if shutil.which("aria2c") is None:
        parser.error("aria2c is not installed (bench/run installs it with apt-get)")
    shutil.rmtree(args.work, ignore_errors=True)
    (args.work / "logs").mkdir(parents=True)
    for name in tools.PINS:
        tools.ensure_peer(name)
    bench = Bench(args.work)
    bench.notes += [
        (
            "Every tool ran once against the same account, one after another; an unmeasured aria2c "
            "pass came first so the sandbox had encoded every image size before any measurement."
        ),
        (
            "Launchers (`bench/peers/launch_*.py`) change only endpoints and credentials in the "
            "peer's own process. flickrbackup also gets its `--web-session` cookies for the "
            'sandbox host (its filter keeps only cookies whose domain contains "flickr") and its '
            "self-built `www.flickr.com/.../play/orig/` video URLs sent to the sandbox."
        ),
        (
            f"gallery-dl waits at least 0.5 s between API requests (`request_interval_min`, not "
            "configurable), so the shipped tool ran on the first "
            f"{args.gallery_dl_cap} photos only; "
            'its wall time for the whole account is at least calls x 0.5 s. The "0.5 s floor '
            'off" row is the same gallery-dl with that class attribute set to 0 by the launcher: '
            "its own speed, not what users get."
        ),
        (
            "flickrbackup exits 2 when any item fails; here that is the photos Flickr keeps no "
            "original for (it builds an `_o` URL that cannot exist and reports a 404)."
        ),
        (
            f'"{OURS_EXPORT}" is a full backup from the account\'s data export (the zips Flickr '
            "makes on request; here the sandbox writes them before the run): originals and "
            "metadata come from the zips, the API is asked for the listing, faves, galleries and "
            "collections. Its MB served counts only what the sandbox's CDN sent."
        ),
        (
            "Re-runs: flickrbackup's re-run asks only for photos updated since the date stamp it "
            "left (so it misses new comments and faves, which do not change its files anyway); "
            "flickr_download's uses its `--metadata_store` database; gallery-dl skips files it has "
            "but repeats every per-photo API call."
        ),
    ]
    truth = main_account(bench, args)
    if args.video_size:
        big_video(bench, args.video_size)
    if args.big:
        big_account(bench, args.big_photos)

    data = to_json(bench, truth, args.video_size, machine())
    args.results.with_name("results.json").write_text(json.dumps(data, indent=1))
    args.results.write_text(render(data))
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
