"""Exits and errors a cron job can act on: one line on stderr and the documented exit code.

Flickr unreachable (refused, no DNS, silent), an archive that cannot be written, bad or
misspelt settings, ``scrapy auth`` offline, ``findmissing`` as CSV with exit 2, and every
command run from outside the clone. Each is run as a user runs it, against the sandbox or a
local socket that misbehaves on purpose; ``.invalid`` names never resolve, so nothing leaves
the machine.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.settings import Settings

from flickr_crawl.commands.checksettings import RULES, BadSetting, Rule, _kind_of, check_settings
from flickr_crawl.commands.checksettings import known_settings as flickr_settings
from flickr_crawl.demo import sandbox_settings
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT, crawl, crawl_args, scrapy, sidecars

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A sandbox whose titles include every awkward one (tabs, quotes), and one backup of it."""
    tmp = tmp_path_factory.mktemp("exits")
    args = ("--photos", "24", "--videos", "0", "--albums", "2", "--image-size", "small",
            "--seed", "5")  # fmt: skip
    with Sandbox(*args, auth_file=tmp / "auth.json") as sandbox:
        archive = tmp / "archive"
        first = crawl(sandbox, archive)
        assert first.returncode == 0, first.stderr[-2000:]
        sandbox.tmp = tmp
        sandbox.archive = archive
        yield sandbox


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (catalog and logs included): path -> sha256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


# --- Flickr unreachable ------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def fake_flickr(mode: str) -> Iterator[str]:
    """A misbehaving API host; its API URL. ``silent``: accepts and never answers. ``gone``:
    answers the first request (the reachability check), then stops listening, so every
    API call is refused. ``root-only``: answers its root page, never an API call."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed
            data = b""
            while mode != "silent" and b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                data += chunk
            if mode == "silent" or not data.startswith((b"HEAD / ", b"GET / ")):
                held.append(conn)
                continue
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            if mode == "gone":
                server.close()  # from now on: connection refused
                return

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/services/rest/"
    finally:
        server.close()
        for conn in held:
            conn.close()


def crawl_against(world: Any, api_url: str, archive: Path, *extra: str) -> Any:
    """A crawl with the hourly budget on (its file in tmp) and the API at ``api_url``."""
    return scrapy(*crawl_args(world, archive), "-s", f"FLICKR_API_URL={api_url}",
                  "-s", "FLICKR_API_CALLS_PER_HOUR=3600",
                  "-s", f"FLICKR_API_BUDGET_FILE={archive.parent / 'budget.json'}",
                  *extra)  # fmt: skip


@pytest.mark.parametrize("how", ["refused", "dns", "silent"])
def test_unreachable_flickr_is_one_line_and_creates_nothing(world, tmp_path, how):
    archive = tmp_path / "new-archive"
    with contextlib.ExitStack() as stack:
        if how == "refused":
            url = f"http://127.0.0.1:{free_port()}/services/rest/"
        elif how == "dns":
            url = "http://nonexistent.invalid/services/rest/"
        else:
            url = stack.enter_context(fake_flickr("silent"))
        result = crawl_against(world, url, archive, "-s", "DOWNLOAD_TIMEOUT=2")
    assert result.returncode == 1, result.stderr[-2000:]
    assert len(lines(result.stderr)) == 1, result.stderr[-2000:]
    line = result.stderr.strip()
    assert line.startswith(f"error: cannot reach Flickr at {url.removesuffix('services/rest/')}")
    assert {"refused": "connection refused", "dns": "does not resolve",
            "silent": "no answer within 2 s"}[how] in line  # fmt: skip
    assert not archive.exists()
    assert not (tmp_path / "budget.json").exists()  # not one call charged


def test_unreachable_flickr_leaves_an_existing_archive_alone(world):
    before = snapshot(world.archive)
    result = crawl_against(world, f"http://127.0.0.1:{free_port()}/", world.archive)
    assert result.returncode == 1
    assert lines(result.stderr)[0].startswith("error: cannot reach Flickr")
    assert snapshot(world.archive) == before


def test_flickr_gone_after_the_first_request_is_exit_1_and_charges_nothing(world, tmp_path):
    """The host answered the reachability check, then refuses every API call: the run ends
    as "cannot reach Flickr" (not "4 items failed"), and the refused calls, retries
    included, are not charged to the hourly budget."""
    with fake_flickr("gone") as url:
        result = crawl_against(world, url, tmp_path / "archive")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = lines(result.stderr)[-1]
    assert last.startswith("error: cannot reach Flickr at http://127.0.0.1:")
    assert "connection refused" in last
    budget = json.loads((tmp_path / "budget.json").read_text())
    assert budget["sent"] == []


def test_an_api_that_never_answers_ends_the_run_as_unreachable(world, tmp_path):
    """The host answers its root page but no API call: after the retries the run ends as
    "cannot reach Flickr" (exit 1), not as a finished backup with failed items."""
    with fake_flickr("root-only") as url:
        result = crawl_against(world, url, tmp_path / "archive",
                               "-s", "DOWNLOAD_TIMEOUT=1", "-s", "RETRY_TIMES=1")  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert lines(result.stderr)[-1] == (
        f"error: cannot reach Flickr at {url.removesuffix('services/rest/')}: no answer within "
        "DOWNLOAD_TIMEOUT; run again once the network is back"
    )


# --- an archive that cannot be written ---------------------------------------------------------


def _run(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


@contextlib.contextmanager
def read_only_mount(path: Path) -> Iterator[None]:
    """``path`` as a read-only bind mount of itself (root with mount rights only)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a read-only bind mount needs root and mount(8)")
    if not _run("mount", "--bind", str(path), str(path)):
        pytest.skip("mount --bind is not allowed here")
    try:
        if not _run("mount", "-o", "remount,ro,bind", str(path)):
            pytest.skip("cannot remount read-only here")
        yield
    finally:
        _run("umount", str(path))


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``path`` unchangeable: ``chattr +i`` as root (chmod does not stop root), else chmod."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if not shutil.which("chattr") or not _run("chattr", "+i", str(path)):
        pytest.skip("nothing here makes a file unwritable for root (no chattr +i on this fs)")
    try:
        yield
    finally:
        _run("chattr", "-i", str(path))


