#!/usr/bin/env python3
"""Schedule one scrapyd job per account: ``python3 schedule.py [--root /srv/flickr] ...``.

Every folder ``<root>/accounts/<name>/`` that holds an ``auth.json`` (from ``flickr-crawl auth
-s FLICKR_AUTH_FILE=<root>/accounts/<name>/auth.json``) is one account; its job backs it up into
``<root>/archives/<name>/``, with its web session (videos) at ``<root>/accounts/<name>/
web-session.json``. Absolute paths, so nothing depends on the daemon's home or working folder.
``--setting NAME=VALUE`` adds a setting to every job (``FLICKR_API_BUDGET_URL=redis://...``
when several machines share the key). Prints one line per job; exit 1 if scrapyd refused one.
Only the standard library: it runs from cron on any machine that reaches scrapyd.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
import urllib.request
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path("/srv/flickr"), help="default /srv/flickr")
    p.add_argument("--url", default="http://127.0.0.1:6800/", help="scrapyd's URL")
    p.add_argument("--project", default="flickr_crawl")
    p.add_argument("--spider", default="photostream")
    p.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE")
    args = p.parse_args(argv)
    root = args.root.resolve()
    accounts = sorted(a.parent for a in (root / "accounts").glob("*/auth.json"))
    if not accounts:
        print(f"error: no account in {root / 'accounts'} (<name>/auth.json)", file=sys.stderr)
        return 1
    failed = 0
    for account in accounts:
        settings = [
            f"FLICKR_AUTH_FILE={account / 'auth.json'}",
            f"FLICKR_ARCHIVE_DIR={root / 'archives' / account.name}",
            f"FLICKR_WEB_SESSION_FILE={account / 'web-session.json'}",
            *args.setting,
        ]
        pairs = [("project", args.project), ("spider", args.spider)]
        pairs += [("setting", s) for s in settings]
        request = urllib.request.Request(  # noqa: S310 (the operator's scrapyd URL)
            urllib.parse.urljoin(args.url, "schedule.json"),
            data=urllib.parse.urlencode(pairs).encode(),
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 (scrapyd's URL)
                answer = json.loads(resp.read())
        except OSError as exc:
            answer = {"status": "error", "message": str(exc)}
        if answer.get("status") == "ok":
            print(f"{account.name}\t{answer['jobid']}")
        else:
            failed += 1
            print(f"error: {account.name}: {answer.get('message')}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
