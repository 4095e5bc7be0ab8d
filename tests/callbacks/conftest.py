"""Fixtures of the callback layer: a small sandbox world, answered in-process."""

from __future__ import annotations

import pytest

from flickr_crawl.sandbox.world import World
from tests.callbacks.harness import Flickr


@pytest.fixture
def flickr() -> Flickr:
    """17 photos and videos (one video), 3 albums, galleries, collections; seed 3."""
    return Flickr(World(seed=3, photos=16, videos=1, albums=3))
