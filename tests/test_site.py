"""``scrapy site``: the offline website, opened from disk in headless Chromium.

One sandbox account is backed up (photostream with videos, then favorites) and the site built
once per module, by running the commands as a user does. Pages are opened from file:// with
every request outside the archive folder blocked and recorded, and ``dialog``, console errors
and page errors recorded too. What the browser shows is checked against the sandbox's ground
truth (its account), not against the catalog the site was built from.
"""

from __future__ import annotations

import html
import re
import shutil
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from PIL import Image

from flickr_crawl.flickr.browser import chromium_path
from flickr_crawl.sandbox.process import Sandbox
from flickr_crawl.site import images
from flickr_crawl.site.sanitize import SCHEMES, TAGS, sanitize
from tests.helpers import crawl, scrapy, web_session

PAGE_SIZE = 16  # small pages, so the photostream and albums span several


def build(archive: Path, *extra: str) -> Any:
    return scrapy("site", "--archive", str(archive), "--page-size", str(PAGE_SIZE), *extra)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("site")
    args = ("--photos", "40", "--videos", "2", "--albums", "4", "--image-size", "small",
            "--seed", "11")  # fmt: skip
    with Sandbox(*args, auth_file=tmp / "auth.json") as sandbox:
        session = web_session(sandbox, tmp / "web-session.json")
        archive = tmp / "archive"
        account = sandbox.account()
        own = crawl(sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}")
        faves = crawl(sandbox, archive, spider="favorites")
        site = build(archive)
        yield SimpleNamespace(sandbox=sandbox, tmp=tmp, archive=archive, account=account,
                              session=session, crawls=(own, faves), site=site)  # fmt: skip


@dataclass
class Watched:
    """What a page did besides showing itself."""

    outside: list[str] = field(default_factory=list)  # requests leaving the archive (blocked)
    inside: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions


@pytest.fixture(scope="module")
def browser() -> Any:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()  # starts Playwright itself: not inside the block below
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        yield browser
        browser.close()


def open_in(browser: Any, folder: Path, **context: Any) -> tuple[Any, Watched]:
    """A fresh page whose requests may only reach files under ``folder``."""
    prefix = folder.resolve().as_uri() + "/"
    seen = Watched()
    ctx = browser.new_context(**context)

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(prefix):
            seen.inside.append(url)
            route.continue_()
        else:
            seen.outside.append(url)
            route.abort()

    ctx.route("**/*", route)
    page = ctx.new_page()
    page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda msg: seen.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
    return page, seen


@pytest.fixture
def tab(browser, world) -> Any:
    page, seen = open_in(browser, world.archive)
    yield SimpleNamespace(page=page, seen=seen, site=world.archive / "site")
    page.context.close()


def url(site: Path, relative: str) -> str:
    return (site / relative).resolve().as_uri()


def grid_ids(page: Any) -> list[str]:
    """Photo ids of the thumbnails on this list page and the pages after it (rel=next)."""
    ids: list[str] = []
    while True:
        hrefs = page.eval_on_selector_all("main ul.grid a", "els => els.map(e => e.href)")
        ids += [Path(urlparse(h).path).stem for h in hrefs]
        following = page.locator("main nav.pager a[rel=next]").first
        if not following.count():
            return ids
        with page.expect_navigation():
            following.click()


def own_photos(world: Any) -> list[dict[str, Any]]:
    return world.account["photos"]


