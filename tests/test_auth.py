"""``scrapy auth`` end to end against the sandbox's OAuth 1.0a endpoints, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import urllib.request
from typing import TYPE_CHECKING

import pytest

from flickr_crawl.flickr.auth import Credentials, check_login, load_credentials, save_credentials
from tests.helpers import ROOT, crawl, scrapy

if TYPE_CHECKING:
    from pathlib import Path


def _settings(sandbox, auth_file: Path) -> list[str]:
    base = sandbox.url.rstrip("/")
    return ["-s", f"FLICKR_AUTH_FILE={auth_file}", "-s", f"FLICKR_OAUTH_URL={base}/services/oauth/",
            "-s", f"FLICKR_API_URL={base}/services/rest/"]  # fmt: skip


def _key_env(sandbox) -> dict[str, str]:
    account = sandbox.account(hashes=False)
    return {"FLICKR_API_KEY": account["api_key"], "FLICKR_API_SECRET": account["api_secret"]}


def run_auth(sandbox, auth_file: Path, *args: str, env: dict[str, str] | None = None,
             approve: bool = True) -> tuple[int, str, str]:  # fmt: skip
    """Run ``scrapy auth``; open the URL it prints, read the verifier and type it in."""
    full_env = dict(os.environ, SCRAPY_SETTINGS_MODULE="flickr_crawl.settings", **(env or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapy", "auth", "--no-browser", *args,
         *_settings(sandbox, auth_file)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=full_env,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdin is not None
    out = []
    for line in proc.stdout:
        out.append(line)
        if "/services/oauth/authorize?" in line:
            page = urllib.request.urlopen(line.strip(), timeout=10).read().decode()
            verifier = re.search(r'id="verifier"[^>]*>\s*([0-9-]+)', page)
            assert verifier, page
            proc.stdin.write((verifier.group(1) if approve else "") + "\n")
            proc.stdin.flush()
            break
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, "".join(out) + stdout, stderr


def test_the_oauth_dance_stores_a_working_token(sandbox, tmp_path):
    auth_file = tmp_path / "conf" / "auth.json"
    code, out, err = run_auth(sandbox, auth_file, env=_key_env(sandbox))
    assert code == 0, err
    owner = sandbox.account(hashes=False)["owner"]
    assert f"Authorised as {owner['username']} ({owner['nsid']})" in out
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    creds = load_credentials(auth_file, env={})
    assert creds.perms == "read"
    assert creds.oauth_token != sandbox.account(hashes=False)["oauth_token"]  # a new token
    base = sandbox.url.rstrip("/")
    assert check_login(creds, f"{base}/services/rest/")["user_nsid"] == owner["nsid"]
    for secret in (creds.api_secret, creds.oauth_token_secret):
        assert secret not in out
        assert secret not in err
    # the new token backs up the account
    result = crawl(sandbox, tmp_path / "archive", "-s", "FLICKR_LAYOUT=flat", auth_file=auth_file)
    assert result.returncode in (0, 2), result.stderr[-1500:]
    assert any((tmp_path / "archive" / "Photos").glob("*.jpg"))

    # run again: the stored token still works, so nothing changes
    before = auth_file.read_bytes()
    again = scrapy("auth", "--no-browser", *_settings(sandbox, auth_file), input="")
    assert again.returncode == 0, again.stderr
    assert "Already authorised as" in again.stdout
    assert auth_file.read_bytes() == before


def test_a_rejected_token_starts_a_new_authorisation(sandbox, tmp_path):
    auth_file = tmp_path / "auth.json"
    creds = load_credentials(sandbox.auth_file, env={})
    creds.oauth_token_secret = "0" * 16
    save_credentials(auth_file, creds)
    code, out, err = run_auth(sandbox, auth_file)
    assert code == 0, err
    assert "The stored token does not work" in out
    assert load_credentials(auth_file, env={}).oauth_token_secret != "0" * 16


def test_a_token_for_another_key_is_replaced(sandbox, tmp_path):
    auth_file = tmp_path / "auth.json"
    save_credentials(auth_file, Credentials(api_key="f" * 32, api_secret="e" * 16,
                                            oauth_token="1-2", oauth_token_secret="3"))  # fmt: skip
    env = _key_env(sandbox)
    code, out, err = run_auth(sandbox, auth_file, "--api-key", env["FLICKR_API_KEY"],
                              "--api-secret", env["FLICKR_API_SECRET"])  # fmt: skip
    assert code == 0, err
    assert "belongs to another API key" in out
    assert load_credentials(auth_file, env={}).api_key == env["FLICKR_API_KEY"]


def test_reauth_forces_a_new_token(sandbox, tmp_path):
    auth_file = tmp_path / "auth.json"
    save_credentials(auth_file, load_credentials(sandbox.auth_file, env={}))
    code, _, err = run_auth(sandbox, auth_file, "--reauth")
    assert code == 0, err
    assert load_credentials(auth_file, env={}).oauth_token != json.loads(
        sandbox.auth_file.read_text())["oauth_token"]  # fmt: skip


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FLICKR_API_SECRET": "0" * 16}, "(401 signature_invalid)"),
        ({"FLICKR_API_KEY": "0" * 32}, "(401 consumer_key_unknown)"),
    ],
)  # fmt: skip
def test_a_bad_key_pair_is_a_clear_error(sandbox, tmp_path, env, message):
    full = {**_key_env(sandbox), **env}
    result = scrapy("auth", "--no-browser", *_settings(sandbox, tmp_path / "auth.json"),
                    env=full, input="")  # fmt: skip
    assert result.returncode == 1
    expected = f"error: Flickr refused the OAuth request {message}; check the API key and secret"
    assert result.stderr.strip().splitlines() == [expected]
    assert not (tmp_path / "auth.json").exists()


def test_no_verifier_changes_nothing(sandbox, tmp_path):
    code, _, err = run_auth(sandbox, tmp_path / "auth.json", env=_key_env(sandbox), approve=False)
    assert code == 1
    assert err.strip() == "error: no verifier entered; nothing was changed"
    assert not (tmp_path / "auth.json").exists()
