"""The benchmark's own measurements: the CPU time it reports for a step is the CPU the step used."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from peers.measure import Step, process_cpu_s, run_measured
from peers.report import _cpu

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
