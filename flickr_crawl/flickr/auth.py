"""Flickr credentials: the auth file (mode 0600), its env-var fallback, and the OAuth 1.0a dance.

The dance (request token, authorize with an oob verifier, access token) uses requests-oauthlib;
signing of crawl requests happens elsewhere (``flickr_crawl.downloader.signing``) with plain
oauthlib.
No Scrapy imports here, so commands and tests use it directly.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flickr_crawl.archive.storage import write_private_atomic

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import oauthlib.oauth1

DEFAULT_AUTH_FILE = Path("~/.config/flickr-crawl/auth.json")
ENV_KEY = "FLICKR_API_KEY"
ENV_SECRET = "FLICKR_API_SECRET"  # noqa: S105 - the variable's name, not a secret


class AuthError(Exception):
    """Credentials are missing, unreadable or rejected; the message says what to do."""


class FlickrUnavailable(AuthError):
    """Flickr gave no answer, or not one from the API: nothing is known about the credentials,
    so they are kept."""


@dataclass(kw_only=True)
class Credentials:
    """An API key pair and, once authorised, the user's access token."""

    api_key: str
    api_secret: str
    oauth_token: str = ""
    oauth_token_secret: str = ""
    user_nsid: str = ""
    username: str = ""
    fullname: str = ""
    perms: str = ""

    @property
    def authorised(self) -> bool:
        return bool(self.oauth_token and self.oauth_token_secret)

    def __repr__(self) -> str:  # never leak secrets through a log line or a traceback
        return f"Credentials(api_key={self.api_key!r}, user_nsid={self.user_nsid!r}, ...)"


def auth_file_path(setting: str | os.PathLike[str] | None) -> Path:
    """The auth file to use: the setting if given, else the per-user default."""
    return Path(setting).expanduser() if setting else DEFAULT_AUTH_FILE.expanduser()


