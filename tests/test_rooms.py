"""The house's rooms hold: all SQL in ``flickr_crawl/catalog/``, imports point one way, and
what the last run left is read once per crawl.

The first two read the sources as a reviewer would (``ast``, not grep: a word in a comment is
no SQL). The third counts, with Python's audit hooks, every SQLite connection a real crawl opens
on catalog.db.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT, crawl_args

if TYPE_CHECKING:
    from pathlib import Path

SOURCES = [ROOT / "flickr_crawl", ROOT / "spiders", ROOT / "pipelines"]
CATALOG = ROOT / "flickr_crawl" / "catalog"
LIBRARY = ("flickr", "archive", "metadata", "catalog")  # packages of plain functions
# Our Scrapy components: a library package imports none of them.
COMPONENTS = ("scrapy", "twisted", "spiders", "pipelines", "flickr_crawl.extensions",
              "flickr_crawl.downloader", "flickr_crawl.commands")  # fmt: skip

SQL = re.compile(
    r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\[?\w+\]?\s+SET\b"
    r"|\bDELETE\s+FROM\b|\bPRAGMA\s+\w+|\b(CREATE|DROP)\s+(VIRTUAL\s+)?(TABLE|INDEX|TRIGGER|VIEW)\b"
    r"|\bALTER\s+TABLE\b|^\s*BEGIN(\s+(IMMEDIATE|EXCLUSIVE|DEFERRED))?\s*$|\bsqlite_master\b",
    re.IGNORECASE,
)


def python_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if ".venv" not in p.parts)


def strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal (an f-string with its holes as ``?``), docstrings left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    found = []
    in_fstring = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "?" for v in node.values)
            found.append((node.lineno, text))
            in_fstring.update(id(v) for v in node.values)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings and id(node) not in in_fstring):  # fmt: skip
            found.append((node.lineno, node.value))
    return found


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an import statement names, at any depth (imports inside functions too)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append((node.lineno, node.module))
    return names


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_sql_detector_knows_sql_when_it_sees_it() -> None:
    for sql in ("select id from photos where x = ?", "INSERT OR IGNORE INTO users (nsid)",
                "update files set status = 'broken'", "PRAGMA table_info(files)", "BEGIN",
                "DELETE FROM tags", "CREATE TABLE t (x)", "SELECT ? FROM ?"):  # fmt: skip
        assert SQL.search(sql), sql
    for prose in ("Select a size", "update the sidecar", "begin again", "created from the table"):
        assert not SQL.search(prose), prose


def test_no_sql_outside_the_catalog() -> None:
    """SQL strings and SQLite connections live in flickr_crawl/catalog/ only."""
    found = []
    for path in python_files(*SOURCES):
        if CATALOG in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT)
        found += [f"{where}:{line}: {text.strip()[:60]!r}" for line, text in strings(tree)
                  if SQL.search(text)]  # fmt: skip
        found += [
            f"{where}:{node.lineno}: sqlite3.connect"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "connect"
            and isinstance(node.value, ast.Name) and node.value.id == "sqlite3"
        ]  # fmt: skip
    assert not found, "SQL outside flickr_crawl/catalog/:\n" + "\n".join(found)


def test_imports_point_one_way() -> None:
    """Library code imports neither spiders nor pipelines; library packages import no Scrapy
    (nor our Scrapy components); spiders and pipelines do not import each other, and a
    pipeline imports no other pipeline (what they share lives in the library)."""
    found = []
    for path in python_files(*SOURCES):
        where = path.relative_to(ROOT)
        parts = where.with_suffix("").parts
        for line, module in imported(ast.parse(path.read_text(encoding="utf-8"))):
            if parts[0] == "flickr_crawl":
                banned = ("spiders", "pipelines")
                if len(parts) > 2 and parts[1] in LIBRARY:
                    banned = COMPONENTS
            elif parts[0] == "spiders":
                banned = ("pipelines",)
            else:  # a pipeline
                banned = ("spiders", *(f"pipelines.{p.stem}" for p in (ROOT / "pipelines")
                                       .glob("*.py") if p.stem != parts[-1]))  # fmt: skip
            found += [f"{where}:{line}: imports {module}" for package in banned
                      if within(module, package)]  # fmt: skip
    assert not found, "\n".join(found)


COUNT_OPENS = """
import atexit, json, sys
opened = []
def hook(event, args):
    if event == "sqlite3.connect" and "catalog.db" in str(args[0]):
        opened.append(str(args[0]))
sys.addaudithook(hook)
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(opened)))
sys.argv = ["scrapy", *sys.argv[2:]]
from scrapy.cmdline import execute
execute()
"""


def catalog_opens(sandbox: Any, archive: Path, tmp_path: Path, *extra: str,
                  spider: str = "photostream") -> list[str]:  # fmt: skip
    """Run a crawl as ``crawl`` does; the catalog.db connections it opened."""
    out = tmp_path / f"opens-{spider}-{len(list(tmp_path.glob('opens-*')))}.json"
    args = crawl_args(sandbox, archive, *extra, spider=spider)
    done = subprocess.run(
        [sys.executable, "-c", COUNT_OPENS, str(out), *args], cwd=ROOT, capture_output=True,
        text=True, timeout=600, check=False,
        env={**os.environ, "SCRAPY_SETTINGS_MODULE": "flickr_crawl.settings"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_what_the_last_run_left_is_read_once_per_crawl(tmp_path: Path) -> None:
    """One read-only connection for what the last run left (shared by the spider and the
    media pipeline), one for the catalog pipeline's writes: no more, whatever the spider.
    (No videos: without a web session they stay missing, and each run fetches them again
    from their stored list entries, a read of its own.)"""
    archive = tmp_path / "archive"
    with Sandbox("--photos", "30", "--videos", "0", "--image-size", "small",
                 auth_file=tmp_path / "auth.json") as sandbox:  # fmt: skip
        opens = _opens_of_three_runs(sandbox, archive, tmp_path)
    first, again, favorites = opens
    assert len(first) == 1, first  # no catalog yet: nothing to read, the pipeline creates it
    assert len(again) == 2, again
    assert sum("mode=ro" in uri for uri in again) == 1, again
    assert len(favorites) == 2, favorites
    assert sum("mode=ro" in uri for uri in favorites) == 1, favorites


def _opens_of_three_runs(sandbox: Any, archive: Path, tmp_path: Path) -> list[list[str]]:
    return [
        catalog_opens(sandbox, archive, tmp_path),
        catalog_opens(sandbox, archive, tmp_path),
        catalog_opens(sandbox, archive, tmp_path, spider="favorites"),
    ]


def test_an_old_catalog_still_tells_what_the_last_run_left(tmp_path: Path) -> None:
    """A version 1 catalog (no sync_state, no video stills yet) is read as it is: its photos,
    files and albums count, before this run migrates it."""
    from flickr_crawl.catalog.db import close_catalog, open_catalog
    from flickr_crawl.catalog.lastrun import read_last_run
    from flickr_crawl.catalog.saves import save_album, save_photo
    from tests.helpers import as_old_catalog
    from tests.test_catalog import OWNER, album, photo

    path = tmp_path / "catalog.db"
    db = open_catalog(path)
    save_photo(db, photo("5001"))
    save_photo(db, photo("5002"))
    save_album(db, album(("5001", "5002")))
    close_catalog(db)
    as_old_catalog(path, 1)
    last = read_last_run(path)
    assert last.found
    assert last.state == {}
    assert set(last.known) == {"5001", "5002"}
    assert set(last.albums["72001"].photo_ids) == {"5001", "5002"}
    assert set(last.view_for(OWNER).filed) == {"5001", "5002"}
