"""Property-based: the response parser and the mapping, fed mutated real Flickr answers.

Starting from the real recordings in ``../shared/flickr-real/json`` (read, never copied), each
example changes values to other types, deletes keys, swaps in hostile strings, or damages the
bytes themselves. Whatever arrives, the parser answers with a payload, ``FlickrApiError`` or
``BadResponse``, and the mapping turns a payload into items or says ``BadResponse``: never
another exception, which would end a spider callback and lose the rest of its page.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flickr_crawl.flickr.api import BadResponse, FlickrApiError, page_of, parse_envelope
from flickr_crawl.flickr.mapping import (
    album_from_list,
    best_video_source,
    comments_of,
    faves_of,
    info_of,
    photo_from_list,
)
from flickr_crawl.items import PhotoItem
from tests.helpers import REAL as REAL_RECORDINGS
from tests.helpers import needs_recordings

REAL = REAL_RECORDINGS / "json"
METHODS = (
    "flickr.people.getPhotos",
    "flickr.photosets.getPhotos",
    "flickr.photosets.getList",
    "flickr.photos.comments.getList",
    "flickr.photos.getFavorites",
    "flickr.photos.getInfo",
    "flickr.photos.getSizes",
    "flickr.photos.search",
)
RECORDINGS = sorted(
    (method, path.read_bytes()) for method in METHODS for path in (REAL / method).glob("*.json")
)
WEB = "https://www.flickr.com/"
HOSTILE = ("../../etc/passwd", "\x00", "\ud800", "<script>x</script>", "x" * 10_000, "", "0",
           "-1", "1e308", "NaN", " ")  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.sampled_from(HOSTILE),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON tree: dict keys and list indexes."""
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node[:5]):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real answer, changed in one to four places, then possibly damaged as bytes."""
    method, body = draw(st.sampled_from(RECORDINGS))
    data = json.loads(body)
    for _ in range(draw(st.integers(1, 4))):
        places = _paths(data)[1:]
        if not places:
            break
        where = draw(st.sampled_from(places))
        parent = data
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(("replace", "delete", "empty")))
        if action == "delete":
            del parent[where[-1]]
        elif action == "empty":
            parent[where[-1]] = copy.deepcopy(draw(st.sampled_from(([], {}, "", None))))
        else:
            parent[where[-1]] = draw(values)
    raw = json.dumps(data).encode()
    damage = draw(st.sampled_from(("none", "none", "cut", "jsonp", "html")))
    if damage == "cut":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif damage == "jsonp":
        raw = b"jsonFlickrApi(" + raw + b")"
    elif damage == "html":
        raw = b"<html><body>502 Bad Gateway</body></html>"
    return method, raw


def _map(method: str, data: dict[str, Any]) -> None:
    """Run the mapping a spider would run on an answer of ``method``."""
    if method in ("flickr.people.getPhotos", "flickr.photosets.getPhotos",
                  "flickr.photos.search"):  # fmt: skip
        container = data.get("photos") or data.get("photoset") or {}
        if not isinstance(container, dict):
            raise BadResponse("no photo list")
        photos = container.get("photo") or []
        page_of(container, photos if isinstance(photos, list) else [])
        for raw in photos if isinstance(photos, list) else []:
            assert isinstance(photo_from_list(raw, method=method, owner="1@N00", web_url=WEB),
                              PhotoItem)  # fmt: skip
    elif method == "flickr.photosets.getList":
        container = data.get("photosets")
        if not isinstance(container, dict):
            raise BadResponse("no album list")
        albums = container.get("photoset") or []
        for raw in albums if isinstance(albums, list) else []:
            album_from_list(raw)
    elif method == "flickr.photos.comments.getList":
        comments_of("1", data, WEB)
    elif method == "flickr.photos.getFavorites":
        faves_of("1", [data], WEB)
    elif method == "flickr.photos.getInfo":
        info_of("1", data, None, WEB)
    elif method == "flickr.photos.getSizes":
        best_video_source(data)


@needs_recordings
def test_there_are_real_answers_to_mutate():
    assert len(RECORDINGS) >= 15, f"expected the real recordings in {REAL}"


# FUZZ_EXAMPLES=20000 for a deeper search. CI runs a fixed set of examples (derandomize), so
# that a landing never depends on luck; local runs explore new ones each time.
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")),
    derandomize=os.environ.get("CI") == "true",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@needs_recordings
@given(mutated())
def test_parser_and_mapping_accept_anything_or_say_bad_response(answer):
    method, body = answer
    try:
        data = parse_envelope(body)
    except (BadResponse, FlickrApiError):
        return
    assert isinstance(data, dict)
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # storable: no lone surrogates left
    with contextlib.suppress(BadResponse):
        _map(method, data)


@pytest.mark.parametrize(("method", "body"), RECORDINGS[:3])
def test_unmutated_answers_map_cleanly(method, body):
    _map(method, parse_envelope(body))
