"""Running our commands as a user does: ``python -m scrapy ...`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flickr_crawl.demo import sandbox_settings

ROOT = Path(__file__).resolve().parents[1]


def scrapy(*args: str, timeout: float = 600, input: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``scrapy ARGS`` from the project root; output captured as text."""
    full_env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, input=input,
        check=False,
    )  # fmt: skip


def crawl(sandbox: Any, archive: Path, *extra: str, spider: str = "photostream",
          auth_file: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``scrapy crawl SPIDER`` against the sandbox into ``archive``, without the API pacing."""
    settings = sandbox_settings(sandbox.url, auth_file or sandbox.auth_file, archive)
    return scrapy("crawl", spider, *settings, "-s", "FLICKR_API_CALLS_PER_HOUR=0", *extra)


def sidecars(archive: Path) -> dict[str, list[dict[str, Any]]]:
    """Every photo sidecar in the archive, by photo id (a photo in 2 albums has 2)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in archive.rglob("*.json"):
        if path.parent.name == "logs" or path.name == "album.json":
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        found.setdefault(record["id"], []).append(record)
    return found
