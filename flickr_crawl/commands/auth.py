"""``scrapy auth``: authorise flickr-crawl to read your Flickr account (OAuth 1.0a, perms=read).

Prints the authorize URL (and opens a browser where there is one), reads the verifier code
Flickr shows, checks the token with flickr.test.login and stores key, secret and token in the
auth file with mode 0600. A stored token is checked first and kept when it still works, or
when Flickr cannot be reached to tell (exit 1: a token is never thrown away for a network fault).
"""

from __future__ import annotations

import sys
import webbrowser
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from flickr_crawl.extensions.redact import quiet_oauth_loggers
from flickr_crawl.flickr.auth import (
    AuthError,
    Credentials,
    FlickrUnavailable,
    auth_file_path,
    check_login,
    load_credentials,
    oauth_dance,
    save_credentials,
)

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCommand):
    requires_project = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--reauth] [--api-key KEY --api-secret SECRET]"

    def short_desc(self) -> str:
        return "Authorise access to your Flickr account and store the token (mode 0600)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--reauth", action="store_true", help="always get a new token")
        parser.add_argument("--api-key", help="your Flickr API key (else from the auth file/env)")
        parser.add_argument("--api-secret", help="its secret (else asked for, or from env)")
        parser.add_argument("--no-browser", action="store_true", help="do not open a browser")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        quiet_oauth_loggers()  # their DEBUG lines carry tokens and signatures
        try:
            self._run(opts)
        except AuthError as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 1
        except (KeyboardInterrupt, EOFError):
            print("\nerror: cancelled; nothing was changed", file=sys.stderr)
            self.exitcode = 1

    def _run(self, opts: argparse.Namespace) -> None:
        assert self.settings is not None
        path = auth_file_path(self.settings.get("FLICKR_AUTH_FILE"))
        api_url = self.settings.get("FLICKR_API_URL")
        creds = self._key_pair(path, opts)
        if creds.authorised and not opts.reauth:
            try:
                user = check_login(creds, api_url)
            except FlickrUnavailable as exc:
                raise FlickrUnavailable(
                    f"{exc}; the stored token in {path} is kept (it may well still work)"
                ) from None
            except AuthError as exc:
                print(f"The stored token does not work ({exc}); authorising again.")
            else:
                print(
                    f"Already authorised as {user['username']} ({user['user_nsid']}); "
                    f"credentials in {path}. Use --reauth for a new token."
                )
                return
        creds = oauth_dance(
            creds,
            self.settings.get("FLICKR_OAUTH_URL"),
            ask_verifier=lambda url: _ask_verifier(url, open_browser=not opts.no_browser),
        )
        user = check_login(creds, api_url)
        creds.user_nsid = user["user_nsid"] or creds.user_nsid
        creds.username = user["username"] or creds.username
        save_credentials(path, creds)
        print(
            f"Authorised as {creds.username} ({creds.user_nsid}); credentials saved to {path} "
            "(mode 0600)."
        )

    def _key_pair(self, path: object, opts: argparse.Namespace) -> Credentials:
        """The API key and secret: options, else the auth file or env vars, else asked for."""
        try:
            stored = load_credentials(auth_file_path(str(path)), require_token=False)
        except AuthError:
            stored = None
        key = opts.api_key or (stored.api_key if stored else "")
        secret = opts.api_secret or (stored.api_secret if stored and stored.api_key == key else "")
        if not key:
            key = _prompt("Flickr API key (https://www.flickr.com/services/apps/create/): ")
        if not secret:
            secret = _prompt("API secret: ")
        if not key or not secret:
            raise AuthError("an API key and secret are needed")
        if stored and stored.api_key == key and stored.api_secret == secret:
            return stored
        if stored and stored.authorised:
            print("The stored token belongs to another API key; authorising again.")
        return Credentials(api_key=key.strip(), api_secret=secret.strip())


def _prompt(question: str) -> str:
    return input(question).strip()


def _ask_verifier(url: str, *, open_browser: bool) -> str:
    print("Open this URL, sign in to Flickr and allow read access:")
    print(url, flush=True)
    if open_browser and sys.stdin.isatty():
        webbrowser.open(url)
    return _prompt("Verifier code shown by Flickr: ")
