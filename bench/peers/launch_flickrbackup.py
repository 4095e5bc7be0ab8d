"""Run flickrbackup (PyPI) against the sandbox: ``python launch_flickrbackup.py CONFIG ARGS...``.

Runs inside flickrbackup's own virtualenv. Only endpoints and credentials are changed, in this
process, never in the installed files: flickrapi's ``FlickrAPI.REST_URL`` and the OAuth URLs of
``OAuthFlickrInterface`` point at the sandbox, flickrbackup's built-in API key becomes the
sandbox's, and flickrapi's token cache is pre-filled with the sandbox account's access token (what
its one-time browser sign-in would store). Its ``--web-session`` cookies are kept only when their
domain contains "flickr", and for a video it may build a ``http://www.flickr.com/.../play/orig/``
URL itself; the sandbox serves both from 127.0.0.1, so each ``requests.Session`` it opens gets
the sandbox session's cookies and sends www.flickr.com URLs to the sandbox, as DNS and that
filter would on flickr.com.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import flickrapi
import flickrapi.auth
import flickrapi.tokencache
import requests

# flickrbackup builds a video's play URL itself when getSizes has no "Video Original" row.
FLICKR_HOSTS = ("http://www.flickr.com", "https://www.flickr.com")


def main() -> None:
    cfg = json.loads(Path(sys.argv[1]).read_text())
    base = cfg["url"]
    flickrapi.FlickrAPI.REST_URL = f"{base}/services/rest/"
    oauth = flickrapi.auth.OAuthFlickrInterface
    oauth.REQUEST_TOKEN_URL = f"{base}/services/oauth/request_token"
    oauth.AUTHORIZE_URL = f"{base}/services/oauth/authorize"
    oauth.ACCESS_TOKEN_URL = f"{base}/services/oauth/access_token"
    cache = flickrapi.tokencache.OAuthTokenCache(cfg["api_key"], "", path=cfg["token_dir"])
    cache.token = flickrapi.auth.FlickrAccessToken(
        cfg["oauth_token"], cfg["oauth_token_secret"], "read",
        cfg["fullname"], cfg["username"], cfg["user_nsid"],
    )  # fmt: skip

    script = Path(sys.executable).parent / "flickrbackup.py"
    spec = importlib.util.spec_from_file_location("flickrbackup", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.FLICKR_API_KEY = cfg["api_key"]
    module.FLICKR_API_SECRET = cfg["api_secret"]
    cookies = json.loads(Path(cfg["cookies"]).read_text())["cookies"] if cfg.get("cookies") else []

    class SandboxSession(requests.Session):
        """flickrbackup's download session, as it would be on flickr.com."""

        def __init__(self) -> None:
            super().__init__()
            for c in cookies:
                self.cookies.set(c["name"], c["value"], domain=c["domain"], path=c["path"])

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            for real in FLICKR_HOSTS:
                if url.startswith(real):
                    url = base + url[len(real) :]
            return super().request(method, url, *args, **kwargs)

    module.requests = type(sys)("requests_for_sandbox")
    module.requests.__dict__.update(vars(requests))
    module.requests.Session = SandboxSession
    sys.argv = ["flickrbackup.py", "--token-cache", cfg["token_dir"], *sys.argv[2:]]
    module.main()


if __name__ == "__main__":
    main()
