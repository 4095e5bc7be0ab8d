"""The README's demo: start the sandbox Flickr, back its account up, say where the archive is.

Runs the real ``scrapy crawl photostream`` against the local sandbox (no network needed), with
the sandbox's ready-made token file, exactly as a user runs it against Flickr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from flickr_crawl.paths import LOGS_DIR
from flickr_crawl.report import saved_counts

ROOT = Path(__file__).resolve().parents[1]


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


def main(argv: list[str] | None = None) -> int:
    from flickr_crawl.sandbox.process import Sandbox

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archive", type=Path, default=ROOT / "demo-archive")
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--albums", type=int, default=8)
    parser.add_argument("--image-size", choices=("small", "realistic"), default="realistic")
    args = parser.parse_args(argv)
    archive = args.archive.resolve()
    with tempfile.TemporaryDirectory(prefix="flickr-crawl-demo-") as tmp:
        auth_file = Path(tmp) / "auth.json"
        sandbox_args = [
            "--photos", str(args.photos), "--videos", str(args.videos),
            "--albums", str(args.albums), "--image-size", args.image_size,
        ]  # fmt: skip
        with Sandbox(*sandbox_args, auth_file=auth_file) as sandbox:
            print(f"demo: sandbox Flickr running at {sandbox.url}", flush=True)
            cmd = [sys.executable, "-m", "scrapy", "crawl", "photostream",
                   *sandbox_settings(sandbox.url, auth_file, archive)]  # fmt: skip
            env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings")
            code = subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode
            calls = sandbox.stats()["api_calls"]["total"]
    summaries = sorted((archive / LOGS_DIR).glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    saved = saved_counts(json.loads(summaries[-1].read_text("utf-8"))) if summaries else ""
    print(f"demo: crawl exit code {code}; {calls} API calls; saved {saved or 'nothing'}")
    if code == 2:
        print("demo: exit code 2 means the backup finished but is not complete; here the "
              "sandbox's video originals need a signed-in web session, as on Flickr, so they "
              "are listed as missing instead of being faked")  # fmt: skip
    print(f"demo: archive at {archive}")
    return 0 if code in (0, 2) else code


if __name__ == "__main__":
    sys.exit(main())