def load_credentials(
    path: Path, env: Mapping[str, str] | None = None, *, require_token: bool = True
) -> Credentials:
    """Read the auth file; fall back to FLICKR_API_KEY/FLICKR_API_SECRET for the key pair.

    Raises AuthError with a one-line, actionable message.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AuthError(f"cannot read auth file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise AuthError(f"auth file {path} is not a JSON object; run `scrapy auth --reauth`")
    data.setdefault("api_key", env.get(ENV_KEY, ""))
    data.setdefault("api_secret", env.get(ENV_SECRET, ""))
    if not data["api_key"] or not data["api_secret"]:
        raise AuthError(
            f"no Flickr API key: run `scrapy auth` (or set {ENV_KEY} and {ENV_SECRET}); "
            f"looked in {path}"
        )
    known = set(Credentials.__dataclass_fields__)
    creds = Credentials(**{k: str(v) for k, v in data.items() if k in known})
    if require_token and not creds.authorised:
        raise AuthError(f"no Flickr access token in {path}: run `scrapy auth`")
    return creds


def save_credentials(path: Path, creds: Credentials) -> None:
    """Write the auth file atomically, readable by the owner only from the first byte."""
    write_private_atomic(path, (json.dumps(asdict(creds), indent=2) + "\n").encode("utf-8"))


def oauth_dance(
    creds: Credentials,
    oauth_url: str,
    *,
    ask_verifier: Callable[[str], str],
    perms: str = "read",
) -> Credentials:
    """Run the out-of-band OAuth 1.0a flow; ``ask_verifier(authorize_url)`` returns the code."""
    from oauthlib.oauth1 import SIGNATURE_TYPE_AUTH_HEADER
    from requests_oauthlib import OAuth1Session
    from requests_oauthlib.oauth1_session import TokenRequestDenied

    base = oauth_url.rstrip("/") + "/"
    session = OAuth1Session(
        creds.api_key,
        client_secret=creds.api_secret,
        callback_uri="oob",
        signature_method="HMAC-SHA1",
        signature_type=SIGNATURE_TYPE_AUTH_HEADER,
    )
    try:
        session.fetch_request_token(base + "request_token")
        authorize_url = session.authorization_url(base + "authorize", perms=perms)
        verifier = ask_verifier(authorize_url).strip()
        if not verifier:
            raise AuthError("no verifier entered; nothing was changed")
        session.auth.client.verifier = verifier
        token = session.fetch_access_token(base + "access_token", verifier=verifier)
    except TokenRequestDenied as exc:
        problem = _oauth_problem(exc.response.text)
        raise AuthError(
            f"Flickr refused the OAuth request ({exc.status_code} {problem}); check the API key "
            "and secret"
        ) from None
    except OSError as exc:
        raise FlickrUnavailable(
            f"cannot reach Flickr at {base}: {exc.__class__.__name__}"
        ) from None
    except ValueError:  # requests-oauthlib's TokenMissing: an answer without a token
        raise AuthError(f"Flickr's answer from {base} held no token; try again") from None
    if not token.get("oauth_token") or not token.get("oauth_token_secret"):
        raise AuthError(f"Flickr's answer from {base} held no access token; try again")
    return Credentials(
        api_key=creds.api_key,
        api_secret=creds.api_secret,
        oauth_token=token["oauth_token"],
        oauth_token_secret=token["oauth_token_secret"],
        user_nsid=token.get("user_nsid", ""),
        username=token.get("username", ""),
        fullname=token.get("fullname", ""),
        perms=perms,
    )


def oauth_client(creds: Credentials) -> oauthlib.oauth1.Client:
    """The signer of API calls: OAuth 1.0a, HMAC-SHA1, into the Authorization header. Sign
    each attempt anew (fresh nonce and timestamp)."""
    from oauthlib.oauth1 import Client

    return Client(
        creds.api_key,
        client_secret=creds.api_secret,
        resource_owner_key=creds.oauth_token or None,
        resource_owner_secret=creds.oauth_token_secret or None,
        signature_method="HMAC-SHA1",
        signature_type="AUTH_HEADER",
    )


def _oauth_problem(body: str) -> str:
    from urllib.parse import parse_qs

    return parse_qs(body).get("oauth_problem", ["unknown problem"])[0]


def check_login(creds: Credentials, api_url: str, *, timeout: float = 30) -> dict[str, str]:
    """Call flickr.test.login signed with the token: the user's nsid and name, or AuthError."""
    import requests
    from requests_oauthlib import OAuth1

    from flickr_crawl.flickr.api import (
        TEST_LOGIN,
        BadResponse,
        FlickrApiError,
        call_params,
        parse_envelope,
    )
    from flickr_crawl.flickr.reachable import why_unreachable

    auth = OAuth1(
        creds.api_key,
        client_secret=creds.api_secret,
        resource_owner_key=creds.oauth_token,
        resource_owner_secret=creds.oauth_token_secret,
        signature_method="HMAC-SHA1",
    )
    try:
        response = requests.get(
            api_url,
            params=call_params(TEST_LOGIN, creds.api_key),
            auth=auth,
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise FlickrUnavailable(
            f"cannot reach Flickr at {api_url}: {why_unreachable(exc, timeout)}"
        ) from None
    if response.status_code in (400, 401):
        raise AuthError(f"Flickr rejected the token (OAuth {_oauth_problem(response.text)})")
    try:
        data = parse_envelope(response.content)
    except FlickrApiError as exc:
        if not exc.auth:  # "service unavailable" and the like: the token may be fine
            raise FlickrUnavailable(
                f"Flickr could not check the token now (code {exc.code}: {exc.message})"
            ) from None
        raise AuthError(f"Flickr rejected the token (code {exc.code}: {exc.message})") from None
    except BadResponse:
        # An error page (Flickr down, a proxy) says nothing about the token.
        raise FlickrUnavailable(
            f"unexpected answer from {api_url} (HTTP {response.status_code})"
        ) from None
    user = data.get("user", {})
    username = user.get("username", {})
    return {
        "user_nsid": str(user.get("id", "")),
        "username": str(username.get("_content", "") if isinstance(username, dict) else username),
    }
