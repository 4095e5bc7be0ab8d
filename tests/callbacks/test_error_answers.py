"""What a callback does with Flickr's error answers (HTTP 200, ``stat: fail``), bodies that are
not JSON, and calls that failed for good: retry, close the spider, or count and skip."""

from __future__ import annotations

import pytest
import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from flickr_crawl.items import PhotoItem, PhotostreamListedItem
from spiders.favorites import FavoritesSpider
from spiders.photostream import PhotostreamSpider
from tests.callbacks.harness import Run, calls, fail_body, items, method, respond

UNAVAILABLE = {105: "Service currently unavailable",
               201: "Sorry, the Flickr API service is not currently available."}  # fmt: skip


def _photo_page(run):
    pending = run.start()
    while True:
        (request,) = pending
        if method(request) == "flickr.people.getPhotos":
            return request
        pending = [o for o in run.call(request) if isinstance(o, scrapy.Request)]


def _comments_request(flickr, run):
    """A comments call of the first photo whose list entry says it has comments."""
    out = run.call(_photo_page(run))
    return next(r for r in out if isinstance(r, scrapy.Request)
                and method(r) == "flickr.photos.comments.getList")  # fmt: skip


@pytest.mark.parametrize("code", [105, 201])
def test_a_transient_error_is_retried_with_the_same_call(flickr, tmp_path, code):
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", {"RETRY_TIMES": 3})
    request = _photo_page(run)
    out = run.call(request, respond(request, fail_body(code, UNAVAILABLE[code])))
    (retry,) = out  # no item, no next step: the retry's answer runs the callback again
    assert retry.url == request.url
    assert retry.callback == request.callback
    assert retry.cb_kwargs == request.cb_kwargs
    assert retry.meta["retry_times"] == 1
    assert retry.dont_filter is True
    assert run.stats["retry/count"] == 1
    assert run.stats[f"retry/reason_count/flickr_api_{code}"] == 1
    assert run.stats[f"flickr/api/error/{code}"] == 1
    assert run.report.failures == []
    again = run.call(retry)  # the sandbox answers the retry: the page goes on as normal
    assert [i.id for i in items(again) if isinstance(i, PhotoItem)]


def test_a_body_that_is_not_json_is_retried(flickr, tmp_path):
    run = Run(flickr, PhotostreamSpider, tmp_path / "a")
    request = _photo_page(run)
    html = "<html><body><h1>Bad Gateway</h1></body></html>"
    (retry,) = run.call(request, respond(request, html))
    assert retry.url == request.url
    assert run.stats["retry/reason_count/flickr_bad_response"] == 1


def test_a_listing_page_that_keeps_failing_is_recorded_and_the_listing_goes_on(flickr, tmp_path):
    """After RETRY_TIMES the page is given up (listed as failed) and the next page is asked;
    the listing then counts as incomplete, so nothing is taken for deleted."""
    settings = {"RETRY_TIMES": 2, "FLICKR_API_PER_PAGE": 5, "FLICKR_DEEP_METADATA_ENABLED": False}
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", settings)
    first = _photo_page(run)
    second = next(r for r in run.call(first) if isinstance(r, scrapy.Request)
                  and method(r) == "flickr.people.getPhotos")  # fmt: skip
    request = second
    for attempt in (1, 2):
        (request,) = run.call(request, respond(request, fail_body(105, UNAVAILABLE[105])))
        assert request.meta["retry_times"] == attempt
    out = run.call(request, respond(request, fail_body(105, UNAVAILABLE[105])))
    assert calls(out) == [("flickr.people.getPhotos", {
        "extras": calls([first])[0][1]["extras"], "page": "3", "per_page": "5", "user_id": "me",
    })]  # fmt: skip
    assert [(f.kind, f.subject, f.reason) for f in run.report.failures] == [
        ("flickr.people.getPhotos", "page=2", "gave up: Service currently unavailable")
    ]
    assert run.stats["retry/max_reached"] == 1
    (page3,) = out
    (page4,) = [r for r in run.call(page3) if isinstance(r, scrapy.Request)
                and method(r) == "flickr.people.getPhotos"]  # fmt: skip
    (end,) = [i for i in run.call(page4) if isinstance(i, PhotostreamListedItem)]
    assert (end.complete, end.sweep, end.photo_ids) == (False, False, [])


