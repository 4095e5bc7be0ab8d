"""Running our commands as a user does: ``python -m scrapy ...`` (forked by tests/launcher.py
where that gives the same outcome, else in a new interpreter)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.demo import sandbox_settings
from tests import launcher

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]
# Real recorded Flickr answers, beside the clone in ../shared (CI has them, a user's clone does
# not). They hold other people's words: read here at run time, never copied into the project.
REAL = ROOT.parent / "shared" / "flickr-real"
needs_recordings = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the real Flickr recordings are not at {REAL} (../shared)"
)


# Backoff pacing for crawls where backoff is not what is tested (settings.py: 1 s after a
# pushback, doubling up to 120 s, which also caps a 429's Retry-After): the same rules, faster.
QUICK_BACKOFF = ("-s", "FLICKR_BACKOFF_START=0.02", "-s", "FLICKR_BACKOFF_MAX=0.1")


def scrapy(*args: str, timeout: float = 600, input: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``scrapy ARGS`` from the project root; output captured as text."""
    full_env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings")
    full_env.update(env or {})
    if launcher.forked(full_env):
        return launcher.run(list(args), cwd=ROOT, env=full_env, timeout=timeout, input=input)
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, input=input,
        check=False,
    )  # fmt: skip


def runspider(script: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the test spider ``tests/scripts/SCRIPT`` with its archive (and lock) in ``tmp``."""
    path = ROOT / "tests" / "scripts" / script
    return scrapy("runspider", str(path), "-s", f"FLICKR_ARCHIVE_DIR={tmp / 'archive'}", *args)


def crawl_args(sandbox: Any, archive: Path, *extra: str, spider: str = "photostream",
               auth_file: Path | None = None) -> list[str]:  # fmt: skip
    """The arguments of ``scrapy crawl SPIDER`` against the sandbox into ``archive``, without
    the API pacing and without a web session (unless ``extra`` sets one)."""
    settings = sandbox_settings(sandbox.url, auth_file or sandbox.auth_file, archive)
    no_session = f"FLICKR_WEB_SESSION_FILE={archive.parent / 'no-web-session.json'}"
    return ["crawl", spider, *settings, "-s", "FLICKR_API_CALLS_PER_HOUR=0",
            "-s", "FLICKR_ACTIVITY_MIN_INTERVAL=0", "-s", no_session, *extra]  # fmt: skip


def crawl(sandbox: Any, archive: Path, *extra: str, spider: str = "photostream",
          auth_file: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``scrapy crawl`` as ``crawl_args`` says."""
    return scrapy(*crawl_args(sandbox, archive, *extra, spider=spider, auth_file=auth_file))


def signal_crawl_when(ready: Callable[[], bool], sandbox: Any, archive: Path, *extra: str,
                      sig: signal.Signals) -> int:  # fmt: skip
    """Start a crawl, send it ``sig`` once ``ready()`` says so, and return its exit code."""
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings")
    args = crawl_args(sandbox, archive, *extra)
    with tempfile.NamedTemporaryFile(prefix="signalled-crawl-", suffix=".stderr") as err:
        proc: launcher.Command | subprocess.Popen[bytes]
        if launcher.forked(env):
            proc = launcher.start(args, cwd=ROOT, env=env, stderr=err.name)
        else:
            proc = subprocess.Popen([sys.executable, "-m", "scrapy", *args], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(0.02)
        if proc.poll() is not None:
            tail = Path(err.name).read_text(encoding="utf-8", errors="replace")[-3000:]
            pytest.fail(f"the crawl ended (exit {proc.poll()}) before it could be sent "
                        f"{sig.name}; its stderr ends:\n{tail}")  # fmt: skip
        proc.send_signal(sig)
        return proc.wait(timeout=120)


def kill_crawl_when(ready: Callable[[], bool], sandbox: Any, archive: Path, *extra: str) -> None:
    """Start a crawl, and SIGKILL it (as a power cut would) once ``ready()`` says so."""
    signal_crawl_when(ready, sandbox, archive, *extra, sig=signal.SIGKILL)


def interrupt_crawl_when(ready: Callable[[], bool], sandbox: Any, archive: Path,
                         *extra: str) -> int:  # fmt: skip
    """Start a crawl, press Ctrl-C once (SIGINT: an orderly stop) when ``ready()`` says so, and
    return its exit code."""
    return signal_crawl_when(ready, sandbox, archive, *extra, sig=signal.SIGINT)


def run_log(archive: Path) -> str:
    """The newest run's log file in ``archive/logs`` (the INFO log the console leaves out)."""
    logs = sorted((archive / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime_ns)
    assert logs, f"no run log in {archive / 'logs'}"
    return logs[-1].read_text(encoding="utf-8")


def sidecars(archive: Path) -> dict[str, list[dict[str, Any]]]:
    """Every photo sidecar in the archive, by photo id (a photo in 2 albums has 2)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in archive.rglob("*.json"):
        if path.parent.name in ("logs", "Galleries", "Collections") or path.name == "album.json":
            continue
        if {"Deleted on Flickr", "site"} & set(path.relative_to(archive).parts[:1]):
            continue  # kept records, the built site's state
        record = json.loads(path.read_text(encoding="utf-8"))
        found.setdefault(record["id"], []).append(record)
    return found


def web_session(sandbox: Any, path: Path) -> Path:
    """Sign in to the sandbox's web pages like a browser and save the cookies as Playwright does."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    login = sandbox.account(hashes=False)["web_login"]
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"username": login["username"], "password": login["password"]})
    opener.open(login["signin_url"], data=form.encode(), timeout=10).read()
    cookies = [{"name": c.name, "value": c.value, "domain": c.domain, "path": c.path,
                "secure": c.secure, "httpOnly": True} for c in jar]  # fmt: skip
    assert cookies, "sign-in set no cookies"
    path.write_text(json.dumps({"cookies": cookies, "origins": []}))
    path.chmod(0o600)
    return path


def _old_comment_text(markup: str | None) -> str:
    """photos.comments as schema 1 and 2 made it: tags dropped, entities decoded, one line."""
    import html
    import re

    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", markup or "")).split())


def as_old_catalog(path: Path, version: int) -> None:
    """Rewrite ``path`` (a closed catalog.db) as flickr-crawl at schema ``version`` wrote it:
    the same rows in that version's tables, its triggers filling photos_fts from the columns
    it had (the description's HTML), and photos.comments made its way."""
    import sqlite3

    from flickr_crawl.catalog.db import close_catalog, open_catalog
    from flickr_crawl.catalog.schema import MIGRATIONS

    current = path.with_name(path.name + ".current")
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    path.rename(current)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    old = open_catalog(path, migrations=MIGRATIONS[:version])
    old.execute("PRAGMA foreign_keys = OFF")  # rows arrive table by table
    old.execute("ATTACH DATABASE ? AS current", (str(current),))
    tables = [r[0] for r in old.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'photos_fts%' AND name NOT LIKE 'sqlite_%'"
    )]  # fmt: skip
    with old:
        for table in tables:
            cols = ", ".join(f"[{r[1]}]" for r in old.execute(f"PRAGMA main.table_info([{table}])"))
            old.execute(f"INSERT INTO main.[{table}] ({cols}) SELECT {cols} FROM current.[{table}]")
        old.create_function("old_comment_text", 1, _old_comment_text)
        old.execute(
            "UPDATE photos SET comments = COALESCE((SELECT group_concat(t, char(10)) FROM "
            "(SELECT old_comment_text(html) AS t FROM comments c WHERE c.photo_id = photos.id "
            "ORDER BY date, id)), '')"
        )
    old.execute("DETACH DATABASE current")
    close_catalog(old)
    current.unlink()


def exiv2(path: Path) -> tuple[dict[str, list[str]], str]:
    """What libexiv2 (digiKam, darktable, gThumb) reads from ``path``: each key (Xmp.dc.title,
    Iptc.Application2.Keywords...) with its values as `exiv2 -pa` prints them, and its stderr
    (warnings such as "Unsupported date format")."""
    binary = shutil.which("exiv2")
    if binary is None:
        pytest.fail("exiv2 is required: apt-get install exiv2 (python3 dev.py test installs it)")
    # errors="replace": exiv2 prints an XPTitle it cannot convert from UCS-2 as raw bytes
    out = subprocess.run([binary, "-pa", str(path)], capture_output=True, check=False,
                         encoding="utf-8", errors="replace")  # fmt: skip
    tags: dict[str, list[str]] = {}
    for line in out.stdout.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[0].startswith(("Exif.", "Iptc.", "Xmp.")):
            tags.setdefault(parts[0], []).append(parts[3] if len(parts) > 3 else "")
    return tags, out.stderr
