"""Our commands run as ``python -m scrapy ARGS`` runs them, forked from a process that has
already imported Scrapy, Twisted, the project and their libraries.

Why: the suite runs a few hundred commands, and a new interpreter spends ~0.45 s of CPU on
the same imports before each does anything (``scrapy list``: 0.66 s as a new interpreter,
0.20 s forked). On two cores that CPU is the suite's time. The forked child runs the same
``scrapy.cmdline.execute`` with the same arguments, working folder, environment and file
descriptors 0-2, and exits as the interpreter would: non-daemon threads joined, atexit
handlers run, an uncaught exception printed with exit code 1, a signal's death reported as
``-signum``. ``FLICKR_TESTS_SUBPROCESS=1`` runs every command as a new interpreter instead,
and so does a call whose environment changes what only a new interpreter reads (``PYTHON*``,
the locale).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Read by an interpreter only as it starts: a call that changes one needs a new interpreter.
_STARTUP_VARS = ("PYTHON", "LC_", "LANG")


def _startup_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(_STARTUP_VARS)}


_context: Any = None
_server_env: dict[str, str] = {}


def _forkserver() -> Any:
    """The multiprocessing context whose fork server has imported what commands import
    (tests/preload.py); started on first use, once per pytest worker."""
    global _context, _server_env
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["tests.preload"])
        _server_env = _startup_env(dict(os.environ))
    return _context


def forked(env: dict[str, str]) -> bool:
    """Can a command with environment ``env`` be forked (rather than run as a new
    interpreter) with the same outcome?"""
    if os.environ.get("FLICKR_TESTS_SUBPROCESS") == "1":
        return False
    _forkserver()
    return _startup_env(env) == _server_env


def _exit_code(code: object) -> int:
    """What the interpreter exits with for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _main(argv: list[str], cwd: str, env: dict[str, str], fds: tuple[str, str, str]) -> None:
    """In the forked child: become ``python -m scrapy ARGV`` and exit as it would."""
    if "twisted.internet.reactor" in sys.modules:  # a preloaded module installed one
        os.write(2, b"tests.preload installed a Twisted reactor: commands cannot choose theirs\n")
        os._exit(70)
    for fd, path in enumerate(fds):
        target = os.open(path, os.O_RDONLY if fd == 0 else os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.dup2(target, fd)
        os.close(target)
    sys.stdin = open(0, closefd=False, encoding="utf-8")  # noqa: SIM115 (fd 0 lives on)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = argv
    code = 0
    try:
        from scrapy.cmdline import execute

        execute(argv)
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:  # noqa: BLE001 (the interpreter prints any uncaught one)
        sys.excepthook(*sys.exc_info())
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter's exit does
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


@dataclass
class Command:
    """A started command, as much of ``subprocess.Popen`` as the tests use."""

    process: Any
    args: list[str]

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def poll(self) -> int | None:
        return None if self.process.is_alive() else self.wait(0)

    def send_signal(self, sig: int) -> None:
        if self.process.is_alive():
            os.kill(self.pid, sig)

    def wait(self, timeout: float | None = None) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return int(self.process.exitcode)


def start(args: list[str], *, cwd: Path, env: dict[str, str], stdin: str = os.devnull,
          stdout: str = os.devnull, stderr: str = os.devnull) -> Command:  # fmt: skip
    """Fork ``scrapy ARGS`` (see ``forked``: only where the outcome is the same), its
    descriptors 0-2 opened on the given paths."""
    argv = ["scrapy", *args]
    process = _forkserver().Process(
        target=_main, args=(argv, str(cwd), env, (stdin, stdout, stderr))
    )
    process.start()
    return Command(process, [sys.executable, "-m", "scrapy", *args])


def run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
        input: str | None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``subprocess.run([python, -m, scrapy, *ARGS], capture_output=True, text=True)``, forked."""
    with tempfile.TemporaryDirectory(prefix="scrapy-run-") as tmp:
        paths = [Path(tmp, name) for name in ("stdin", "stdout", "stderr")]
        for path in paths:
            path.write_text(input or "" if path == paths[0] else "", encoding="utf-8")
        stdin, stdout, stderr = (str(p) for p in paths)
        command = start(args, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr)
        try:
            code = command.wait(timeout)
        except subprocess.TimeoutExpired:
            command.process.kill()
            command.process.join()
            raise
        out, err = (p.read_text(encoding="utf-8") for p in paths[1:])
    return subprocess.CompletedProcess(command.args, code, out, err)
