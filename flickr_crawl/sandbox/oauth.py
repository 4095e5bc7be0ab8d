"""OAuth 1.0a provider for the sandbox: token issuing and real HMAC-SHA1 verification.

Mirrors Flickr's ``/services/oauth/*`` endpoints and the checks Flickr applies to signed REST
calls. Signature base strings are built with oauthlib's RFC 5849 helpers from the parameters in
the ``Authorization`` header, the query string and a form body, against the URL reconstructed
from the ``Host`` header. Failures are returned the way Flickr returns them: form-encoded
``oauth_problem=...`` bodies with HTTP 400/401 (``debug_sbs`` on signature failures).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from oauthlib.oauth1.rfc5849 import signature, utils

TIMESTAMP_WINDOW = 600  # seconds either side of the server clock
REQUIRED = (
    "oauth_consumer_key",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
)


class OAuthError(Exception):
    """An OAuth failure with Flickr's status code and form-encoded body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


@dataclass
class Token:
    """An issued request or access token."""

    key: str
    secret: str
    consumer: str
    nsid: str = ""
    perms: str = "read"
    callback: str = "oob"
    verifier: str = ""
    authorized: bool = False


@dataclass
class Signed:
    """The result of verifying a signed request."""

    consumer: str
    token: Token | None
    params: dict[str, str]


def _absent(*names: str) -> OAuthError:
    return OAuthError(
        400, "oauth_problem=parameter_absent&oauth_parameters_absent=" + quote("&".join(names))
    )


class OAuthProvider:
    """Consumers, tokens and nonces of the sandbox, plus the signature check."""

    def __init__(self, consumers: dict[str, str], seed: int) -> None:
        self.consumers = dict(consumers)
        self.access: dict[str, Token] = {}
        self.request: dict[str, Token] = {}
        self._nonces: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self._rng = random.Random(f"oauth:{seed}")

    def add_access_token(self, token: Token) -> None:
        """Register a ready access token (the --auth-file one)."""
        self.access[token.key] = token

    def _new_pair(self) -> tuple[str, str]:
        with self._lock:
            key = f"{72157 * 10**12 + self._rng.randrange(10**12)}-{self._rng.getrandbits(64):016x}"
            return key, f"{self._rng.getrandbits(64):016x}"

    @staticmethod
    def oauth_params(
        auth_header: str | None, query: list[tuple[str, str]], body: list[tuple[str, str]]
    ) -> dict[str, str]:
        """All ``oauth_*`` parameters found in header, query and body."""
        found: dict[str, str] = {}
        if auth_header and auth_header.lower().startswith("oauth "):
            for k, v in utils.parse_authorization_header(auth_header):
                if k.startswith("oauth_"):
                    found[k] = utils.unescape(v)
        for k, v in [*query, *body]:
            if k.startswith("oauth_"):
                found[k] = v
        return found

    def verify(
        self,
        *,
        method: str,
        url: str,
        auth_header: str | None,
        query: str,
        body: list[tuple[str, str]],
        token_kind: str,
        extra_required: tuple[str, ...] = (),
    ) -> Signed:
        """Check a signed request; ``token_kind`` is "access", "request" or "none"."""
        query_pairs = parse_qsl(query, keep_blank_values=True)
        params = self.oauth_params(auth_header, query_pairs, body)
        required = list(REQUIRED) + list(extra_required)
        if token_kind != "none":
            required.append("oauth_token")
        missing = [n for n in required if not params.get(n)]
        if missing:
            raise _absent(*missing)
        if params["oauth_signature_method"] != "HMAC-SHA1":
            raise OAuthError(400, "oauth_problem=signature_method_rejected")
        consumer = params["oauth_consumer_key"]
        consumer_secret = self.consumers.get(consumer)
        if consumer_secret is None:
            raise OAuthError(401, "oauth_problem=consumer_key_unknown")
        token: Token | None = None
        token_secret = ""
        if token_kind != "none":
            table = self.access if token_kind == "access" else self.request
            token = table.get(params["oauth_token"])
            if token is None or token.consumer != consumer:
                raise OAuthError(401, "oauth_problem=token_rejected")
            token_secret = token.secret
        try:
            ts = int(params["oauth_timestamp"])
        except ValueError:
            raise OAuthError(401, "oauth_problem=timestamp_refused") from None
        if abs(time.time() - ts) > TIMESTAMP_WINDOW:
            raise OAuthError(401, "oauth_problem=timestamp_refused")
        headers = {"Authorization": auth_header} if auth_header else {}
        collected = signature.collect_parameters(
            uri_query=query, body=body, headers=headers, exclude_oauth_signature=True
        )
        normalized = signature.normalize_parameters(collected)
        sbs = signature.signature_base_string(
            method.upper(), signature.base_string_uri(url), normalized
        )
        expected = signature.sign_hmac_sha1(sbs, consumer_secret, token_secret)
        if not signature.safe_string_equals(expected, params["oauth_signature"]):
            raise OAuthError(401, "oauth_problem=signature_invalid&debug_sbs=" + sbs)
        nonce_key = (consumer, params["oauth_nonce"], params["oauth_timestamp"])
        with self._lock:
            if nonce_key in self._nonces:
                raise OAuthError(401, "oauth_problem=nonce_used")
            self._nonces.add(nonce_key)
        return Signed(consumer, token, params)

    # -- the three endpoints ------------------------------------------------------------------
    def request_token(self, signed: Signed) -> str:
        """Issue a request token; returns the form body."""
        key, secret = self._new_pair()
        callback = signed.params.get("oauth_callback", "oob")
        self.request[key] = Token(key, secret, signed.consumer, callback=callback)
        return (
            "oauth_callback_confirmed=true&oauth_token="
            + quote(key, safe="")
            + "&oauth_token_secret="
            + quote(secret, safe="")
        )

    def authorize(self, key: str, nsid: str, perms: str) -> Token | None:
        """Mark a request token as authorised by ``nsid``; the token carries the verifier."""
        token = self.request.get(key)
        if token is None:
            return None
        with self._lock:
            if not token.verifier:
                n = self._rng.randrange(10**9)
                token.verifier = f"{n // 10**6:03d}-{n // 10**3 % 1000:03d}-{n % 1000:03d}"
        token.authorized = True
        token.nsid = nsid
        token.perms = perms or "read"
        return token

    def access_token(self, signed: Signed) -> Token:
        """Exchange an authorised request token and verifier for an access token."""
        req = signed.token
        if req is None or not req.authorized:
            raise OAuthError(401, "oauth_problem=token_rejected")
        if signed.params.get("oauth_verifier") != req.verifier:
            raise OAuthError(401, "oauth_problem=verifier_invalid")
        del self.request[req.key]
        key, secret = self._new_pair()
        token = Token(key, secret, req.consumer, nsid=req.nsid, perms=req.perms)
        self.access[key] = token
        return token
