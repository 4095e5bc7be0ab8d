"""The envelope parser and the mapping accept every real recorded Flickr shape."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from flickr_crawl.flickr.api import (
    BadResponse,
    FlickrApiError,
    call_url,
    page_of,
    parse_envelope,
    to_int,
)
from flickr_crawl.flickr.mapping import (
    best_photo_source,
    best_video_source,
    iso_from_unix,
    iso_taken,
    photo_from_list,
    video_original_source,
)
from tests.helpers import REAL as REAL_RECORDINGS
from tests.helpers import needs_recordings

if TYPE_CHECKING:
    from pathlib import Path

REAL = REAL_RECORDINGS / "json"
RECORDINGS = sorted(p for p in REAL.rglob("*.json") if "reflection" not in p.parts[-2])


@needs_recordings
def test_recordings_are_there():
    assert len(RECORDINGS) >= 40, f"expected the real recordings in {REAL}"


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_recorded_body_parses(path: Path):
    body = path.read_bytes()
    if path.parent.name == "errors":
        with pytest.raises(FlickrApiError) as info:
            parse_envelope(body)
        assert info.value.code > 0
        assert isinstance(info.value.code, int)
    else:
        assert parse_envelope(body)["stat"] == "ok"


def _photo_lists():
    for path in RECORDINGS:
        data = json.loads(path.read_bytes())
        for key in ("photos", "photoset"):
            if isinstance(data.get(key), dict) and "photo" in data[key]:
                yield path, data[key]


@pytest.mark.parametrize(("path", "container"), list(_photo_lists()), ids=lambda x: str(x)[-50:])
def test_every_recorded_photo_maps(path: Path, container: dict):
    page = page_of(container, container["photo"])
    assert page.page >= 1
    assert page.total >= len(container["photo"])
    for raw in container["photo"]:
        item = photo_from_list(raw, method="m", owner="1@N00", web_url="https://www.flickr.com/")
        assert item.id == str(raw["id"])
        assert isinstance(item.license, int)
        assert isinstance(item.views, int)
        assert item.page_url.endswith(f"/{item.id}/")
        if item.date_posted:
            assert item.date_posted.endswith("Z")
        if raw.get("url_o") and item.media == "photo":
            assert item.source is not None
            assert item.source.is_original
        if item.media == "video":
            assert item.source is None  # url_o of a video is a poster, never the video


def test_mixed_types_and_absent_values():
    assert to_int("12") == 12
    assert to_int(12) == 12
    assert to_int("") == 0
    assert to_int(None, 5) == 5
    assert to_int("1.0") == 1


def test_page_past_the_end_stops():
    assert page_of({"page": "3", "pages": "2", "total": "870"}, []).last
    assert not page_of({"page": 1, "pages": "2", "total": 870}, [{}]).last
    assert page_of({"page": 1, "per_page": 10, "total": 0, "pages": 1}, []).last


def test_jsonp_and_garbage():
    assert parse_envelope(b'jsonFlickrApi({"stat":"ok","x":1})')["x"] == 1
    with pytest.raises(BadResponse):
        parse_envelope(b"<html><body><h1>429 Too Many Requests</h1></body></html>")
    with pytest.raises(BadResponse):
        parse_envelope(b'{"photos": {"page": 1')


def test_transient_and_auth_codes():
    with pytest.raises(FlickrApiError) as info:
        parse_envelope(b'{"stat":"fail","code":"105","message":"Service currently unavailable"}')
    assert info.value.transient
    with pytest.raises(FlickrApiError) as info:
        parse_envelope(b'{"stat":"fail","code":98,"message":"Invalid auth token"}')
    assert info.value.auth


def test_dates():
    assert iso_from_unix("1334834742") == "2012-04-19T11:25:42Z"
    assert iso_from_unix("0") is None
    assert iso_taken("2011-03-27 14:21:21", 0) == "2011-03-27T14:21:21"
    assert iso_taken("2011-03-01 00:00:00", 4) == "2011-03"
    assert iso_taken("2011-01-01 00:00:00", 6) == "2011"
    assert iso_taken("0000-00-00 00:00:00", 0) is None


def test_best_size_when_no_original():
    raw = {"url_m": "https://x/1_a.jpg", "width_m": "500", "url_k": "https://x/1_b_k.jpg",
           "width_k": 2048, "height_k": "1536"}  # fmt: skip
    source = best_photo_source(raw)
    assert source is not None
    assert (source.label, source.is_original, source.width, source.height) == (
        "Large 2048", False, 2048, 1536)  # fmt: skip


@needs_recordings
def test_video_original_from_recorded_sizes():
    data = json.loads((REAL / "flickr.photos.getSizes/2016_ditto_video_with_video_original.json")
                      .read_bytes())  # fmt: skip
    source = video_original_source(data)
    assert source is not None
    assert "/play/orig/" in source.url
    photo = json.loads((REAL / "flickr.photos.getSizes/2012_flickrie_photo.json").read_bytes())
    assert video_original_source(photo) is None


def test_call_url_has_json_format():
    url = call_url("https://api.flickr.com/services/rest/", "flickr.test.login", "k", page=2)
    assert "format=json" in url
    assert "nojsoncallback=1" in url
    assert "method=flickr.test.login" in url
    assert "page=2" in url


@needs_recordings
def test_best_video_stream_for_someone_elses_video():
    data = json.loads((REAL / "flickr.photos.getSizes/2012_flickrie_video.json").read_bytes())
    source = best_video_source(data)
    assert source is not None
    assert (source.label, source.is_original) == ("Site MP4", False)
    owner = json.loads(
        (REAL / "flickr.photos.getSizes/2016_ditto_video_with_video_original.json").read_bytes()
    )
    assert best_video_source(owner).label == "Video Original"  # type: ignore[union-attr]
