"""The README's demo: the whole product against the sandbox Flickr, with no account or network.

Starts the local sandbox, signs in to its web page in headless Chromium with the real
``scrapy weblogin`` (so video originals can be saved, as on Flickr), backs the account up with
the real ``scrapy crawl photostream``, builds the offline site with ``scrapy site`` and says
where the archive, the site and the catalog are. The sandbox gets a fresh random web password
each run (never printed; ``weblogin`` reads it from ``FLICKR_WEB_PASSWORD``), and the session
and token files live in a temporary folder removed at the end. The sandbox's port is kept in
the archive and asked for again next time, so a second run sees the same Flickr; its result
comes from the archive (catalog.db and the run's ``logs/*.json``), not from console text.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flickr_crawl.archive.paths import CATALOG_NAME
from flickr_crawl.archive.storage import write_json_atomic
from flickr_crawl.catalog.db import open_read_only
from flickr_crawl.catalog.views import file_counts
from flickr_crawl.extensions.report import plural
from flickr_crawl.sandbox.process import Sandbox, SandboxError

ROOT = Path(__file__).resolve().parents[1]
STATE_FILE = ".demo-sandbox.json"  # in the archive: the port the last demo's sandbox had


def sandbox_settings(url: str, auth_file: Path, archive: Path) -> list[str]:
    """``-s`` options pointing a crawl at a sandbox."""
    base = url.rstrip("/")
    settings = {
        "FLICKR_API_URL": f"{base}/services/rest/",
        "FLICKR_OAUTH_URL": f"{base}/services/oauth/",
        "FLICKR_WEB_URL": f"{base}/",
        "FLICKR_AUTH_FILE": str(auth_file),
        "FLICKR_ARCHIVE_DIR": str(archive),
    }
    return [arg for key, value in settings.items() for arg in ("-s", f"{key}={value}")]


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def scrapy(*args: str, env: dict[str, str] | None = None, quiet: bool = False) -> Any:
    """Run ``scrapy ARGS`` from the project folder, its output going to ours unless ``quiet``
    (then captured)."""
    full_env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings", **(env or {}))
    cmd = [sys.executable, "-m", "scrapy", *args]
    return subprocess.run(cmd, cwd=ROOT, env=full_env, check=False, capture_output=quiet,
                          text=True)  # fmt: skip


def previous_port(archive: Path) -> int:
    """The port the last demo's sandbox listened on, or 0 (any free port)."""
    try:
        port = json.loads((archive / STATE_FILE).read_text(encoding="utf-8"))["port"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    return port if isinstance(port, int) and 1024 <= port <= 65535 else 0


def start_sandbox(sandbox_args: list[str], auth_file: Path, port: int) -> Sandbox:
    """The sandbox on ``port`` if it is free, else on any free port."""
    if port:
        try:
            return Sandbox(*sandbox_args, "--port", str(port), auth_file=auth_file).start()
        except SandboxError:
            pass  # taken by something else now: the archive does not depend on the port
    return Sandbox(*sandbox_args, auth_file=auth_file).start()


def run_summary(archive: Path, since: float) -> dict[str, Any]:
    """The run report (``logs/*.json``) the crawl wrote after ``since``; {} if none."""
    logs = [p for p in (archive / "logs").glob("*.json") if p.stat().st_mtime >= since]
    for path in sorted(logs, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "files_downloaded" in data:
            return data
    return {}


def archive_counts(catalog: Path) -> dict[str, int]:
    """Files the catalog holds, by media and status (``photo downloaded``, ``video missing``)."""
    try:
        db = open_read_only(catalog)
        try:
            return file_counts(db)
        finally:
            db.close()
    except sqlite3.Error:
        return {}


def scrapy_command() -> str:
    """How a person here runs ``scrapy``: the venv's script when the demo runs from one."""
    script = Path(sys.executable).parent / "scrapy"
    if not script.exists():
        return "scrapy"
    try:
        return str(script.relative_to(ROOT))
    except ValueError:
        return str(script)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archive", type=Path, default=ROOT / "demo-archive")
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--albums", type=int, default=8)
    parser.add_argument("--image-size", choices=("small", "realistic"), default="realistic")
    parser.add_argument("--video-size", type=int, default=3_000_000, help="bytes per video")
    parser.add_argument("--web-password", help=argparse.SUPPRESS)  # tests: a known secret
    args = parser.parse_args(argv)
    archive = args.archive.expanduser().resolve()
    password = args.web_password or secrets.token_urlsafe(18)
    sandbox_args = [
        "--photos", str(args.photos), "--videos", str(args.videos),
        "--albums", str(args.albums), "--image-size", args.image_size,
        "--video-size", str(args.video_size), "--web-password", password,
    ]  # fmt: skip
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="flickr-crawl-demo-") as tmp:
        auth_file, session = Path(tmp) / "auth.json", Path(tmp) / "web-session.json"
        try:
            sandbox = start_sandbox(sandbox_args, auth_file, previous_port(archive))
        except SandboxError as exc:
            print(f"demo: error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 1
        try:
            say(f"sandbox Flickr running at {sandbox.url}")
            archive.mkdir(parents=True, exist_ok=True)
            port = int(sandbox.url.rsplit(":", 1)[1].strip("/"))
            write_json_atomic(archive / STATE_FILE, {"port": port})
            settings = [*sandbox_settings(sandbox.url, auth_file, archive),
                        "-s", f"FLICKR_WEB_SESSION_FILE={session}"]  # fmt: skip
            username = sandbox.account(hashes=False)["web_login"]["username"]
            say(f"signing in to the sandbox's web page as {username} (headless Chromium)")
            login = scrapy("weblogin", "--username", username, "--timeout", "60", *settings,
                           env={"FLICKR_WEB_PASSWORD": password}, quiet=True)  # fmt: skip
            if login.returncode == 0:
                say("signed in; the web session lives only as long as this demo")
            else:
                for line in (login.stderr.strip() or "(no message)").splitlines()[-3:]:
                    print(f"demo: weblogin: {line}", file=sys.stderr, flush=True)
            say("backing up the account: scrapy crawl photostream")
            crawl_started = time.time()
            code = scrapy("crawl", "photostream", *settings).returncode
            calls = sandbox.stats()["api_calls"]["total"]
        finally:
            sandbox.stop()
    summary = run_summary(archive, crawl_started - 1)
    catalog = archive / CATALOG_NAME
    counts = archive_counts(catalog)
    saved = {m: counts.get(f"{m} downloaded", 0) for m in ("photo", "video")}
    missing = sum(n for key, n in counts.items() if not key.endswith(" downloaded"))
    say(
        f"crawl exit code {code}; {calls} API calls; this run downloaded "
        f"{summary.get('files_downloaded', '?')} files "
        f"({summary.get('bytes_downloaded', 0) / 1e6:.1f} MB)"
    )
    say(f"the archive holds {plural(saved['photo'], 'photo')} and "
        f"{plural(saved['video'], 'video')}"
        + (f"; {missing} not saved" if missing else ""))  # fmt: skip
    say("building the offline site: scrapy site")
    site_code = scrapy("site", "--archive", str(archive)).returncode
    index = archive / "site" / "index.html"
    say(f"done in {time.time() - started:.0f} s")
    say(f"archive: {archive}")
    say(f"site:    {index}  (open it in a browser; it works offline)")
    say(f"catalog: {catalog}  (SQLite)")
    if login.returncode != 0:
        say("the sign-in failed (see above), so the videos were not saved; `python3 dev.py "
            "demo` installs Chromium where it can")  # fmt: skip
    scrapy_cmd = scrapy_command()
    real = "$HOME/flickr-archive"  # not ~: no shell expands it after `=` in an argument
    steps = (
        (f"{scrapy_cmd} auth", "once: your API key, then allow read access"),
        (f"{scrapy_cmd} weblogin", "once: sign in in a browser, for video originals"),
        (f"{scrapy_cmd} crawl photostream -s FLICKR_ARCHIVE_DIR={real}", ""),
        (f"{scrapy_cmd} site -s FLICKR_ARCHIVE_DIR={real}", ""),
    )
    width = max(len(line) for line, why in steps if why)
    say(f"to back up your own Flickr account, from {ROOT}:")
    for line, why in steps:
        print(f"  {line:<{width}}  # {why}" if why else f"  {line}", flush=True)
    if code != 0:
        return code
    return 1 if login.returncode != 0 or site_code != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
