"""catalog.db's views, opened in real Datasette (``datasette serve`` on 127.0.0.1) after a real
crawl of the sandbox, each view's rows checked against the tables the crawl wrote and against
the sandbox's ground truth: the files on disk, the albums' order, commenters and favers."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest
from markupsafe import escape

from flickr_crawl.catalog.db import close_catalog, open_catalog
from flickr_crawl.catalog.schema import VIEWS, datasette_metadata
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import as_old_catalog, crawl


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("views")
    with Sandbox("--image-size", "small", "--seed", "5", auth_file=tmp / "auth.json") as sandbox:
        account = sandbox.account()
        failed = next(p["id"] for p in account["photos"] if p["media"] == "photo")
        sandbox.faults(rate=0, permanent_photo_ids=[failed])
        archive = tmp / "archive"
        done = crawl(sandbox, archive, "-s", "RETRY_TIMES=0")
    assert done.returncode in (1, 2), done.stderr[-3000:]  # a failed file, missing videos
    catalog = archive / "catalog.db"
    metadata = tmp / "metadata.json"
    metadata.write_text(json.dumps(datasette_metadata()), encoding="utf-8")
    port = _free_port()
    log = (tmp / "datasette.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(catalog), "--host", "127.0.0.1",
         "--port", str(port), "-m", str(metadata)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/-/versions.json", timeout=5).read()
            break
        except (urllib.error.URLError, ConnectionError) as exc:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                log_text = (tmp / "datasette.log").read_text(errors="replace")
                raise AssertionError(log_text) from exc
            time.sleep(0.2)
    db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        yield SimpleNamespace(base=base, db=db, account=account, archive=archive, failed=failed)
    finally:
        db.close()
        server.terminate()
        server.wait(timeout=30)


def rows(served: Any, view: str) -> list[dict[str, Any]]:
    """The view's rows through Datasette's JSON API, in the view's order."""
    url = f"{served.base}/catalog/{view}.json?_shape=array&_size=max"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return list(json.load(answer))


def test_datasette_lists_every_view_with_its_description(served) -> None:
    with urllib.request.urlopen(f"{served.base}/catalog.json", timeout=30) as answer:
        listed = {v["name"] for v in json.load(answer)["views"]}
    assert set(VIEWS) <= listed
    for view, text in VIEWS.items():
        with urllib.request.urlopen(f"{served.base}/catalog/{view}", timeout=30) as answer:
            page = answer.read().decode()
        assert str(escape(text)) in page, view  # as Datasette's template escapes it


def test_photo_files_has_each_photo_with_its_file_and_albums(served) -> None:
    got = rows(served, "photo_files")
    truth = {p["id"]: p for p in served.account["photos"]}
    assert [r["photo_id"] for r in got] == [
        r["id"] for r in served.db.execute(
            "SELECT id FROM photos WHERE media IS NOT NULL ORDER BY date_posted DESC, id DESC")
    ]  # fmt: skip
    assert {r["photo_id"] for r in got} == set(truth)
    titles = {a["id"]: a["title"] for a in served.account["albums"]}
    for r in got:
        stored = served.db.execute(
            "SELECT status, path, sha256 FROM files WHERE photo_id = ?", (r["photo_id"],)
        ).fetchone()
        assert (r["status"], r["path"], r["sha256"]) == tuple(stored)
        if r["status"] in ("downloaded", "uptodate"):
            data = (served.archive / r["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == r["sha256"]
        expected = sorted(truth[r["photo_id"]]["album_ids"], key=lambda a: (titles[a], a))
        assert json.loads(r["album_ids"]) == expected
        assert json.loads(r["albums"]) == [titles[a] for a in expected]


def test_missing_files_are_the_videos_and_the_failed_photo(served) -> None:
    got = {r["photo_id"]: r for r in rows(served, "missing_files")}
    videos = {p["id"] for p in served.account["photos"] if p["media"] == "video"}
    assert set(got) == videos | {served.failed}
    assert got[served.failed]["status"] == "failed"
    assert all(got[v]["status"] == "missing" for v in videos)
    assert all(r["reason"] for r in got.values())
    stored = dict(
        served.db.execute(
            "SELECT photo_id, reason FROM files WHERE status NOT IN ('downloaded', 'uptodate')"
        )
    )
    assert {pid: r["reason"] for pid, r in got.items()} == stored


def test_album_contents_follow_flickrs_order(served) -> None:
    got: dict[str, list[str]] = {}
    for r in rows(served, "album_contents"):
        got.setdefault(r["album_id"], []).append(r["photo_id"])
        assert r["position"] == len(got[r["album_id"]])
    assert got == {a["id"]: a["photo_ids"] for a in served.account["albums"] if a["photo_ids"]}


def test_comments_with_authors(served) -> None:
    got = rows(served, "comments_with_authors")
    users = {u["nsid"]: u for u in served.account["users"]}
    truth = {c["id"]: (p["id"], c["author"]) for p in served.account["photos"]
             for c in p["comments"]}  # fmt: skip
    assert truth, "the sandbox account has comments"
    assert {r["comment_id"]: (r["photo_id"], r["author"]) for r in got} == truth
    (count,) = served.db.execute("SELECT count(*) FROM comments").fetchone()
    assert len(got) == count
    for r in got:
        user = users[r["author"]]
        assert r["author_name"] == (user["realname"] or user["username"])
        assert r["author_username"] == user["username"]
        assert r["photo_title"] == served.db.execute(
            "SELECT title FROM photos WHERE id = ?", (r["photo_id"],)).fetchone()[0]  # fmt: skip


def test_faves_with_users(served) -> None:
    got = rows(served, "faves_with_users")
    users = {u["nsid"]: u for u in served.account["users"]}
    truth = {(p["id"], f["nsid"]) for p in served.account["photos"] for f in p["faves"]}
    assert truth, "the sandbox account has faves"
    assert {(r["photo_id"], r["nsid"]) for r in got} == truth
    for r in got:
        assert (r["username"], r["realname"]) == (
            users[r["nsid"]]["username"], users[r["nsid"]]["realname"])  # fmt: skip
    stored = served.db.execute(
        "SELECT photo_id, nsid, date_faved FROM faves ORDER BY photo_id, date_faved DESC, nsid"
    ).fetchall()
    assert [(r["photo_id"], r["nsid"], r["date_faved"]) for r in got] == [tuple(s) for s in stored]


def test_an_older_catalog_gets_the_views_when_a_run_opens_it(served, tmp_path) -> None:
    path = tmp_path / "catalog.db"
    with sqlite3.connect(path) as copy:
        served.db.backup(copy)
    copy.close()
    as_old_catalog(path, 4)
    with sqlite3.connect(path) as old:
        assert not old.execute("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall()
    old.close()
    db = open_catalog(path)
    try:
        for view in VIEWS:
            assert db.execute(f"SELECT * FROM {view}").fetchall() == (
                served.db.execute(f"SELECT * FROM {view}").fetchall()
            ), view
    finally:
        close_catalog(db)
