"""The tools under comparison: how each is installed, configured and started against a sandbox.

Peers come from PyPI, pinned, each into its own virtualenv under ``bench/.peers/``, and start
through a launcher in this folder that only re-points their endpoints (see each launcher's
docstring). Each is asked for the richest metadata it offers. aria2c (Debian) fetches the same
original URLs and stands for the physical limit: no API calls, no metadata, just parallel GETs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
PEER_ROOT = BENCH / ".peers"
PINS = {
    "flickrbackup": "flickrbackup==0.12.6",
    "flickr_download": "flickr_download==0.3.7",
    "gallery-dl": "gallery-dl==1.32.18",
}
ARIA2_JOBS = 16


def ensure_peer(name: str) -> Path:
    """The peer's virtualenv python, created and pip-installed (pinned) on first use."""
    home = PEER_ROOT / name
    python = home / "bin" / "python"
    marker = home / "installed.txt"
    if not (marker.exists() and marker.read_text() == PINS[name]):
        venv.EnvBuilder(with_pip=True, clear=True).create(home)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PINS[name]], check=True)
        marker.write_text(PINS[name])
    return python


def peer_config(sandbox: Any, truth: dict[str, Any], work: Path, session: Path | None) -> Path:
    """The launchers' shared config: sandbox URL, keys, the account's token, web cookies."""
    auth = json.loads(Path(sandbox.auth_file).read_text())
    cfg = {k: auth[k] for k in ("api_key", "api_secret", "oauth_token", "oauth_token_secret",
                                "user_nsid", "username", "fullname")}  # fmt: skip
    cfg.update(url=sandbox.url, path_alias=truth["owner"]["path_alias"],
               cookies=str(session) if session else None,
               token_dir=str(work / "flickr-tokens"))  # fmt: skip
    path = work / "peer-config.json"
    path.write_text(json.dumps(cfg))
    path.chmod(0o600)
    return path


@dataclass
class Invocation:
    """One command line with its working folder and environment."""

    cmd: list[str]
    cwd: Path | None = None
    env: dict[str, str] | None = None


def flickrbackup(cfg: Path, out: Path, *, first: bool) -> Invocation:
    """Own photos updated since --from (all of them), sets as folders, videos with cookies;
    a re-run starts from the date stamp it left."""
    since = ["--from", "1970-01-01"] if first else []
    cmd = [str(ensure_peer("flickrbackup")), str(HERE / "launch_flickrbackup.py"), str(cfg),
           *since, "--web-session", json.loads(cfg.read_text())["cookies"], str(out)]  # fmt: skip
    return Invocation(cmd)


def flickr_download(cfg: Path, out: Path, *, first: bool) -> Invocation:
    """The signed-in user's whole photostream (-p), info + EXIF as JSON (-j), files named by id,
    and its download database so a re-run skips what it has."""
    home = out.parent / f"{out.name}-home"
    home.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    user = json.loads(cfg.read_text())["username"]
    cmd = [str(ensure_peer("flickr_download")), str(HERE / "launch_flickr_download.py"),
           str(cfg), "-t", "-p", user, "-j", "-n", "id", "--metadata_store"]  # fmt: skip
    return Invocation(cmd, cwd=out, env=dict(os.environ, HOME=str(home)))


def gallery_dl(cfg: Path, out: Path, *, first: bool, limit: int = 0,
               no_floor: bool = False) -> Invocation:  # fmt: skip
    """The user's photostream with every metadata option on (extras, getInfo, getExif,
    getAllContexts), a JSON file per photo; ``limit`` photos only; ``no_floor`` removes its
    built-in 0.5 s minimum between API requests (a labelled variant, not the shipped tool)."""
    conf = json.loads(cfg.read_text())
    flickr = {"api-key": conf["api_key"], "api-secret": conf["api_secret"],
              "access-token": conf["oauth_token"],
              "access-token-secret": conf["oauth_token_secret"],
              "sleep-request": 0, "metadata": True, "info": True, "exif": True,
              "contexts": True, "videos": True}  # fmt: skip
    settings = {"extractor": {"base-directory": str(out), "flickr": flickr},
                "output": {"mode": "null"}}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    gconf = out.parent / f"{out.name}-gallery-dl.json"
    gconf.write_text(json.dumps(settings))
    gconf.chmod(0o600)
    launch_cfg = cfg
    if no_floor:
        launch_cfg = out.parent / f"{out.name}-launch.json"
        launch_cfg.write_text(json.dumps({**conf, "request_interval_min": 0}))
        launch_cfg.chmod(0o600)
    cmd = [str(ensure_peer("gallery-dl")), str(HERE / "launch_gallery_dl.py"), str(launch_cfg),
           "--config-ignore", "--config", str(gconf), "--write-metadata",
           *(["--range", f"1-{limit}"] if limit else []),
           f"https://www.flickr.com/photos/{conf['path_alias']}/"]  # fmt: skip
    return Invocation(cmd)


def aria2c(truth: dict[str, Any], session: Path, out: Path) -> Invocation:
    """aria2c fetching every original (photos from the CDN, videos via their play/orig URL
    with the signed-in cookies), ARIA2_JOBS at a time."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for p in truth["photos"]:
        if p["video"]:
            url, name = p["video"]["play_url"], f"{p['id']}.{p['video']['container']}"
        elif p["original"]:
            url, name = p["original"]["url"], f"{p['id']}.{p['original']['format']}"
        else:
            continue
        lines += [url, f"  out={name}"]
    urls = out.parent / f"{out.name}-urls.txt"
    urls.write_text("\n".join(lines) + "\n")
    jar = out.parent / f"{out.name}-cookies.txt"
    cookies = json.loads(session.read_text())["cookies"]
    jar.write_text("".join(f"{c['domain']}\tFALSE\t{c['path']}\tFALSE\t0\t{c['name']}\t"
                           f"{c['value']}\n" for c in cookies))  # fmt: skip
    jar.chmod(0o600)
    cmd = ["aria2c", "-i", str(urls), "-d", str(out), f"-j{ARIA2_JOBS}",
           "--max-connection-per-server=1", f"--load-cookies={jar}", "--file-allocation=none",
           "--console-log-level=warn", "--summary-interval=0", "--show-console-readout=false",
           "--allow-overwrite=true",
           "--auto-file-renaming=false"]  # fmt: skip
    return Invocation(cmd)


def versions() -> dict[str, str]:
    """Installed versions of every tool, for RESULTS.md."""
    out = {name: pin.split("==")[1] for name, pin in PINS.items()}
    aria = subprocess.run(["aria2c", "--version"], capture_output=True, text=True, check=False)
    out["aria2c"] = aria.stdout.split("\n", 1)[0].replace("aria2 version ", "")
    scrapy = subprocess.run([sys.executable, "-m", "scrapy", "version"], capture_output=True,
                            text=True, check=False)  # fmt: skip
    out["scrapy"] = scrapy.stdout.strip().replace("Scrapy ", "")
    return out
