"""The benchmark's own measurements: the CPU time it reports for a step is the CPU the step used."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from peers.measure import Step, process_cpu_s, run_measured
from peers.report import METADATA_ONLY, WITH_ARIA2C, WITH_METADATA, _cpu, render

# Spins until it has used ``sys.argv[1]`` seconds of CPU.
BURN = "import sys, time\nend = float(sys.argv[1])\nwhile time.process_time() < end: pass"


def test_a_step_that_computes_reports_its_cpu_and_one_that_sleeps_does_not(tmp_path: Path):
    code, wall, _, cpu = run_measured([sys.executable, "-c", BURN, "0.6"], log=tmp_path / "b")
    assert code == 0
    assert 0.6 <= cpu <= wall + 0.05

    sleep = "import time; time.sleep(0.6)"
    code, wall, _, cpu = run_measured([sys.executable, "-c", sleep], log=tmp_path / "s")
    assert code == 0
    assert wall >= 0.6
    assert cpu < 0.4  # the interpreter's start-up only


def test_another_process_cpu_is_read_while_it_runs_and_none_once_it_is_gone():
    proc = subprocess.Popen([sys.executable, "-c", BURN + "\ntime.sleep(30)", "0.5"])
    try:
        deadline = time.monotonic() + 20
        used = process_cpu_s(proc.pid)
        while used is not None and used < 0.45 and time.monotonic() < deadline:
            time.sleep(0.05)
            used = process_cpu_s(proc.pid)
        assert used is not None
        assert 0.45 <= used < 1.5  # /proc counts whole clock ticks
    finally:
        proc.kill()
        proc.wait()
    assert process_cpu_s(proc.pid) is None


@pytest.mark.parametrize(
    ("cpu", "sandbox", "cells"),
    [(3.0, 5.0, ("3.0", "5.0", "2.00")), (None, 5.0, ("n/a", "n/a", "n/a"))],
)
def test_the_results_table_shows_cores_busy_from_both_cpu_times(cpu, sandbox, cells):
    step = Step("aria2c", "full", 0, 4.0, 36.0, cpu_s=cpu, sandbox_cpu_s=sandbox)
    assert _cpu(step) == cells


def _results(*steps: Step) -> dict:
    account = {"items": 2040, "videos": 40, "albums": 30, "with_comments": 0, "with_faves": 0,
               "with_geo": 0}  # fmt: skip
    return {"machine": [], "video_size": 0, "account": account, "captures": {}, "notes": [],
            "steps": [dataclasses.asdict(s) for s in steps]}  # fmt: skip


def test_the_split_bound_is_aria2c_beside_our_metadata_work_until_both_are_done():
    steps = (
        Step("flickr-crawl", "full", 0, 52.0, 200, cpu_s=54.0, sandbox_cpu_s=25.0),
        Step("aria2c", "full", 0, 26.0, 54, cpu_s=18.0, sandbox_cpu_s=22.0),
        Step("flickr-crawl", METADATA_ONLY, 0, 25.0, 150, cpu_s=25.0, sandbox_cpu_s=4.0),
        Step("flickr-crawl", WITH_ARIA2C, 0, 37.5, 150),
        Step("aria2c", WITH_METADATA, 0, 39.0, 54),
    )
    text = render(_results(*steps))
    assert "| aria2c and flickr-crawl's metadata only, started together | 39.0 | 67% |" in text
    assert "| flickr-crawl, full backup | 52.0 | 50% | 54.0 | 25.0 |" in text
    # A results.json from before this section: rendered without it.
    assert "What bounds" not in render(_results(*steps[:2]))


BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_bench_run_starts_its_harness_and_every_bench_script_starts():
    # bench/ is on sys.path for these scripts, so a module there named like one Scrapy's
    # dependencies import (Twisted's ``incremental``, say) breaks them at import time.
    for script in (BENCH / "peers" / "compare.py", *sorted(BENCH.glob("*.py"))):
        done = subprocess.run([sys.executable, str(script), "--help"], check=False,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, f"{script.name}: {done.stderr.strip().splitlines()[-1:]}"
        assert "usage:" in done.stdout


def test_no_bench_module_is_named_like_a_module_python_could_import_instead():
    import pkgutil

    taken = set(sys.stdlib_module_names) | {
        m.name
        for m in pkgutil.iter_modules()
        if not getattr(m.module_finder, "path", "").startswith(str(BENCH))
    }
    ours = {p.stem for p in BENCH.glob("*.py")} | {p.name for p in BENCH.iterdir() if p.is_dir()}
    assert not ours & taken
