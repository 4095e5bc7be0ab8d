"""Run one command as a benchmark step: wall time, the process tree's peak RSS, its exit code,
the CPU time it and the sandbox used, and what the sandbox counted (API calls by method, bytes
served) while it ran.

CPU time says what wall time alone hides on a small machine: the tool and the sandbox share
its cores, so a tool that needs more CPU per file than the cores can give is bound by them,
whatever its concurrency. The tool's is what ``wait4`` reports for it and the children it
waited for; the sandbox's is the change in its ``/proc`` counters over the step.

Peak RSS is the child's own ``VmHWM`` (/proc), read every 50 ms while it runs: getrusage and
wait4 report a ``ru_maxrss`` that Linux carries over from the forking parent across exec, so
they would show the harness's own size for any tool smaller than it.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Step:
    """The measurements of one run of one tool."""

    tool: str
    run: str
    returncode: int
    wall: float
    peak_rss_mib: float | None  # None: not measured
    api_calls: int = 0
    cpu_s: float | None = None  # user + system seconds of the tool (None: not measured)
    sandbox_cpu_s: float | None = None  # the sandbox's, over the same step
    by_method: dict[str, int] = field(default_factory=dict)
    bytes_served: int = 0
    items: int = 0
    note: str = ""

    @property
    def mb_per_s(self) -> float:
        """Bytes the sandbox served during the step, per second of wall time."""
        return self.bytes_served / 1e6 / self.wall if self.wall else 0.0

    @property
    def calls_per_item(self) -> float:
        """API calls per photo or video of the account."""
        return self.api_calls / self.items if self.items else 0.0


def run_measured(
    cmd: list[str], *, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None,
    timeout: float = 3600,
) -> tuple[int, float, float, float]:  # fmt: skip
    """(exit code, wall seconds, peak RSS MiB, CPU seconds) of ``cmd``; output goes to ``log``."""
    with log.open("w") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = start + timeout
        peak_kib = 0
        status_file = Path(f"/proc/{proc.pid}/status")
        while True:
            peak_kib = max(peak_kib, _hwm_kib(status_file))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
            time.sleep(0.05)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, peak_kib / 1024, usage.ru_utime + usage.ru_stime


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a running process has used so far; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Fields 14 and 15 of proc(5) (utime, stime), counted after the ")" that ends the name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_kib(status_file: Path) -> int:
    """The process's peak resident set so far (VmHWM, KiB); 0 once it is gone."""
    try:
        for line in status_file.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def step(tool: str, run: str, sandbox: Any, cmd: list[str], *, log: Path, items: int,
         cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = 3600) -> Step:  # fmt: skip
    """Reset the sandbox counters, run ``cmd`` measured, and read the counters back."""
    sandbox.reset_stats()
    before = process_cpu_s(sandbox.proc.pid)
    code, wall, rss, cpu = run_measured(cmd, log=log, cwd=cwd, env=env, timeout=timeout)
    after = process_cpu_s(sandbox.proc.pid)
    stats = sandbox.stats()
    return Step(
        tool, run, code, wall, rss,
        api_calls=stats["api_calls"]["total"],
        cpu_s=cpu,
        sandbox_cpu_s=None if before is None or after is None else after - before,
        by_method=dict(stats["api_calls"]["by_method"]),
        bytes_served=stats["bytes_served"],
        items=items,
    )  # fmt: skip