@pytest.mark.parametrize(
    ("how", "part", "says"),
    [
        ("read-only mount", "", "cannot write to the archive folder {path}: Read-only file system"),
        ("immutable", "", "cannot write to the archive folder {path}: "),
        ("immutable", "logs", "cannot write to the archive folder {path}: "),
        ("immutable", "catalog.db", "cannot write to the catalog {path}: "),
    ],
)
def test_an_archive_that_cannot_be_written_is_one_line(world, how, part, says):
    path = world.archive / part if part else world.archive
    before = snapshot(world.archive)
    with (read_only_mount if how == "read-only mount" else immutable)(path):
        result = crawl(world, world.archive)
    assert result.returncode == 1, result.stderr[-3000:]
    assert lines(result.stderr) == [result.stderr.strip()]
    assert result.stderr.startswith("error: " + says.format(path=path)), result.stderr
    assert "nothing was changed" in result.stderr
    assert snapshot(world.archive) == before


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("FLICKR_MEDIA_CONCURRENCY=abc", "a whole number from 1 to 256"),
        ("FLICKR_MEDIA_CONCURRENCY=0", "a whole number from 1 to 256"),
        ("FLICKR_EXIF_ENABLED=maybe", "use True or False"),
        ("FLICKR_DEEP_METADATA=2", "use True or False"),
        ("FLICKR_API_PER_PAGE=501", "a whole number from 0 to 500"),
        ("FLICKR_BACKOFF_MAX=soon", "a number >= 0"),
        ("FLICKR_PROGRESS_INTERVAL=-1", "a number >= 0.01"),
        ("FLICKR_SITE_JPEG_QUALITY=best", "a whole number from 1 to 95"),
        ("FLICKR_FAVORITES_LAYOUT=grid", "choose one of owner, date"),
        ("FLICKR_XMP_SIDECAR_NAMING=photo.xmp", "choose one of file.ext.xmp, file.xmp"),
        ("FLICKR_WEB_URL=www.flickr.com", "must be an http(s) URL"),
    ],
)
def test_a_bad_setting_is_one_line_before_anything_runs(world, tmp_path, setting, expected):
    archive = tmp_path / "archive"
    result = crawl(world, archive, "-s", setting)
    assert result.returncode == 1
    name, _, _value = setting.partition("=")
    assert lines(result.stderr) == [result.stderr.strip()], result.stderr[-3000:]
    assert result.stderr.startswith(f"error: {name}")
    assert expected in result.stderr
    assert not archive.exists()


