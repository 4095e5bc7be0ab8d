"""Run flickr_download (PyPI) against the sandbox: ``python launch_flickr_download.py CONFIG ARGS``.

Runs inside flickr_download's own virtualenv with ``HOME`` set by the caller. Only endpoints change,
in this process: the default ``request_url`` of ``flickr_api.method_call.call_api`` and the OAuth
URLs of ``flickr_api.auth``. The access token is written to ``~/.flickr_token`` in the format its
one-time ``-t`` sign-in saves (token, secret), so ``-t`` uses it without asking.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import flickr_api.auth
import flickr_api.method_call
from flickr_download import flick_download


def main() -> None:
    cfg = json.loads(Path(sys.argv[1]).read_text())
    base = cfg["url"]
    rest = f"{base}/services/rest/"
    call = flickr_api.method_call.call_api
    names = call.__code__.co_varnames[: call.__code__.co_argcount]
    defaults = dict(zip(names[-len(call.__defaults__) :], call.__defaults__, strict=True))
    defaults["request_url"] = rest
    call.__defaults__ = tuple(defaults.values())
    flickr_api.method_call.REST_URL = rest
    flickr_api.auth.TOKEN_REQUEST_URL = f"{base}/services/oauth/request_token"
    flickr_api.auth.AUTHORIZE_URL = f"{base}/services/oauth/authorize"
    flickr_api.auth.ACCESS_TOKEN_URL = f"{base}/services/oauth/access_token"
    token = Path(flick_download.OAUTH_TOKEN_FILE).expanduser()
    token.write_text(f"{cfg['oauth_token']}\n{cfg['oauth_token_secret']}")
    token.chmod(0o600)
    sys.argv = ["flickr_download", "-k", cfg["api_key"], "-s", cfg["api_secret"], *sys.argv[2:]]
    sys.exit(flick_download.main())


if __name__ == "__main__":
    main()
