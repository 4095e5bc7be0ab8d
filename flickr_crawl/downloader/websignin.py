"""Signing in to Flickr's web pages through scrapy-playwright, as one Scrapy request.

Flickr serves video originals only to a signed-in web session. The sign-in page is opened by
a request that scrapy-playwright renders (``meta["playwright"]``) in a persistent browser
context, whose profile sits beside the session file (0700): what Flickr keeps there besides
the session (a trusted device, say) survives, while its two session cookies are dropped
first, so the ones seen afterwards are new. With a user name, page methods fill the form and
send it; without, a person signs in in the window. Then the page is watched until Flickr has
set its session cookies (the storage state is the result) or says why it would not.

``scrapy weblogin`` sends this request from a tiny spider; a crawl sends it on its engine
when Flickr refuses the session mid-run (``MediaCookiesMiddleware.renew``). The password goes
only into the form: it is in no log line, message or file.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from scrapy import Request

from flickr_crawl.flickr.websession import SESSION_COOKIES

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.async_api import Page
    from scrapy.settings import BaseSettings

SIGNIN_CONTEXT = "flickr-web"  # the persistent context's name in scrapy-playwright
SIGNIN_SLOT = "flickr-web"  # its download slot: apart from the API's and the media's
USERNAME_FIELDS = 'input[name="username"], input[type="email"], input[name="email"]'
PASSWORD_FIELDS = 'input[type="password"]'  # noqa: S105 - a CSS selector, not a password
SUBMIT_BUTTONS = '#login-submit, button[type="submit"], input[type="submit"]'
# Where a sign-in page says why it did not sign you in (wrong password, unknown account).
REFUSALS = '[role="alert"], .error, .error-message, .form-error, #login-error'
FIELD_TIMEOUT_MS = 15_000  # a sign-in page without its form fails in seconds, not minutes
FILLED_WAIT = 30.0  # seconds a filled form has to be answered (a person may take minutes)


class WebSignInError(Exception):
    """Flickr did not sign in (or could not be asked): a one-line reason."""


def signin_url(settings: BaseSettings) -> str:
    return str(
        settings.get("FLICKR_SIGNIN_URL")
        or str(settings.get("FLICKR_WEB_URL")).rstrip("/") + "/signin/"
    )


async def forget_session(page: Page, request: Request) -> None:
    """(page init callback) Drop the profile's old session cookies before the sign-in page
    loads, so the session cookies the wait sees are the new sign-in's."""
    names = re.compile("^(" + "|".join(sorted(SESSION_COOKIES)) + ")$")
    await page.context.clear_cookies(name=names)


def signin_request(
    url: str, *, profile: Path, executable: str | None, headless: bool, username: str | None,
    password: str,
) -> Request:  # fmt: skip
    """The scrapy-playwright request that opens the sign-in page in the persistent context
    (profile ``profile``) and, given a user name, fills and sends the form. The page comes
    with the response (``meta["playwright_page"]``) for ``wait_for_session``."""
    from scrapy_playwright.page import PageMethod

    profile.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # the session file's too
    profile.mkdir(exist_ok=True, mode=0o700)
    profile.chmod(0o700)
    context: dict[str, Any] = {"user_data_dir": str(profile), "headless": headless}
    if executable:
        context["executable_path"] = executable
    methods = []
    if username:
        methods = [
            PageMethod("fill", USERNAME_FIELDS, username, timeout=FIELD_TIMEOUT_MS),
            PageMethod("fill", PASSWORD_FIELDS, password, timeout=FIELD_TIMEOUT_MS),
            PageMethod("click", SUBMIT_BUTTONS, timeout=FIELD_TIMEOUT_MS),
        ]
    return Request(
        url,
        dont_filter=True,
        meta={
            "playwright": True,
            "playwright_context": SIGNIN_CONTEXT,
            "playwright_context_kwargs": context,
            "playwright_page_init_callback": forget_session,
            "playwright_page_methods": methods,
            # The page stays ours, also when a page method fails: closed by close_request.
            "playwright_include_page": True,
            "download_slot": SIGNIN_SLOT,
            "dont_merge_cookies": True,  # the browser keeps its own cookies
        },
    )


async def wait_for_session(page: Page, *, filled: bool, wait: float) -> dict[str, Any]:
    """Watch the page (``wait`` seconds at most) until Flickr's session cookies exist: the
    context's storage state.
    ``WebSignInError`` when the page says why not (a filled form), or at the deadline. The
    browser context is closed either way (Chromium is not kept for the rest of a crawl)."""
    from playwright.async_api import Error as PlaywrightError

    deadline = time.monotonic() + (min(wait, FILLED_WAIT) if filled else wait)
    try:
        while time.monotonic() < deadline:
            try:
                names = {c["name"] for c in await page.context.cookies()}
                if names >= SESSION_COOKIES:
                    return dict(await page.context.storage_state())
            except PlaywrightError:
                raise WebSignInError("the browser was closed before signing in") from None
            if filled and (refusal := await _refusal(page)):
                raise WebSignInError(f"Flickr did not sign you in: {refusal}")
            await asyncio.sleep(0.25)
        raise WebSignInError(f"no Flickr session after {wait:.0f} s (wrong user name or password?)")
    finally:
        with suppress(PlaywrightError):
            await page.context.close()


async def close_request(request: Request) -> None:
    """Close the browser context of a sign-in request that failed (its page, if it got one)."""
    from playwright.async_api import Error as PlaywrightError

    page = request.meta.get("playwright_page")
    if page is not None:
        with suppress(PlaywrightError):
            await page.context.close()


def failure_reason(request: Request, exc: BaseException) -> str:
    """One line for a sign-in request that raised: the browser did not start, or the page
    (or its form) failed."""
    first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
    if request.meta.get("playwright_page") is None:
        return f"cannot start Chromium: {first}"
    return f"sign-in page failed: {first}"


async def _refusal(page: Page) -> str:
    """The sign-in page's visible error message after a filled form was sent; "" if none.

    Read between page loads, so a page going away mid-read just means "not yet".
    """
    from playwright.async_api import Error as PlaywrightError

    try:
        for element in await page.query_selector_all(REFUSALS):
            if await element.is_visible() and (
                text := " ".join((await element.inner_text()).split())
            ):
                return text[:200]
    except PlaywrightError:
        pass  # the page is navigating: look again on the next round
    return ""