def fold(text: str) -> str:
    """Lower case without accents, as someone typing a search would expect to match."""
    text = unicodedata.normalize("NFKD", html.unescape(text).lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


# --- building ------------------------------------------------------------------------------
def test_backup_and_build_succeed(world):
    for result in world.crawls:
        assert result.returncode == 0, result.stderr[-3000:]
    assert world.site.returncode == 0, world.site.stderr[-3000:]
    index = world.archive / "site" / "index.html"
    assert world.site.stdout.strip() == index.resolve().as_uri()
    assert "Traceback" not in world.site.stderr
    photos = len(own_photos(world)) + len(world.account["owner_faves"])
    assert f"{photos} photos and videos" in world.site.stderr
    assert "0 unreadable, 0 originals missing" in world.site.stderr


def test_pages_carry_a_strict_policy_and_link_relatively(world):
    site = world.archive / "site"
    pages = list(site.rglob("*.html"))
    assert len(pages) > len(own_photos(world))
    for path in pages:
        text = path.read_text(encoding="utf-8")
        policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
        assert policy is not None, path
        csp = html.unescape(policy.group(1))
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "http" not in csp
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"inline script in {path}"
        for ref in map(html.unescape, re.findall(r'\b(?:src|href)="([^"]+)"', text)):
            if ref.startswith(("http://", "https://", "mailto:", "#")):
                assert 'src="' + ref not in text, f"{path} loads {ref}"  # links out only
                continue
            assert not ref.startswith(("/", "file:")), f"{path}: {ref} is not relative"
            target = (path.parent / unquote(ref.split("#")[0].split("?")[0])).resolve()
            assert target.is_relative_to(world.archive.resolve()), ref
            assert target.exists(), f"{path.relative_to(site)} links to missing {ref}"


# --- what the browser shows ----------------------------------------------------------------
@pytest.mark.requires_browser
def test_index_shows_the_photostream_in_flickr_order(tab, world):
    tab.page.goto(url(tab.site, "index.html"))
    expected = [p["id"] for p in sorted(own_photos(world), key=lambda p: (p["dateupload"], p["id"]),
                                        reverse=True)]  # fmt: skip
    assert grid_ids(tab.page) == expected
    assert len(expected) > 2 * PAGE_SIZE  # several pages were followed
    assert not tab.seen.outside
    assert not tab.seen.errors


@pytest.mark.requires_browser
def test_thumbnails_load_with_alt_text(tab, world):
    tab.page.goto(url(tab.site, "index.html"))
    titles = {p["id"]: p["title"].strip() for p in own_photos(world)}
    tab.page.mouse.wheel(0, 5000)  # thumbnails load lazily
    tab.page.wait_for_function("() => [...document.querySelectorAll('main img')]"
                               ".every(i => i.complete)")  # fmt: skip
    images = tab.page.eval_on_selector_all(
        "main ul.grid a img",
        "els => els.map(e => [e.closest('a').href, e.alt, e.complete && e.naturalWidth > 0])",
    )
    assert len(images) == PAGE_SIZE
    for href, alt, loaded in images:
        pid = Path(urlparse(href).path).stem
        assert loaded, href
        assert alt, href
        assert titles[pid] in alt or not titles[pid]


@pytest.mark.requires_browser
def test_every_album_shows_its_photos_in_order(tab, world):
    for album in world.account["albums"]:
        tab.page.goto(url(tab.site, f"albums/{album['id']}.html"))
        heading = tab.page.text_content("main h1")
        assert heading == (album["title"].strip() or "Untitled album")
        assert grid_ids(tab.page) == album["photo_ids"], album["id"]
    assert not tab.seen.outside
    assert not tab.seen.errors


@pytest.mark.requires_browser
def test_albums_collections_galleries_favorites_and_tags_link_up(tab, world):
    tab.page.goto(url(tab.site, "albums.html"))
    assert tab.page.locator("main ul.cards li").count() == len(world.account["albums"])
    tab.page.goto(url(tab.site, "collections.html"))
    shown = tab.page.eval_on_selector_all("main section.collection h2, main section.collection h3",
                                          "els => els.map(e => e.textContent)")  # fmt: skip

    def titles(collections: list[dict[str, Any]]) -> list[str]:
        out = []
        for c in collections:
            out += [c["title"], *titles(c["collections"])]
        return out

    assert shown == titles(world.account["collections"])
    tab.page.goto(url(tab.site, "favorites.html"))
    faves = [f["photo_id"] for f in sorted(world.account["owner_faves"],
                                            key=lambda f: -f["date_faved"])]  # fmt: skip
    assert grid_ids(tab.page) == faves
    tab.page.goto(url(tab.site, "galleries.html"))
    assert tab.page.locator("main ul.cards li").count() == len(world.account["galleries"])
    tab.page.goto(url(tab.site, "tags.html"))
    faved = {f["photo_id"] for f in world.account["owner_faves"]}
    others = [p for p in world.account["other_photos"] if p["id"] in faved]
    tagged = [p for p in [*own_photos(world), *others] if any(t["content"] == "sunset"
                                                              for t in p["tags"])]  # fmt: skip
    tab.page.get_by_role("link", name="Sunset", exact=True).click()
    assert set(grid_ids(tab.page)) == {p["id"] for p in tagged}
    assert tagged
    assert not tab.seen.outside
    assert not tab.seen.errors


@pytest.mark.requires_browser
def test_titles_are_text_not_markup(tab, world):
    by_title = {p["title"]: p["id"] for p in own_photos(world)}
    # As typed: Flickr serves titles undecoded, so one typed with entities shows them.
    for title in ("<i>raw markup</i>", "&lt;b&gt;not bold&lt;/b&gt;", "Fish & Chips"):
        if title not in by_title:
            continue
        tab.page.goto(url(tab.site, f"photos/{by_title[title]}.html"))
        assert tab.page.text_content("main h1") == title
        assert tab.page.locator("main h1 *").count() == 0
    assert "<i>raw markup</i>" in by_title or "Fish & Chips" in by_title


@pytest.mark.requires_browser
def test_photo_page_shows_the_whole_comment_thread(tab, world):
    photo = max(own_photos(world), key=lambda p: len(p["comments"]))
    assert len(photo["comments"]) > 50
    users = {u["nsid"]: u for u in world.account["users"]}
    tab.page.goto(url(tab.site, f"photos/{photo['id']}.html"))
    shown = tab.page.eval_on_selector_all(
        "main li.comment", "els => els.map(e => [e.id, e.querySelector('.comment-head').innerText])"
    )
    want = sorted(photo["comments"], key=lambda c: (c["datecreate"], c["id"]))
    assert [i for i, _ in shown] == [f"comment-{re.sub(r'[^A-Za-z0-9_-]', '_', c['id'])}"
                                     for c in want]  # fmt: skip
    for (_, head), comment in zip(shown, want, strict=True):
        author = users[comment["author"]]
        assert (author["realname"] or author["username"]) in head
    assert tab.page.text_content("main #comments h2") == f"{len(want)} comments"
    texts = tab.page.eval_on_selector_all("main .comment-body", "els => els.map(e => e.innerText)")
    assert "Wow & wow <3" in texts or "Lovely light!" in texts
    faved = tab.page.locator("main #faves li").count()
    assert faved == len(photo["faves"])
    assert not tab.seen.outside
    assert not tab.seen.errors


@pytest.mark.requires_browser
def test_a_comment_date_and_its_flag_read_apart(tab, world):
    """`01:08account deleted` was one word on screen: the date and the flag are separated."""
    gone = {u["nsid"] for u in world.account["users"] if u["deleted"]}
    photo = next(p for p in own_photos(world) if any(c["author"] in gone for c in p["comments"]))
    tab.page.goto(url(tab.site, f"photos/{photo['id']}.html"))
    heads = tab.page.eval_on_selector_all(
        "main li.comment .comment-head", "els => els.map(e => e.innerText)"
    )
    flagged = [head for head in heads if "account deleted" in head]
    assert len(flagged) == sum(c["author"] in gone for c in photo["comments"])
    for head in flagged:
        when = re.search(r"\d(\W*)account deleted", head)
        assert when, head
        assert when.group(1).strip(), head  # not "01:08account deleted"


@pytest.mark.requires_browser
def test_notes_sit_over_the_image(tab, world):
    photo = next(
        p
        for p in own_photos(world)
        if len(p["notes"]) >= 2 and p["orientation"] == 1 and p["media"] == "photo"
    )
    tab.page.goto(url(tab.site, f"photos/{photo['id']}.html"))
    # the sandbox's originals are tiny: show this one 960px wide so 1px is a fine tolerance
    tab.page.eval_on_selector(
        "main figure.media img", "i => { i.style.width = '960px'; i.style.maxHeight = 'none'; }"
    )
    image = tab.page.locator("main figure.media img").bounding_box()
    assert image["width"] == 960
    scale = 500 / max(photo["width"], photo["height"])  # Flickr's 500px frame
    frame_w, frame_h = photo["width"] * scale, photo["height"] * scale
    boxes = tab.page.locator("main .note")
    assert boxes.count() == len(photo["notes"])
    for note in photo["notes"]:
        box = tab.page.locator(f"main #note-box-{note['id']}").bounding_box()
        x, y = note["x"] / frame_w * image["width"], note["y"] / frame_h * image["height"]
        assert box["x"] == pytest.approx(image["x"] + x, abs=1.5)
        assert box["y"] == pytest.approx(image["y"] + y, abs=1.5)
        assert box["width"] == pytest.approx(note["w"] / frame_w * image["width"], abs=1.5)
        assert box["height"] == pytest.approx(note["h"] / frame_h * image["height"], abs=1.5)
    # a note's text shows on hover (and is listed under the photo for everyone)
    first = tab.page.locator(f"main #note-box-{photo['notes'][0]['id']}")
    text = first.locator(".note-text")
    assert not text.is_visible()
    first.hover()
    assert text.is_visible()
    assert fold(text.inner_text()) == fold(re.sub(r"<[^>]+>", "", photo["notes"][0]["text"]))
    assert tab.page.locator("main ul.notes-list li").count() == len(photo["notes"])


@pytest.mark.requires_browser
def test_video_page_has_a_player_on_the_archived_original(tab, world):
    videos = [p for p in own_photos(world) if p["media"] == "video"]
    assert videos
    db = sqlite3.connect(world.archive / "catalog.db")
    for video in videos:
        (path,) = db.execute("SELECT path FROM files WHERE photo_id = ?", (video["id"],)).fetchone()
        tab.page.goto(url(tab.site, f"photos/{video['id']}.html"))
        player = tab.page.locator("main figure.media video")
        assert player.count() == 1
        assert player.get_attribute("controls") is not None
        src = player.evaluate("v => v.currentSrc || v.src")
        assert Path(unquote(urlparse(src).path)) == (world.archive / path).resolve()
        assert src in tab.seen.inside  # the browser went for the file itself
    db.close()
    assert not tab.seen.outside


@pytest.mark.requires_browser
def test_search_finds_a_word_that_is_only_in_comments(tab, world):
    photos = own_photos(world)

    def other_text(p: dict[str, Any]) -> str:
        return fold(" ".join([p["title"], p["description"], *(t["raw"] for t in p["tags"]),
                              *(n["text"] for n in p["notes"])]))  # fmt: skip

    for word in ("lovely", "donde"):  # "¿Dónde está esto?": accents are folded
        assert not any(re.search(rf"\b{word}", other_text(p)) for p in photos)
        want = {
            p["id"] for p in photos if any(re.search(rf"\b{word}", fold(c["text"]))
                                           for c in p["comments"])
        }  # fmt: skip
        assert want
        tab.page.goto(url(tab.site, "search.html") + f"?q={word}")
        tab.page.wait_for_selector("#search-status:not(:empty)")
        assert set(grid_ids(tab.page)) == want, word
        assert tab.page.text_content("#search-status").startswith(f"{len(want)} photo")
    # the search box of any page leads to the same results
    tab.page.goto(url(tab.site, "albums.html"))
    tab.page.fill("header input[name=q]", "LOVELY light")
    tab.page.press("header input[name=q]", "Enter")
    tab.page.wait_for_url(re.compile(r"search\.html\?q="))
    tab.page.wait_for_selector("#search-status:not(:empty)")
    both = {
        p["id"] for p in photos if any("lovely light" in fold(c["text"]) for c in p["comments"])
    }
    assert set(grid_ids(tab.page)) == both
    assert not tab.seen.outside
    assert not tab.seen.errors


@pytest.mark.requires_browser
def test_hostile_html_from_flickr_never_runs(tab, world):
    hostile = [p for p in own_photos(world)
               if any("<script" in c["text"] or "onerror" in c["text"] for c in p["comments"])
               or "<script" in p["description"]]  # fmt: skip
    assert len(hostile) >= 2
    for photo in hostile:
        tab.page.goto(url(tab.site, f"photos/{photo['id']}.html"))
        tab.page.wait_for_timeout(50)
        assert tab.page.title() != "pwned"
        handlers = tab.page.evaluate(
            "() => [...document.querySelectorAll('main *')].filter(e => e.tagName === 'SCRIPT'"
            " || e.tagName === 'IMG' && e.closest('.comment-body, .description')"
            " || [...e.attributes].some(a => a.name.startsWith('on'))).length"
        )
        assert handlers == 0, photo["id"]
    albums = [a for a in world.account["albums"] if "<script" in a["description"]]
    for album in albums:
        tab.page.goto(url(tab.site, f"albums/{album['id']}.html"))
    assert tab.seen.dialogs == []
    assert tab.seen.errors == []
    assert tab.seen.outside == []


@pytest.mark.requires_browser
def test_arrow_keys_move_between_photos(tab, world):
    order = [p["id"] for p in sorted(own_photos(world), key=lambda p: (p["dateupload"], p["id"]),
                                     reverse=True)]  # fmt: skip
    tab.page.goto(url(tab.site, f"photos/{order[5]}.html"))
    for key, index in (("ArrowRight", 6), ("ArrowLeft", 5), ("ArrowLeft", 4)):
        tab.page.keyboard.press(key)
        tab.page.wait_for_url(f"**/photos/{order[index]}.html")
    tab.page.keyboard.press("Escape")
    tab.page.wait_for_url("**/site/index.html")
    assert not tab.seen.errors


@pytest.mark.requires_browser
def test_readable_on_a_phone(browser, world):
    page, seen = open_in(browser, world.archive, viewport={"width": 375, "height": 740},
                         is_mobile=True, has_touch=True)  # fmt: skip
    long_title = next(p for p in own_photos(world) if len(p["title"]) > 200)
    for relative in ("index.html", "albums.html", f"photos/{long_title['id']}.html"):
        page.goto(url(world.archive / "site", relative))
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 375, relative
    assert page.evaluate("() => getComputedStyle(document.querySelector('ul.grid, main'))"
                         ".fontSize") != "0px"  # fmt: skip
    page.context.close()
    assert not seen.outside
    assert not seen.errors


def test_exif_orientation_is_applied(world):
    db = sqlite3.connect(world.archive / "catalog.db")
    turned = [p for p in own_photos(world) if p["orientation"] in (6, 8) and p["media"] == "photo"]
    assert turned
    site = world.archive / "site"
    for photo in turned:
        (path,) = db.execute("SELECT path FROM files WHERE photo_id = ?", (photo["id"],)).fetchone()
        with Image.open(world.archive / path) as original:
            assert original.getexif().get(0x0112) == photo["orientation"]
            raw_w, raw_h = original.size
        (web,) = site.glob(f"w/{photo['id']}-*.jpg")
        with Image.open(web) as copy:
            assert copy.size == (raw_h, raw_w)  # turned a quarter
            assert 0x0112 not in copy.getexif()
    db.close()


@pytest.mark.requires_browser
def test_the_folder_can_be_moved(browser, world, tmp_path):
    moved = tmp_path / "moved archive #1"
    shutil.copytree(world.archive, moved)
    page, seen = open_in(browser, moved)
    photo = next(p for p in own_photos(world) if p["media"] == "photo" and p["album_ids"])
    page.goto(url(moved / "site", f"photos/{photo['id']}.html"))
    assert page.evaluate("() => document.querySelector('main figure img').naturalWidth") > 0
    original = page.get_attribute("main a.original-link", "href")
    assert (moved / "site" / "photos" / unquote(original)).resolve().is_file()
    page.goto(url(moved / "site", "index.html"))
    assert len(grid_ids(page)) == len(own_photos(world))
    page.context.close()
    assert not seen.outside
    assert not seen.errors
    assert all(u.startswith(moved.resolve().as_uri()) for u in seen.inside)


# --- rebuilding ----------------------------------------------------------------------------
def snapshot(site: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(site).as_posix(): (p.stat().st_mtime_ns, p.stat().st_ino)
            for p in site.rglob("*") if p.is_file()}  # fmt: skip


def test_the_old_site_settings_still_work_with_a_warning(world, tmp_path):
    """FLICKR_SITE_PAGE_SIZE, now ``--page-size``: the same site, and one line saying so."""
    archive = tmp_path / "archive"
    shutil.copytree(world.archive, archive)
    before = snapshot(archive / "site")
    old = scrapy("site", "--archive", str(archive), "-s", f"FLICKR_SITE_PAGE_SIZE={PAGE_SIZE}")
    assert old.returncode == 0, old.stderr
    assert old.stderr.splitlines()[0] == (
        "warning: FLICKR_SITE_PAGE_SIZE is deprecated: use scrapy site --page-size "
        "(its value is used for now)"
    )
    assert "pages: 0 written" in old.stderr
    assert snapshot(archive / "site") == before
    bad = scrapy("site", "--archive", str(archive), "--jpeg-quality", "0")
    assert bad.returncode == 1
    assert bad.stderr == "error: --jpeg-quality 0; expected a whole number from 1 to 95\n"


@pytest.mark.requires_browser
def test_a_rebuild_after_a_small_backup_touches_only_what_changed(browser, world, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(world.archive, archive)
    site = archive / "site"
    before = snapshot(site)
    again = build(archive)
    assert again.returncode == 0, again.stderr
    assert "images: 0 made" in again.stderr
    assert "pages: 0 written" in again.stderr
    assert snapshot(site) == before

    photo = next(p for p in own_photos(world) if p["media"] == "photo" and not p["comments"])
    world.sandbox.mutate([{"op": "add_comment", "photo_id": photo["id"],
                           "text": "A quokka <b>photobombed</b> this"}])  # fmt: skip
    result = crawl(world.sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={world.session}")
    assert result.returncode == 0, result.stderr[-3000:]
    before = snapshot(site)
    rebuilt = build(archive)
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = snapshot(site)
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed == {f"photos/{photo['id']}.html", "search-index.js", ".build-state.json"}
    assert set(before) == set(after)

    page, seen = open_in(browser, archive)
    page.goto(url(site, "search.html") + "?q=quokka")
    page.wait_for_selector("#search-status:not(:empty)")
    assert grid_ids(page) == [photo["id"]]
    page.goto(url(site, f"photos/{photo['id']}.html"))
    assert page.locator("main .comment-body b").text_content() == "photobombed"
    page.context.close()
    assert not seen.outside
    assert not seen.errors


def test_full_rebuild_remakes_everything(world, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(world.archive, archive)
    stale = archive / "site" / "tags" / "a-tag-no-longer-used-0badc0de.html"
    stale.write_text("<p>from an earlier build</p>")
    mine = archive / "site" / "notes.txt"
    mine.write_text("not a file the site makes")
    result = build(archive, "--full")
    assert result.returncode == 0, result.stderr
    assert "1 old files removed" in result.stderr
    assert not stale.exists()
    assert mine.read_text() == "not a file the site makes"
    made = re.search(r"images: (\d+) made, 0 kept", result.stderr)
    assert made
    assert int(made.group(1)) == sum(1 for _ in (archive / "site" / "t").iterdir())
    assert ", 0 unchanged" in result.stderr


@pytest.mark.requires_browser
def test_missing_originals_show_a_placeholder(browser, world, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(world.archive, archive)
    db = sqlite3.connect(archive / "catalog.db")
    rows = db.execute("SELECT p.id, p.media, f.path FROM photos p JOIN files f ON f.photo_id = p.id"
                      " WHERE p.owner = ? ORDER BY p.media DESC",
                      (world.account["owner"]["nsid"],)).fetchall()  # fmt: skip
    db.close()
    video = next(r for r in rows if r[1] == "video")
    photo = next(r for r in rows if r[1] == "photo")
    for _, _, path in (video, photo):
        (archive / path).unlink()
    result = build(archive)
    assert result.returncode == 0, result.stderr
    assert "2 originals missing" in result.stderr
    assert not list((archive / "site" / "t").glob(f"{photo[0]}-*"))  # its copies are gone
    page, seen = open_in(browser, archive)
    for pid in (video[0], photo[0]):
        page.goto(url(archive / "site", f"photos/{pid}.html"))
        assert "not in the archive" in page.text_content("main figure figcaption")
        assert page.locator("main video").count() == 0
    page.context.close()
    assert not seen.outside
    assert not seen.errors


def test_bad_archive_is_one_line_and_exit_1(tmp_path):
    result = scrapy("site", "--archive", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: no catalog.db in")
    assert len(result.stderr.strip().splitlines()) == 1
    (tmp_path / "catalog.db").write_text("not a database")
    result = scrapy("site", "--archive", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")


def test_unwritable_site_is_one_line_and_exit_1(world, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy2(world.archive / "catalog.db", archive / "catalog.db")
    (archive / "site").write_text("a file where the site folder goes")
    result = scrapy("site", "--archive", str(archive))
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot write the site")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- the sanitiser, alone and in a browser without any policy ------------------------------
HOSTILE = (
    "<script>alert('xss')</script>",
    '<img src="x" onerror="alert(1)">',
    "<IMG SRC=javascript:alert('XSS')>",
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    '<a href=" javascript:alert(1)">space</a>',
    '<a href="JaVaScRiPt:alert(1)">case</a>',
    '<a href="data:text/html,<script>alert(1)</script>">data</a>',
    '<a href="vbscript:msgbox(1)">vb</a>',
    "<svg><script>alert(1)</script></svg>",
    "<svg onload=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<<script>script>alert(1)<</script>/script>",
    '<img """><script>alert(1)</script>">',
    "<!--<img src=x onerror=alert(1)>-->",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<a href="https://example.org/" onclick="alert(1)" style="x:expression(alert(1))">ok</a>',
    '<details open ontoggle="alert(1)">',
    '<body onload="alert(1)">',
    '<b onmouseover="alert(1)">hover</b>',
    '<a href="https://example.org/?q="><script>alert(1)</script>">q</a>',
    '<style>@import "javascript:alert(1)";</style>',
    'javascript:alert(1) https://example.org/a?b=1&c="2',
    '<img src="https://farm1.staticflickr.com/1/2_a.jpg" alt="&quot;><script>alert(1)</script>">',
)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


@pytest.mark.parametrize("payload", HOSTILE)
def test_sanitised_markup_keeps_only_the_allowlist(payload):
    clean = sanitize(payload)
    parser = _Tags()
    parser.feed(clean)
    parser.close()
    for tag, attrs in parser.found:
        assert tag in TAGS, clean
        for name, value in attrs:
            assert name in ("href", "title", "rel"), clean
            if name == "href":
                assert urlparse(value or "").scheme in SCHEMES, clean
    assert "<script" not in clean.lower()  # as text it is escaped: "&lt;script"


def test_allowed_markup_survives():
    assert sanitize("Some <b>bold</b> and <i>it</i>") == "Some <b>bold</b> and <i>it</i>"
    link = sanitize('<a href="https://example.org/x">see</a>')
    assert link == ('<a href="https://example.org/x" rel="nofollow noopener noreferrer">see</a>')
    assert sanitize("one\ntwo") == "one<br>\ntwo"
    assert sanitize("Wow &amp; wow &lt;3") == "Wow &amp; wow &lt;3"
    assert sanitize('<a href="/photos/me/1/">mine</a>').startswith(
        '<a href="https://www.flickr.com/photos/me/1/"')  # fmt: skip
    bare = sanitize("[https://www.example.com/photos/someone/sets/1234]")
    assert 'href="https://www.example.com/photos/someone/sets/1234"' in bare
    badge = sanitize('<img src="https://farm1.staticflickr.com/1/2_a.jpg" alt="Award">')
    assert badge.startswith('<a href="https://farm1.staticflickr.com/1/2_a.jpg"')
    assert "[image: Award]" in badge
    assert "<img" not in badge


@pytest.mark.requires_browser
def test_sanitised_markup_does_not_run_even_without_a_policy(browser, tmp_path):
    """The policy is a second wall: the sanitiser's output alone must not run anything."""
    page_file = tmp_path / "hostile.html"
    body = "\n".join(f"<div>{sanitize(p)}</div>" for p in HOSTILE)
    page_file.write_text(f"<!doctype html><meta charset=utf-8><title>t</title>{body}")
    page, seen = open_in(browser, tmp_path)
    page.add_init_script("window.alert = m => { window.__ran = true; }")
    page.goto(page_file.as_uri())
    for link in page.locator("a").all():
        assert urlparse(link.get_attribute("href") or "https://x").scheme in SCHEMES
    page.hover("b")
    page.wait_for_timeout(100)
    assert page.evaluate("() => window.__ran === undefined")
    assert seen.dialogs == []
    assert seen.errors == []
    assert seen.outside == []  # no image or frame tried to load anything
    page.context.close()


def test_site_assets_are_installed_as_package_data():
    from importlib import resources

    from flickr_crawl.site.build import ASSETS

    folder = resources.files("flickr_crawl.site") / "assets"
    for name in ASSETS:
        assert (folder / name).is_file(), name


# --- thumbnails and web copies, from real image files ------------------------------------
SIZES = images.Sizes(thumb=64, web=200, quality=80)


def _derive(tmp_path: Path, name: str, image: Image.Image, **save: Any) -> images.Derived | None:
    source = tmp_path / name
    image.save(source, **save)
    key = images.key_for("42", "sha-of-" + name, None, SIZES)
    return images.derive(images.Job("42", source, key), tmp_path / "site", SIZES)


def test_copies_respect_exif_orientation_and_carry_no_metadata(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show it rotated a quarter
    exif[0x010F] = "Camera maker"
    made = _derive(tmp_path, "turned.jpg", Image.new("RGB", (600, 400), "red"), exif=exif)
    assert made is not None
    assert (made.width, made.height) == (133, 200)  # long edge 200, portrait now
    with Image.open(tmp_path / "site" / made.web) as web:
        assert web.size == (133, 200)
        assert not web.getexif()
    with Image.open(tmp_path / "site" / made.thumb) as thumb:
        assert thumb.size == (64, 96)  # covers a 64px square


def test_transparent_cmyk_and_16_bit_originals_become_rgb_jpegs(tmp_path):
    clear = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    for name, image, save in (("clear.png", clear, {}),
                              ("print.jpg", Image.new("CMYK", (300, 200), (0, 255, 0, 0)), {}),
                              ("deep.png", Image.new("I;16", (300, 200), 40000), {}),
                              ("anim.gif", Image.new("P", (300, 200), 3), {})):  # fmt: skip
        made = _derive(tmp_path, name, image, **save)
        assert made is not None, name
        with Image.open(tmp_path / "site" / made.web) as web:
            assert web.format == "JPEG"
            assert web.mode == "RGB"
            if name == "clear.png":
                assert web.getpixel((10, 10)) == pytest.approx((255, 255, 255), abs=2)


def test_an_unreadable_original_makes_no_copies(tmp_path):
    broken = tmp_path / "cut.jpg"
    Image.new("RGB", (400, 300), "blue").save(broken)
    broken.write_bytes(broken.read_bytes()[:200])
    job = images.Job("7", broken, images.key_for("7", "x", None, SIZES))
    assert images.derive(job, tmp_path / "site", SIZES) is None
    assert not list((tmp_path / "site").rglob("*.jpg"))
    job = images.Job("8", tmp_path / "text.jpg", "0" * 12)
    (tmp_path / "text.jpg").write_text("<html>not an image</html>")
    assert images.derive(job, tmp_path / "site", SIZES) is None


def test_copies_are_found_again_and_keyed_on_the_original(tmp_path):
    made = _derive(tmp_path, "a.jpg", Image.new("RGB", (500, 250), "green"))
    assert made is not None
    assert images.existing(tmp_path / "site") == {("42", made.key): made}
    (tmp_path / "site" / made.thumb).unlink()  # half a pair does not count
    assert images.existing(tmp_path / "site") == {}
    assert images.key_for("42", "aaa", 10, SIZES) != images.key_for("42", "bbb", 10, SIZES)
    bigger = images.Sizes(thumb=64, web=400, quality=80)
    assert images.key_for("42", "aaa", 10, SIZES) != images.key_for("42", "aaa", 10, bigger)


# --- timeline and map ----------------------------------------------------------------------
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")  # fmt: skip


def taken_as_shown(photo: dict[str, Any]) -> str:
    """The date taken as a person reads it, at Flickr's granularity (0 exact, 4 month,
    6 year, 8 circa), from the sandbox's own "YYYY-MM-DD HH:MM:SS"."""
    year, month, day = photo["datetaken"][:4], photo["datetaken"][5:7], photo["datetaken"][8:10]
    granularity = photo["takengranularity"]
    if granularity == 8:
        return f"circa {year}"
    if granularity == 6:
        return year
    if granularity == 4:
        return f"{MONTH_NAMES[int(month) - 1]} {year}"
    return f"{int(day)} {MONTH_NAMES[int(month) - 1]} {year}, {photo['datetaken'][11:16]}"


def watch_requests(page: Any) -> list[str]:
    """Every request the page makes (before routing decides), in order."""
    made: list[str] = []
    page.on("request", lambda request: made.append(request.url))
    return made


@pytest.mark.requires_browser
def test_timeline_counts_years_and_months_and_opens_their_photos(tab, world):
    made = watch_requests(tab.page)
    photos = own_photos(world)
    years: dict[str, set[str]] = {}
    months: dict[tuple[str, str], set[str]] = {}
    for p in photos:
        years.setdefault(p["datetaken"][:4], set()).add(p["id"])
        if p["takengranularity"] in (0, 4):
            months.setdefault((p["datetaken"][:4], p["datetaken"][5:7]), set()).add(p["id"])
    assert any(p["takengranularity"] in (6, 8) for p in photos), "year-only dates to show"
    tab.page.goto(url(tab.site, "timeline.html"))
    shown_years = tab.page.eval_on_selector_all(
        "main li.year", "els => els.map(e => [e.dataset.year, Number(e.dataset.count)])"
    )
    assert shown_years == sorted(([y, len(ids)] for y, ids in years.items()), reverse=True)
    shown_months = tab.page.eval_on_selector_all(
        "main li.year li[data-month]",
        "els => els.map(e => [e.closest('li.year').dataset.year, e.dataset.month,"
        " Number(e.dataset.count), e.querySelector('.count').textContent])",
    )
    assert {(y, m): n for y, m, n, _ in shown_months} == {k: len(v) for k, v in months.items()}
    assert all(str(n) == text for _, _, n, text in shown_months)
    tab.page.screenshot(path=str(world.tmp / "timeline.png"), full_page=True)
    # Each year and month opens its photos, each dated at the precision Flickr knows it.
    by_id = {p["id"]: p for p in photos}
    busiest = max(months, key=lambda k: len(months[k]))
    vague = {p["datetaken"][:4] for p in photos if p["takengranularity"] in (6, 8)}
    opened = [(year, years[year]) for year in sorted(vague)]
    opened.append((f"{MONTH_NAMES[int(busiest[1]) - 1]} {busiest[0]}", months[busiest]))
    for label, expected in opened:
        tab.page.goto(url(tab.site, "timeline.html"))
        with tab.page.expect_navigation():
            tab.page.get_by_role("link", name=label, exact=True).click()
        dates = {}
        while True:
            for href, text in tab.page.eval_on_selector_all(
                "main ul.grid a",
                "els => els.map(e => [e.href, e.querySelector('time').textContent])",
            ):
                dates[Path(urlparse(href).path).stem] = text
            following = tab.page.locator("main nav.pager a[rel=next]").first
            if not following.count():
                break
            with tab.page.expect_navigation():
                following.click()
        assert set(dates) == expected, label
        assert dates == {pid: taken_as_shown(by_id[pid]) for pid in expected}
    # A photo's own page dates it at the same precision.
    for p in [p for p in photos if p["takengranularity"] in (4, 6, 8)][:3]:
        tab.page.goto(url(tab.site, f"photos/{p['id']}.html"))
        taken = tab.page.locator("dl.facts dt", has_text="Taken").locator(
            "xpath=following-sibling::dd[1]"
        )
        assert taken.text_content() == taken_as_shown(p), p["id"]
    assert made
    assert all(u.startswith("file://") for u in made), made
    assert not tab.seen.outside
    assert not tab.seen.errors


@pytest.mark.requires_browser
def test_map_places_public_locations_offline_and_links_them(tab, world):
    made = watch_requests(tab.page)
    photos = own_photos(world)
    public = {p["id"]: p for p in photos if p["geo"] and p["ispublic"]}
    private = {p["id"] for p in photos if p["geo"] and not p["ispublic"]}
    assert public, "the sandbox account has public locations"
    assert private, "and private ones"
    tab.page.set_viewport_size({"width": 1200, "height": 900})
    tab.page.goto(url(tab.site, "map.html"))
    tab.page.wait_for_load_state("load")
    points = tab.page.eval_on_selector_all(
        "main svg.worldmap a",
        "els => els.map(e => [e.dataset.photo, e.getAttribute('href'),"
        " Number(e.querySelector('circle').getAttribute('cx')),"
        " Number(e.querySelector('circle').getAttribute('cy'))])",
    )
    assert {pid for pid, *_ in points} == set(public)
    for pid, href, x, y in points:
        geo = public[pid]["geo"]
        assert x == pytest.approx(geo["longitude"] + 180, abs=1e-3)
        assert y == pytest.approx(90 - geo["latitude"], abs=1e-3)
        assert href == f"photos/{pid}.html"
        assert (tab.site / href).is_file()
    listed = tab.page.eval_on_selector_all(
        "main ul.map-list li", "els => els.map(e => e.dataset.photo)"
    )
    assert set(listed) == set(public)
    # The outline is drawn (ocean, land and the points' colours all on screen), from the file.
    shot = world.tmp / "map.png"
    tab.page.locator("main svg.worldmap").screenshot(path=str(shot))
    colours = {c for _, c in Image.open(shot).convert("RGB").getcolors(1 << 20)}
    assert (0xDF, 0xEA, 0xF3) in colours  # ocean
    assert (0xF4, 0xF1, 0xEA) in colours  # land
    assert (0xFF, 0x00, 0x84) in colours  # a point
    assert url(tab.site, "assets/world.svg") in made
    assert all(u.startswith("file://") for u in made), made
    # A point opens its photo's page (the last one drawn: nothing covers it).
    pid = points[-1][0]
    with tab.page.expect_navigation():
        tab.page.locator(f'main svg.worldmap a[data-photo="{pid}"] circle').click(force=True)
    assert tab.page.url == url(tab.site, f"photos/{pid}.html")
    assert not tab.seen.outside
    assert not tab.seen.errors
