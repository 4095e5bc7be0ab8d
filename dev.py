#!/usr/bin/env python3
"""The two commands a fresh machine needs, with nothing but Python and pip.

    python3 dev.py demo   # back the sandbox Flickr up into ./demo-archive (videos too), build
                          # its offline site, say where everything is (installs Chromium)
    python3 dev.py test   # install what the tests need (Chromium, exiftool, exiv2, exempi,
                          # Redis), run the whole suite on 3 workers (pytest-xdist; -n 0
                          # for one process)

Both create ``.venv`` beside this file and install the project into it first (once; again when
pyproject.toml changes). Only the standard library is used here, since nothing else is
installed yet when it runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
MARKER = VENV / ".installed-pyproject-sha256"
# System packages the tests use: a browser for Playwright, exiftool, exiv2 (the library
# digiKam, darktable and gThumb read with) and exempi to read metadata back, Redis for the API
# budget shared across machines (FLICKR_API_BUDGET_URL).
SYSTEM_TOOLS = {
    "chromium": "chromium",
    "exiftool": "libimage-exiftool-perl",
    "exiv2": "exiv2",
    "exempi": "exempi",  # Adobe's XMP Toolkit: reads XMP from GIFs, which exiv2 cannot
    "redis-server": "redis-server",
}
# The suite waits much on other processes (sandbox, crawls, Chromium): three pytest workers
# (pytest-xdist; on one two-core machine on 2026-12-06, 268 s against 322 s with two and 277 s
# with four), each test file on one of them so its module fixtures (a sandbox world, a crawl)
# run once. A later -n on the command line wins (-n 0: one process).
TEST_WORKERS = ("-n", "3", "--dist", "loadfile")


def ensure_venv() -> None:
    """Create .venv and install the project (with test extras) if pyproject.toml changed."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and MARKER.exists() and MARKER.read_text().strip() == wanted:
        return
    if not PYTHON.exists():
        print("dev.py: creating .venv", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print("dev.py: installing flickr-crawl and its dependencies into .venv", flush=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-e", f"{ROOT}[test]"],
        check=True,
    )  # fmt: skip
    MARKER.write_text(wanted + "\n")


def ensure_system_tools(tools: tuple[str, ...] = tuple(SYSTEM_TOOLS)) -> None:
    """Install Debian's packages of ``tools`` where missing (Playwright cannot fetch browsers)."""
    missing = [SYSTEM_TOOLS[tool] for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    apt = shutil.which("apt-get")
    sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if apt is None or sudo is None:
        print(f"dev.py: please install {' '.join(missing)}; what needs them will fail",
              file=sys.stderr)  # fmt: skip
        return
    print(f"dev.py: installing {' '.join(missing)} with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, apt, "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, apt, "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_venv()
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if argv[0] == "demo":
        ensure_system_tools(("chromium",))  # the demo signs in to the sandbox's web page
        cmd = [str(PYTHON), "-m", "flickr_crawl.demo", *argv[1:]]
    else:
        ensure_system_tools()
        cmd = [str(PYTHON), "-m", "pytest", *TEST_WORKERS, *argv[1:]]
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
