"""``scrapy weblogin``: sign in to Flickr in a real browser and keep the web session.

Flickr serves video originals (``play/orig``) only to a signed-in web session, never to OAuth.
This opens Chromium (Playwright) at Flickr's sign-in page. A person signs in in the window
(headed, the default where there is a display); for automation and tests ``--username`` with
the password in ``FLICKR_WEB_PASSWORD`` fills the form headless. Once Flickr has set its
session cookies, the browser's storage state is saved to ``FLICKR_WEB_SESSION_FILE`` (mode
0600). Cookie values are never printed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand

from flickr_crawl.archive.storage import write_private_atomic
from flickr_crawl.flickr.browser import NoBrowser, chromium_path
from flickr_crawl.flickr.websession import SESSION_COOKIES, session_file_path

if TYPE_CHECKING:
    import argparse

USERNAME_FIELDS = 'input[name="username"], input[type="email"], input[name="email"]'
PASSWORD_FIELDS = 'input[type="password"]'  # noqa: S105 - a CSS selector, not a password
SUBMIT_BUTTONS = '#login-submit, button[type="submit"], input[type="submit"]'
# Where a sign-in page says why it did not sign you in (wrong password, unknown account).
REFUSALS = '[role="alert"], .error, .error-message, .form-error, #login-error'


class WebLoginError(Exception):
    pass


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--username NAME] [--headless] [--timeout SECONDS]"

    def short_desc(self) -> str:
        return "Sign in to Flickr in a browser and save the web session (for video originals)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--username", help="fill the form (password from FLICKR_WEB_PASSWORD)")
        parser.add_argument("--headless", action="store_true", help="no browser window")
        parser.add_argument("--timeout", type=float, default=300, help="seconds to wait (300)")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        path = session_file_path(self.settings.get("FLICKR_WEB_SESSION_FILE"))
        signin = self.settings.get("FLICKR_SIGNIN_URL") or (
            self.settings.get("FLICKR_WEB_URL").rstrip("/") + "/signin/"
        )
        password = os.environ.get("FLICKR_WEB_PASSWORD", "")
        if opts.username and not password:
            print("error: --username needs the password in FLICKR_WEB_PASSWORD", file=sys.stderr)
            self.exitcode = 1
            return
        if not (opts.headless or opts.username or os.environ.get("DISPLAY")):
            print(
                "error: no display for a browser window: run this on a desktop, or use "
                "--username with the password in FLICKR_WEB_PASSWORD",
                file=sys.stderr,
            )
            self.exitcode = 1
            return
        headless = opts.headless or bool(opts.username)
        try:
            state = sign_in(
                signin, chromium_path(self.settings.get("FLICKR_CHROMIUM_PATH")),
                username=opts.username, password=password, headless=headless,
                timeout=opts.timeout,
            )  # fmt: skip
        except (WebLoginError, NoBrowser) as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        write_private_atomic(path, json.dumps(state, indent=2).encode("utf-8"))
        print(f"Signed in to Flickr; web session saved to {path} (mode 0600).")


def _refusal(page: Any) -> str:
    """The sign-in page's visible error message after a filled form was sent; "" if none.

    Read between page loads, so a page going away mid-read just means "not yet".
    """
    from playwright.sync_api import Error as PlaywrightError

    try:
        for element in page.query_selector_all(REFUSALS):
            if element.is_visible() and (text := " ".join(element.inner_text().split())):
                return text[:200]
    except PlaywrightError:
        pass  # the page is navigating: look again on the next round
    return ""


def sign_in(
    url: str, executable: str | None, *, username: str | None, password: str, headless: bool,
    timeout: float,
) -> dict[str, Any]:  # fmt: skip
    """Drive the sign-in page until Flickr's session cookies exist; the storage state."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise WebLoginError("Playwright is not installed: pip install playwright") from None

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=headless)
        except PlaywrightError as exc:
            raise WebLoginError(f"cannot start Chromium: {str(exc).splitlines()[0]}") from None
        try:
            context = browser.new_context()
            page = context.new_page()
            try:
                page.goto(url, timeout=60_000)
                if username:
                    page.fill(USERNAME_FIELDS, username)
                    page.fill(PASSWORD_FIELDS, password)
                    page.click(SUBMIT_BUTTONS)
                else:
                    print(f"Sign in to Flickr in the browser window ({url}); waiting...",
                          flush=True)  # fmt: skip
            except PlaywrightError as exc:
                raise WebLoginError(f"sign-in page failed: {str(exc).splitlines()[0]}") from None
            # A person may take minutes; a filled form is answered in seconds or not at all.
            deadline = time.monotonic() + (min(timeout, 30) if username else timeout)
            while time.monotonic() < deadline:
                try:
                    names = {c["name"] for c in context.cookies()}
                except PlaywrightError:
                    raise WebLoginError("the browser was closed before signing in") from None
                if names >= SESSION_COOKIES:
                    return dict(context.storage_state())
                if username and (refusal := _refusal(page)):
                    raise WebLoginError(f"Flickr did not sign you in: {refusal}")
                try:
                    page.wait_for_timeout(250)
                except PlaywrightError:
                    raise WebLoginError("the browser was closed before signing in") from None
            raise WebLoginError(
                f"no Flickr session after {timeout:.0f} s (wrong user name or password?)"
            )
        finally:
            browser.close()
