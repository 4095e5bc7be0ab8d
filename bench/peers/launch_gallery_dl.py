"""Run gallery-dl (PyPI) against the sandbox: ``python launch_gallery_dl.py CONFIG ARGS...``.

Runs inside gallery-dl's own virtualenv. Only endpoints change, in this process:
``FlickrAPI.API_URL`` and ``FlickrExtractor.root``. The OAuth keys and token, ``sleep-request``
0 and the metadata options go in its ordinary JSON config file (written by the caller and passed
with ``--config``), exactly as a user would set them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gallery_dl
from gallery_dl.extractor import flickr


def main() -> None:
    cfg = json.loads(Path(sys.argv[1]).read_text())
    flickr.FlickrAPI.API_URL = f"{cfg['url']}/services/rest/"
    flickr.FlickrExtractor.root = cfg["url"]
    if "request_interval_min" in cfg:  # the labelled no-floor variant
        flickr.FlickrExtractor.request_interval_min = cfg["request_interval_min"]
    sys.argv = ["gallery-dl", *sys.argv[2:]]
    sys.exit(gallery_dl.main())


if __name__ == "__main__":
    main()
