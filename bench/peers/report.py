"""bench/RESULTS.md from a finished benchmark: one table per question the issue asks."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from peers.judge import FIELDS, Capture
from peers.measure import Step

OURS = "flickr-crawl"
PEERS = ("flickrbackup", "flickr_download", "gallery-dl", "gallery-dl (0.5 s floor off)")
VIDEO_KINDS = ("original", "stream", "poster", "nothing")
# Runs of the split bound (compare.split_bound).
METADATA_ONLY = "full, metadata only"
WITH_ARIA2C = "full, metadata only, beside aria2c"
WITH_METADATA = "full, beside flickr-crawl's metadata only"
# Our full backup that takes originals and metadata from the account's data export (issue 19).
FROM_EXPORT = "full, from the data export"
OURS_EXPORT = "flickr-crawl, from the export"


def _rss(step: Step) -> str:
    return "n/a" if step.peak_rss_mib is None else f"{step.peak_rss_mib:.0f}"


def _cpu(step: Step) -> tuple[str, str, str]:
    """The tool's CPU seconds, the sandbox's, and the cores both kept busy on average."""
    if step.cpu_s is None or step.sandbox_cpu_s is None or not step.wall:
        return "n/a", "n/a", "n/a"
    busy = (step.cpu_s + step.sandbox_cpu_s) / step.wall
    return f"{step.cpu_s:.1f}", f"{step.sandbox_cpu_s:.1f}", f"{busy:.2f}"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(head: tuple[str, ...], rows: list[tuple[object, ...]]) -> list[str]:
    return [_row(*head), _row(*("---" for _ in head)), *(_row(*r) for r in rows), ""]


def _split_bound(bench: Any, aria: Step | None) -> list[str]:
    """What bounds our throughput: the best any split of our work across processes reaches."""
    ours, alone = bench.get(OURS, "full"), bench.get(OURS, METADATA_ONLY)
    meta, beside = bench.get(OURS, WITH_ARIA2C), bench.get("aria2c", WITH_METADATA)
    if None in (ours, alone, meta, beside, aria) or not aria.wall:
        return []
    both = max(meta.wall, beside.wall)  # started together
    rows = [
        ("flickr-crawl, full backup", f"{ours.wall:.1f}", f"{100 * aria.wall / ours.wall:.0f}%",
         *_cpu(ours)[:2]),
        ("flickr-crawl, metadata only (no media pipeline)", f"{alone.wall:.1f}", "",
         *_cpu(alone)[:2]),
        ("aria2c alone", f"{aria.wall:.1f}", "100%", *_cpu(aria)[:2]),
        ("aria2c and flickr-crawl's metadata only, started together", f"{both:.1f}",
         f"{100 * aria.wall / both:.0f}%", "", ""),
    ]  # fmt: skip
    return ["## What bounds flickr-crawl's throughput", "",
            ("The last row is the best wall time any split of flickr-crawl's work across "
             "processes could reach on this machine: its metadata work (every API call, sidecar "
             "and catalog row; no media pipeline) beside downloads that cost no more than "
             "aria2c's, on the same two cores as the sandbox. \"of aria2c\" is aria2c's wall "
             "time over the row's."), "",
            *_table(("run", "wall s", "of aria2c", "CPU s", "sandbox CPU s"), rows)]  # fmt: skip


def to_json(
    bench: Any, truth: dict[str, Any], video_size: int, machine: list[str]
) -> dict[str, Any]:
    """Everything RESULTS.md is made from, as plain JSON (kept as bench/results.json)."""
    photos = truth["photos"]
    return {
        "machine": machine,
        "video_size": video_size,
        "account": {
            "items": len(photos),
            "videos": sum(p["media"] == "video" for p in photos),
            "albums": len(truth["albums"]),
            "with_comments": sum(bool(p["comments"]) for p in photos),
            "with_faves": sum(bool(p["faves"]) for p in photos),
            "with_geo": sum(bool(p["geo"]) for p in photos),
        },
        "steps": [asdict(s) for s in bench.steps],
        "captures": {
            k: {"counts": dict(c.counts), "videos": dict(c.videos)}
            for k, c in bench.captures.items()
        },
        "notes": bench.notes,
    }


class _Loaded:
    """The benchmark as read back from JSON, shaped like the live ``Bench``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.steps = [Step(**s) for s in data["steps"]]
        self.captures = {}
        for name, c in data["captures"].items():
            cap = Capture()
            cap.counts.update(c["counts"])
            cap.videos.update(c["videos"])
            self.captures[name] = cap
        self.notes = data["notes"]

    def get(self, tool: str, run: str) -> Step | None:
        return next((s for s in self.steps if s.tool == tool and s.run == run), None)