def test_every_setting_is_checked_by_its_kind():
    """Each FLICKR_* setting of settings.py, a new one too, rejects a value of the wrong kind,
    and the defaults pass without a warning."""
    defaults = Settings()
    defaults.setmodule("flickr_crawl.settings")
    assert check_settings(defaults) == []
    wrong = {"bool": "maybe", "int": "many", "float": "soon", "choice": "nope",
             "url": "ftp://example.org/", "path": "a\0b"}  # fmt: skip
    for name, default in flickr_settings().items():
        kind = (RULES.get(name) or Rule(_kind_of(default))).kind
        assert kind in wrong, f"{name} has no kind to check"
        settings = defaults.copy()
        settings.set(name, wrong[kind], priority="cmdline")
        with pytest.raises(BadSetting, match=name):
            check_settings(settings)


def test_an_old_setting_name_still_works_with_one_warning(world, tmp_path):
    """FLICKR_DEEP_METADATA, now FLICKR_DEEP_METADATA_ENABLED: switched off by its old name,
    the run makes no getInfo call, and says once which name to use."""
    world.reset_stats()
    result = crawl(world, tmp_path / "archive", "-s", "FLICKR_DEEP_METADATA=False")
    assert result.returncode == 0, result.stderr[-2000:]
    assert lines(result.stderr)[0] == (
        "warning: FLICKR_DEEP_METADATA is deprecated: use FLICKR_DEEP_METADATA_ENABLED "
        "(its value is used for now)"
    )
    assert sum("deprecated" in line for line in lines(result.stderr)) == 1
    calls = world.stats()["api_calls"]["by_method"]
    assert "flickr.photos.getInfo" not in calls
    assert calls["flickr.people.getPhotos"] == 1


def test_a_misspelt_setting_is_named_with_the_real_one(world, tmp_path):
    result = crawl(world, tmp_path / "archive", "-s", "FLICKR_LAYUOT=date",
                   "-s", "FLICKR_API_KEY=abc")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert lines(result.stderr)[:2] == [
        "warning: FLICKR_API_KEY is read from the environment, not from settings; ignored",
        (
            "warning: FLICKR_LAYUOT is not a flickr-crawl setting (did you mean FLICKR_LAYOUT?); "
            "ignored"
        ),
    ]


# --- scrapy auth while Flickr is unreachable ---------------------------------------------------


def test_auth_offline_keeps_the_stored_token(world, tmp_path):
    auth_file = tmp_path / "auth.json"
    shutil.copy(world.auth_file, auth_file)
    before = auth_file.read_bytes()
    base = world.url.rstrip("/")
    result = scrapy("auth", "--no-browser", "-s", f"FLICKR_AUTH_FILE={auth_file}",
                    "-s", f"FLICKR_API_URL=http://127.0.0.1:{free_port()}/services/rest/",
                    "-s", f"FLICKR_OAUTH_URL={base}/services/oauth/", input="")  # fmt: skip
    assert result.returncode == 1
    assert "authorising again" not in result.stdout
    assert lines(result.stderr) == [result.stderr.strip()]
    assert result.stderr.startswith("error: cannot reach Flickr at http://127.0.0.1:")
    assert "connection refused" in result.stderr
    assert f"the stored token in {auth_file} is kept" in result.stderr
    assert auth_file.read_bytes() == before


# --- findmissing -------------------------------------------------------------------------------


