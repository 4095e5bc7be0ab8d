"""Shared pytest fixtures: one sandbox server per test session; the ``e2e`` marker."""

from __future__ import annotations

import inspect
import os
import re
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import ROOT
from tests.redis_server import start_redis

if TYPE_CHECKING:
    from collections.abc import Iterator

# What starts another process: a sandbox server, a crawl or other command, a browser.
_E2E_CALLS = re.compile(
    r"\b(Sandbox|crawl|scrapy|kill_crawl_when|interrupt_crawl_when|subprocess\.\w+|"
    r"Popen|run_demo|sync_playwright)\("
)
_CALLED = re.compile(r"\b([A-Za-z_]\w*)\(")


@pytest.fixture(scope="session", autouse=True)
def private_state(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The hourly API budget files (per key, in the user's state folder) of this session's
    crawls go to a folder of its own (XDG_STATE_HOME, inherited by every command the tests
    run): never the user's, and no budget left by an earlier session. HOME is private too, so
    a command given no auth file reads none rather than the user's ~/.config/flickr-crawl."""
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    os.environ["HOME"] = str(tmp_path_factory.mktemp("home"))


# Where a command given no FLICKR_ARCHIVE_DIR writes (the folder our commands run in): perhaps
# the user's own backup, and a lock every test worker would contend for.
DEFAULT_ARCHIVE = ROOT / "archive"
_default_archive_made = [DEFAULT_ARCHIVE.exists()]  # by the user before the session, or by us


@pytest.fixture(autouse=True)
def no_default_archive() -> Iterator[None]:
    """Fail the test in which a command (run by any means, in a fixture of any scope) first
    creates ``archive`` in the clone: whatever it runs must name an archive of its own."""
    yield
    if not _default_archive_made[0] and DEFAULT_ARCHIVE.exists():
        _default_archive_made[0] = True
        pytest.fail(f"a command wrote to {DEFAULT_ARCHIVE}: give it FLICKR_ARCHIVE_DIR")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on 127.0.0.1 for this session (skips where it is not installed)."""
    yield from start_redis(tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A running sandbox (small images) with a ready auth file at ``sandbox.auth_file``."""
    auth_file = tmp_path_factory.mktemp("sandbox") / "auth.json"
    with Sandbox("--image-size", "small", auth_file=auth_file) as sb:
        yield sb


def _starts_processes(func: Any, module: Any, seen: set[Any]) -> bool:
    """Does ``func``, or a function of its module or of tests/ it calls, start a process?"""
    func = inspect.unwrap(func)
    if func in seen:
        return False
    seen.add(func)
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return False
    if _E2E_CALLS.search(source):
        return True
    for name in set(_CALLED.findall(source)):
        called = getattr(module, name, None)
        home = getattr(called, "__module__", "") or ""
        if (
            inspect.isfunction(called)
            and home.startswith("tests")
            and _starts_processes(called, inspect.getmodule(called), seen)
        ):
            return True
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``e2e`` every test that runs another process (a sandbox server, a crawl, a
    command, a browser), itself or through a fixture: ``pytest -m "not e2e"`` runs the rest
    (callbacks fed answers in-process, library code) in seconds."""
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        seen: set[Any] = set()
        funcs = [item.function]
        for name in item.fixturenames:
            funcs += [d.func for d in item._fixtureinfo.name2fixturedefs.get(name, ())]
        if any(_starts_processes(f, inspect.getmodule(f), seen) for f in funcs):
            item.add_marker(pytest.mark.e2e)