@pytest.mark.parametrize(("code", "message"), [
    (96, "Invalid signature"), (97, "Missing signature"), (98, "Invalid auth token"),
    (99, "Insufficient permissions. Method requires read privileges; none granted."),
    (100, "Invalid API Key (Key not found)"),
])  # fmt: skip
def test_an_auth_error_closes_the_spider(flickr, tmp_path, code, message):
    run = Run(flickr, PhotostreamSpider, tmp_path / "a")
    (request,) = run.start()
    with pytest.raises(CloseSpider) as closed:
        run.call(request, respond(request, fail_body(code, message)))
    assert closed.value.reason == "flickr_auth_failed"
    assert run.report.fatal_error == (
        f"Flickr rejected the credentials in {tmp_path / 'auth.json'}: {message} "
        f"(code {code}); run `scrapy auth --reauth`"
    )
    assert "retry/count" not in run.stats


def test_not_found_is_counted_and_skipped(flickr, tmp_path):
    """A photo deleted between the list and its comments call: code 1, recorded, no retry,
    no item; the rest of the run is unaffected."""
    run = Run(flickr, PhotostreamSpider, tmp_path / "a")
    request = _comments_request(flickr, run)
    photo_id = calls([request])[0][1]["photo_id"]
    flickr.world.apply([{"op": "delete_photo", "id": photo_id}])
    assert run.call(request) == []
    assert run.stats["flickr/api/error/1"] == 1
    assert "retry/count" not in run.stats
    assert [(f.kind, f.subject, f.reason) for f in run.report.failures] == [(
        "flickr.photos.comments.getList", f"photo_id={photo_id}",
        f'API error 1: Photo "{photo_id}" not found (invalid ID)',
    )]  # fmt: skip


def test_an_http_error_that_outlived_its_retries_goes_on_without_the_answer(flickr, tmp_path):
    """The errback records the failure and runs the callback without a response: a listing
    step goes on with the next one instead of ending the backup there."""
    run = Run(flickr, PhotostreamSpider, tmp_path / "a")
    (request,) = run.start()  # collections.getTree
    failure = Failure(HttpError(respond(request, "busy", status=503)))
    failure.request = request  # as Scrapy hands it to an errback
    out = list(run.spider.api_failed(failure))
    assert calls(out) == [("flickr.galleries.getList",
                           {"page": "1", "per_page": "500", "user_id": flickr.owner})]  # fmt: skip
    assert [(f.kind, f.reason) for f in run.report.failures] == [
        ("flickr.collections.getTree", "HTTP 503")
    ]


@pytest.mark.parametrize("status", [400, 401])
def test_an_oauth_rejection_closes_the_spider(flickr, tmp_path, status):
    run = Run(flickr, PhotostreamSpider, tmp_path / "a")
    (request,) = run.start()
    body = "oauth_problem=token_rejected"
    failure = Failure(HttpError(respond(request, body, status=status)))
    failure.request = request
    with pytest.raises(CloseSpider) as closed:
        list(run.spider.api_failed(failure))
    assert closed.value.reason == "flickr_auth_failed"
    assert f"OAuth token_rejected (HTTP {status})" in run.report.fatal_error


def test_a_stale_listing_answer_from_an_earlier_process_is_dropped(flickr, tmp_path):
    """A JOBDIR resume replays listing calls an earlier process asked for; the fresh
    listing covers them, so their answers are dropped (per-photo answers are kept)."""
    earlier = Run(flickr, PhotostreamSpider, tmp_path / "a")
    request = _photo_page(earlier)
    resumed = Run(flickr, PhotostreamSpider, tmp_path / "a")
    callback = getattr(resumed.spider, request.callback.__name__)
    replayed = request.replace(callback=callback)
    assert resumed.call(replayed) == []
    assert resumed.stats["flickr/listing/stale_dropped"] == 1
    comments = _comments_request(flickr, earlier)
    kept = comments.replace(callback=getattr(resumed.spider, comments.callback.__name__))
    assert len(resumed.call(kept)) == 1


def test_the_favorites_listing_retries_and_closes_the_same_way(flickr, tmp_path):
    run = Run(flickr, FavoritesSpider, tmp_path / "a")
    (request,) = run.start()
    (retry,) = run.call(request, respond(request, fail_body(105, UNAVAILABLE[105])))
    assert retry.url == request.url
    with pytest.raises(CloseSpider):
        run.call(retry, respond(retry, fail_body(98, "Invalid auth token")))