def test_findmissing_writes_csv_and_exits_2(world, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(world.archive, archive, symlinks=True)
    records = {pid: recs[0] for pid, recs in sidecars(archive).items()}
    awkward = sorted(pid for pid, r in records.items() if "\t" in r["title"] or '"' in r["title"])
    assert len(awkward) == 2, [r["title"] for r in records.values()]
    for pid in awkward:
        (archive / records[pid]["file"]["path"]).unlink()
    settings = sandbox_settings(world.url, world.auth_file, archive)

    listed = scrapy("findmissing", *settings)
    assert listed.returncode == 2, listed.stderr
    assert listed.stderr.strip() == "2 missing or incomplete"
    rows = list(csv.DictReader(io.StringIO(listed.stdout, newline="")))
    assert [(r["id"], r["title"], r["reason"]) for r in rows] == [
        (pid, records[pid]["title"], "file not on disk") for pid in awkward
    ]

    out = tmp_path / "missing.csv"
    written = scrapy("findmissing", "-o", str(out), *settings)
    assert written.returncode == 2
    assert out.read_text(encoding="utf-8") == listed.stdout

    # what findmissing lists, redownload fetches; then nothing is missing: exit 0
    again = scrapy("crawl", "redownload", "-a", f"ids={out}", *settings,
                   "-s", "FLICKR_API_CALLS_PER_HOUR=0")  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    done = scrapy("findmissing", *settings)
    assert done.returncode == 0
    assert done.stderr.strip() == "0 missing or incomplete"


# --- commands from outside the clone -----------------------------------------------------------


def _outside(tmp_path: Path, *cmd: str, env: dict[str, str] | None = None) -> Any:
    """Run ``cmd`` in a folder outside the clone, without SCRAPY_SETTINGS_MODULE."""
    assert ROOT not in tmp_path.parents
    full_env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    full_env["XDG_CONFIG_HOME"] = str(tmp_path / "no-config")
    full_env.update(env or {})
    return subprocess.run(cmd, cwd=tmp_path, env=full_env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def test_scrapy_outside_the_clone_is_an_unknown_command(tmp_path):
    """What the README warns about: plain ``scrapy`` needs the clone's scrapy.cfg."""
    result = _outside(tmp_path, sys.executable, "-m", "scrapy", "auth", "--help")
    assert result.returncode == 2
    assert "Unknown command: auth" in result.stdout


def test_the_flickr_crawl_command_works_from_any_folder(world, tmp_path):
    script = Path(sys.executable).with_name("flickr-crawl")
    helped = _outside(tmp_path, str(script), "auth", "--help")
    assert helped.returncode == 0, helped.stdout + helped.stderr
    assert "--reauth" in helped.stdout
    module = _outside(tmp_path, sys.executable, "-m", "flickr_crawl", "list")
    assert module.stdout.split() == ["favorites", "photostream", "redownload"]
    settings = sandbox_settings(world.url, world.auth_file, Path("my-archive"))  # relative
    result = _outside(tmp_path, str(script), "crawl", "photostream", *settings,
                      "-s", "FLICKR_API_CALLS_PER_HOUR=0",
                      "-s", f"FLICKR_WEB_SESSION_FILE={tmp_path / 'none.json'}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(sidecars(tmp_path / "my-archive")) == len(world.account()["photos"])


@pytest.mark.parametrize("how", ["SCRAPY_SETTINGS_MODULE", "user scrapy.cfg"])
def test_plain_scrapy_outside_the_clone_as_the_readme_says(tmp_path, how):
    env = {}
    if how == "SCRAPY_SETTINGS_MODULE":
        env["SCRAPY_SETTINGS_MODULE"] = "flickr_crawl.settings"
    else:
        config = tmp_path / "config"
        config.mkdir()
        (config / "scrapy.cfg").write_text("[settings]\ndefault = flickr_crawl.settings\n")
        env["XDG_CONFIG_HOME"] = str(config)
    result = _outside(tmp_path, sys.executable, "-m", "scrapy", "auth", "--help", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--reauth" in result.stdout
