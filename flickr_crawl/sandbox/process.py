"""Start and stop the sandbox as a subprocess, for tests, benchmarks and the demo.

``Sandbox`` runs ``python -m flickr_crawl.sandbox --port 0 ...``, waits for its ready line and
offers small helpers over the ``/__sandbox/*`` hooks, so callers never hard-code ports.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from types import TracebackType

READY = "sandbox ready "
REPO_ROOT = Path(__file__).resolve().parents[2]


class SandboxError(RuntimeError):
    """The sandbox did not start."""


class Sandbox:
    """Context manager around a sandbox subprocess."""

    def __init__(
        self,
        *args: str,
        auth_file: str | os.PathLike[str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        media_host: str = "",
    ) -> None:
        """``auth_file``: where the sandbox writes its ready token file (``.auth_file``);
        ``media_host``: the host name its API answers give CDN files and pages (``--media-host``,
        e.g. ``localhost``: the same files after a CDN move)."""
        self.auth_file: Path | None = Path(auth_file) if auth_file else None
        self.args = [*args, "--auth-file", str(auth_file)] if auth_file else list(args)
        if media_host:
            self.args += ["--media-host", media_host]
        self.cwd = Path(cwd) if cwd else REPO_ROOT
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Self:
        """Launch the process and wait for the ready line."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        cmd = [sys.executable, "-m", "flickr_crawl.sandbox", "--port", "0", *self.args]
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + self.timeout
        line = ""
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                line = self.proc.stdout.readline()
                if line.startswith(READY):
                    self.url = line[len(READY) :].strip()
                    return self
                if not line and self.proc.poll() is not None:
                    break
            elif self.proc.poll() is not None:
                break
        stderr = ""
        if self.proc.poll() is not None and self.proc.stderr is not None:
            stderr = self.proc.stderr.read()
        self.stop()
        raise SandboxError(f"sandbox did not start (last line {line!r}): {stderr}")

    def stop(self) -> None:
        """Terminate, wait, kill on timeout."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers ------------------------------------------------------------------------------
    def get(self, path: str) -> bytes:
        """GET a path (or absolute URL) and return the body."""
        url = path if path.startswith("http") else self.url + path
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.read()

    def _post(self, path: str, payload: Any = None) -> Any:
        data = json.dumps(payload if payload is not None else {}).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")

    def stats(self) -> dict[str, Any]:
        """Request counters."""
        return json.loads(self.get("/__sandbox/stats"))

    def reset_stats(self) -> None:
        """Zero the counters."""
        self._post("/__sandbox/stats/reset")

    def account(self, *, hashes: bool = True, number: int = 1) -> dict[str, Any]:
        """The ground truth of the generated account (account ``number`` with ``--accounts``)."""
        query = f"?account={number}" + ("" if hashes else "&hashes=0")
        return json.loads(self.get("/__sandbox/account" + query))

    def auth_file_of(self, number: int) -> Path:
        """Account ``number``'s token file (``--accounts``): ``auth.json``, ``auth-2.json``..."""
        assert self.auth_file is not None
        if number == 1:
            return self.auth_file
        return self.auth_file.with_name(f"{self.auth_file.stem}-{number}{self.auth_file.suffix}")

    def mutate(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply mutation ops; returns the changed ids."""
        return self._post("/__sandbox/mutate", ops)

    def requests(self) -> list[dict[str, Any]]:
        """Recent requests (arrival time, kind, API method, status, fault, Retry-After)."""
        return json.loads(self.get("/__sandbox/requests"))

    def faults(self, **cfg: Any) -> dict[str, Any]:
        """Configure fault injection (rate, kinds, permanent_photo_ids)."""
        return self._post("/__sandbox/faults", cfg)

    def export(
        self,
        folder: str | os.PathLike[str],
        *,
        export_date: int = 0,
        split_bytes: int = 0,
        leave_out: list[str] | int = 0,
    ) -> dict[str, Any]:
        """Write the account's data export (Flickr's zips) into ``folder`` as the world stands
        now; ``export_date`` 0 = the generated data's end; ``leave_out``: ids whose originals
        the media zips lack, or how many. Returns what was written (``ExportSummary``)."""
        payload = {"dir": str(folder), "export_date": export_date, "split_bytes": split_bytes}
        payload["leave_out"] = leave_out
        return dict(self._post("/__sandbox/export", payload))

    def move_media(self, host: str) -> str:
        """From now on, name CDN files and pages on ``host`` (a CDN move; "" moves them back):
        the new base URL of media."""
        return str(self._post("/__sandbox/media-host", {"host": host})["media_base"])

    def expire_web_sessions(self) -> None:
        """Invalidate every issued web cookie."""
        self._post("/__sandbox/web/expire")
