"""Shared pytest fixtures: one sandbox server per test session."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from flickr_crawl.sandbox.process import Sandbox

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A running sandbox (small images) with a ready auth file at ``sandbox.auth_file``."""
    auth_file = tmp_path_factory.mktemp("sandbox") / "auth.json"
    with Sandbox("--image-size", "small", auth_file=auth_file) as sb:
        yield sb