def render(data: dict[str, Any]) -> str:
    """The whole RESULTS.md."""
    bench = _Loaded(data)
    acc = data["account"]
    machine = data["machine"]
    video_size = data["video_size"]
    out = ["# Benchmark results", "",
           ("Produced by `bench/run` (one command: peer virtualenvs, aria2c, every run below). "
           "Everything runs against one local sandbox account, API limit off, on:"), "",
           *machine, "",
           (f"Account: {acc['items']} items ({acc['items'] - acc['videos']} photos, "
            f"{acc['videos']} videos), {acc['albums']} albums; comments on "
            f"{acc['with_comments']}, faves on {acc['with_faves']}, geotags on "
            f"{acc['with_geo']}; realistic file sizes (sandbox `--image-size fast`)."),
           ""]  # fmt: skip
    tools = [OURS, OURS_EXPORT, *PEERS]
    full = {t: bench.get(t, "full") for t in [*tools, "aria2c"]}
    full[OURS_EXPORT] = bench.get(OURS, FROM_EXPORT)

    out += ["## API calls per item, full backup, richest metadata", ""]
    rows = []
    for t in tools:
        s = full[t]
        if s is None:
            continue
        methods = ", ".join(f"{m.removeprefix('flickr.')} {n}" for m, n in
                            sorted(s.by_method.items(), key=lambda kv: -kv[1]))  # fmt: skip
        hours = s.calls_per_item * acc["items"] / 3600
        rows.append((t, s.items, s.api_calls, f"{s.calls_per_item:.2f}", f"{hours:.2f}",
                     s.returncode, methods))  # fmt: skip
    out += [("On Flickr itself the API, not the network, sets the pace: 3600 calls per hour per "
            "key. \"Hours at 3600/h\" is the shortest time a full backup of this account can take "
            "there (calls/item x items / 3600)."), ""]  # fmt: skip
    out += _table(("tool", "items", "API calls", "calls/item", "hours at 3600/h", "exit",
                   "calls by method"), rows)  # fmt: skip

    out += ["## Metadata captured (judged from the files each tool wrote)", "",
            ("Share of the ground-truth values found in each tool's files: per photo for title, "
            "description, date, geo, camera; per tag, comment, fave, note, person and album "
            "membership otherwise. Originals: photos saved at the original's full resolution."),
            ""]  # fmt: skip
    caps = [t for t in [*tools, "aria2c"] if t in bench.captures]
    rows = [(f, *(bench.captures[t].cell(f) for t in caps)) for f in ("original photo", *FIELDS)]
    out += _table(("field", *caps), rows)

    out += ["## Videos: what each tool saved", ""]
    rows = []
    for t in caps:
        v = bench.captures[t].videos
        total = sum(v.values())
        rows.append((t, *(f"{v.get(k, 0)}/{total}" for k in VIDEO_KINDS)))
    out += _table(("tool", *(f"{k}" for k in VIDEO_KINDS)), rows)

    aria = full["aria2c"]
    out += ["## Wall time and throughput, full backup (API limit off)", "",
            ("CPU s: user + system seconds of the tool, and of the sandbox while it served that "
             "tool; cores busy: both together per second of wall time. The tool and the sandbox "
             "share this machine's cores, so a tool that needs more CPU than they can give is "
             "bound by them whatever its concurrency."), ""]  # fmt: skip
    rows = []
    for t in [*tools, "aria2c"]:
        s = full[t]
        if s is None:
            continue
        share = f"{100 * s.mb_per_s / aria.mb_per_s:.0f}%" if aria and aria.mb_per_s else ""
        rows.append((t, s.items, f"{s.wall:.1f}", f"{s.bytes_served / 1e6:.0f}",
                     f"{s.mb_per_s:.1f}", share, *_cpu(s), _rss(s)))  # fmt: skip
    out += _table(("tool", "items", "wall s", "MB served", "MB/s", "of aria2c", "CPU s",
                   "sandbox CPU s", "cores busy", "peak RSS MiB"), rows)  # fmt: skip

    out += _split_bound(bench, aria)

    out += ["## No-change re-run", ""]
    rows = []
    for t in tools:
        s = bench.get(t, "no-change")
        if s is not None:
            rows.append((t, f"{s.wall:.1f}", s.api_calls, s.returncode,
                         ", ".join(f"{m.removeprefix('flickr.')} {n}"
                                   for m, n in sorted(s.by_method.items()))))  # fmt: skip
    out += _table(("tool", "wall s", "API calls", "exit", "calls by method"), rows)

    if any(s.run == "2 GB video" for s in bench.steps):
        out += [f"## Peak RSS while backing up one {video_size / 1e9:.0f} GB video", ""]
        rows = []
        for s in (s for s in bench.steps if s.run == "2 GB video"):
            cap = bench.captures.get(f"{s.tool} 2 GB video")
            got = "" if cap is None else next((k for k in VIDEO_KINDS if cap.videos.get(k)), "")
            rows.append((s.tool, _rss(s), got, f"{s.bytes_served / 1e9:.2f}",
                         f"{s.wall:.1f}", s.returncode))  # fmt: skip
        out += _table(("tool", "peak RSS MiB", "video saved", "GB served", "wall s", "exit"),
                      rows)  # fmt: skip

    big = [s for s in bench.steps if s.tool == OURS and "items" in s.run]
    if big:
        out += ["## How cost grows: flickr-crawl alone on a bigger account", "",
                ("Small images here (`--image-size small`): this measures API calls and per-item "
                "overhead, not bytes."), ""]  # fmt: skip
        rows = [(s.run, s.api_calls, f"{s.calls_per_item:.3f}", f"{s.wall:.1f}",
                 f"{1000 * s.wall / s.items:.1f}", _rss(s), s.returncode)
                for s in big]  # fmt: skip
        out += _table(("run", "API calls", "calls/item", "wall s", "ms/item", "peak RSS MiB",
                       "exit"), rows)  # fmt: skip
    out += ["## Notes", "", *(f"- {n}" for n in bench.notes), ""]
    return "\n".join(out)
