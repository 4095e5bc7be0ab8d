"""Scrapy settings for flickr-crawl: Scrapy's own knobs first, then ours (``FLICKR_*``).

Every endpoint is a setting so the same code runs against Flickr and against the local sandbox.
Nothing here is a secret: keys and tokens live in the auth file (see ``flickr_crawl.flickr.auth``).
"""

from __future__ import annotations

BOT_NAME = "flickr_crawl"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
COMMANDS_MODULE = "flickr_crawl.commands"

# --- Scrapy ---------------------------------------------------------------------------------
# scrapy-playwright (cookie-gated videos) needs the asyncio reactor.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# A backup tool holds OAuth tokens: no consoles that run code.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
FLICKR_LOG_REDACTION_ENABLED = True  # blank tokens and signed URLs in log lines, at any level
ROBOTSTXT_OBEY = False  # an API client for the user's own account, not a web crawler
USER_AGENT = "flickr-crawl/0.1 (+personal backup; scrapy)"
# The console shows warnings, errors and the run summary; the INFO log goes to the archive's
# logs/<stamp>-<spider>.log. A level set on the command line (-L INFO, -L DEBUG) shows
# everything on the console, as usual (flickr_crawl.extensions.runlog).
LOG_LEVEL = "INFO"
# Callbacks read answers with ``yield from self.api_data(...)``, a generator that returns a
# value on purpose; Scrapy's check for that re-parses each callback's source on every
# response (bound methods miss its cache): 4 % of a backup's time.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Per-slot concurrency is broken in Scrapy 2.14-2.19; this downloader restores exact limits.
DOWNLOADER = "flickr_crawl.downloader.slots.ExactSlotDownloader"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 16
DOWNLOAD_DELAY = 0
# For a media file: until its headers arrive, then per silence (a long video finishes if it
# keeps coming).
DOWNLOAD_TIMEOUT = 180
# Media files go through this downloader too, in their own slot (flickr-media,
# FLICKR_MEDIA_CONCURRENCY at a time); this handler streams their bodies to disk instead of
# memory (flickr_crawl.downloader.media). So no size cap by default: a video original can be
# gigabytes, and memory does not grow with it. A cap set here applies to media too. The web
# sign-in page goes through scrapy-playwright, started only for it (downloader.handler).
DOWNLOAD_HANDLERS = {
    "http": "flickr_crawl.downloader.handler.DownloadHandler",
    "https": "flickr_crawl.downloader.handler.DownloadHandler",
}
# scrapy-playwright (the web sign-in only): the browser's own headers, not Scrapy's, and a
# sign-in page that does not load in a minute has failed. Its browser context is persistent,
# with its options in the request (flickr_crawl.downloader.websignin).
PLAYWRIGHT_PROCESS_REQUEST_HEADERS = None
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 60_000
DOWNLOAD_MAXSIZE = 0
DOWNLOAD_WARNSIZE = 0
RETRY_ENABLED = True
RETRY_TIMES = 5
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# API responses are small, and an API call is never worth caching between runs.
HTTPCACHE_ENABLED = False
COOKIES_ENABLED = True
DOWNLOADER_MIDDLEWARES = {
    "flickr_crawl.downloader.budget.ApiBudgetMiddleware": 940,
    "flickr_crawl.downloader.signing.OAuthSigningMiddleware": 950,
    # The web session's cookies on video originals, each redirect hop its own host's.
    "flickr_crawl.downloader.mediacookies.MediaCookiesMiddleware": 960,
}
ITEM_PIPELINES = {
    "pipelines.media.MediaPipeline": 100,
    "pipelines.sidecar.SidecarPipeline": 800,
    "pipelines.layout.LayoutPipeline": 850,  # retires old album folders at the end
    "pipelines.catalog.CatalogPipeline": 900,  # last: a catalog error never costs a sidecar
}
EXTENSIONS = {
    "flickr_crawl.extensions.report.RunReport": 500,
    "flickr_crawl.extensions.progress.ProgressExtension": 600,
    "flickr_crawl.extensions.jobdir.JobDirGuard": 700,
    "flickr_crawl.extensions.leftovers.ArchiveGuard": 710,
    # Slows a host down when it pushes back.
    "flickr_crawl.downloader.backoff.BackoffExtension": 800,
    "flickr_crawl.extensions.diskspace.DiskSpaceGuard": 850,  # stops the run when the disk is full
    "flickr_crawl.extensions.redact.LogRedaction": 100,  # no token or signed URL in the log
}
# The API slot is sequential (Flickr counts calls per key). The media slot's concurrency is
# FLICKR_MEDIA_CONCURRENCY; its delay DOWNLOAD_DELAY's unless set here.
DOWNLOAD_SLOTS = {
    "flickr-api": {"concurrency": 1, "delay": 0},
}
FEED_EXPORT_ENCODING = "utf-8"

# --- flickr-crawl: endpoints ---------------------------------------------------------------
FLICKR_API_URL = "https://api.flickr.com/services/rest/"  # REST endpoint
FLICKR_OAUTH_URL = "https://www.flickr.com/services/oauth/"  # request_token/authorize/access_token
FLICKR_WEB_URL = "https://www.flickr.com/"  # web pages: photo pages, sign-in, video play URLs

# --- flickr-crawl: credentials --------------------------------------------------------------
# JSON file with api_key, api_secret, oauth_token, oauth_token_secret (mode 0600).
# Empty means the per-user default, ~/.config/flickr-crawl/auth.json.
FLICKR_AUTH_FILE = ""
# Flickr web session (Playwright storage_state JSON, mode 0600) for video originals; the
# browser profile sits beside it (<name>.browser/, 0700).
# Empty means ~/.config/flickr-crawl/web-session.json.
FLICKR_WEB_SESSION_FILE = ""
# Who a crawl signs in as again when Flickr refuses the session (the password comes from the
# environment, FLICKR_WEB_PASSWORD, never from settings); empty: the name `scrapy weblogin
# --username` saved in the session file.
FLICKR_WEB_USERNAME = ""
FLICKR_SIGNIN_URL = ""  # web sign-in page; empty: FLICKR_WEB_URL + signin/
FLICKR_CHROMIUM_PATH = ""  # browser for the web sign-in; empty: Playwright's, else Debian's

# --- flickr-crawl: API budget ---------------------------------------------------------------
FLICKR_API_CALLS_PER_HOUR = 3600  # hard cap over any rolling hour; 0 disables the cap
FLICKR_API_PER_PAGE = 500  # list page size (Flickr's maximum)
# The calls of the last hour, per API key, shared by every run and account (mode 0600).
# Empty means api-calls-<key hash>.json in $XDG_STATE_HOME/flickr-crawl (~/.local/state/...).
FLICKR_API_BUDGET_FILE = ""
# redis://HOST:PORT/DB: keep that window in Redis instead, shared across machines (the
# flickr-crawl[redis] extra); empty = the file above.
FLICKR_API_BUDGET_URL = ""

# --- flickr-crawl: backoff ------------------------------------------------------------------
FLICKR_BACKOFF_ENABLED = True  # slow a host down when it answers 429, 503 or "unavailable"
FLICKR_BACKOFF_START = 1.0  # seconds between requests after the first pushback (then doubles)
FLICKR_BACKOFF_MAX = 120.0  # cap on that spacing and on any Retry-After wait

# --- flickr-crawl: archive ------------------------------------------------------------------
FLICKR_ARCHIVE_DIR = "archive"  # where the backup goes
FLICKR_LAYOUT = "albums"  # albums (folder per album + Unsorted), date (YYYY/MM/DD) or flat
FLICKR_LINK_MODE = "hardlink"  # how a photo appears in its second album: hardlink or copy
FLICKR_FAVORITES_LAYOUT = "owner"  # Favorites/<owner [nsid]>/ (owner) or Favorites/YYYY/MM/ (date)
FLICKR_MEDIA_CONCURRENCY = 8  # media downloads in flight (the flickr-media download slot)
FLICKR_DISK_GUARD_ENABLED = True  # stop the run, with one clear line, when the disk fills up
FLICKR_DISK_RESERVE_MB = 64  # stop when less than this is free on the archive's disk

# --- flickr-crawl: metadata -----------------------------------------------------------------
# Incremental runs: after this many, the next run lists the whole photostream again (finds
# photos deleted on Flickr and fave counts that changed); 0: only with -a full=1.
FLICKR_SWEEP_EVERY = 7
# Changes are asked for since the last clean run's start minus this margin (clock skew).
FLICKR_SYNC_OVERLAP = 3600
# Incremental runs ask flickr.activity.userPhotos which photos got new comments, faves or notes
# (a fave changes no lastupdate) once this many seconds passed since it was last asked (Flickr:
# once an hour at most); a run in between leaves them to the next run that asks.
FLICKR_ACTIVITY_MIN_INTERVAL = 3600
FLICKR_DEEP_METADATA_ENABLED = True  # last pass: getInfo (notes, tag authors), people.getList
FLICKR_EXIF_ENABLED = True  # write title, description, tags, date, GPS, licence into JPEG EXIF
FLICKR_XMP_ENABLED = True  # write <file>.xmp beside every media file (videos, PNG, GIF too)
# The XMP sidecar's name: file.ext.xmp (123.jpg.xmp: darktable, digiKam, Immich) or file.xmp
# (123.xmp: Lightroom, Capture One).
FLICKR_XMP_SIDECAR_NAMING = "file.ext.xmp"
FLICKR_CATALOG_ENABLED = True  # keep catalog.db (SQLite) in the archive root

# The offline website's sizes are options of `scrapy site` (--thumb-size, --page-size, ...);
# the old FLICKR_SITE_* settings still work, with a warning (commands/checksettings.py).

# --- flickr-crawl: progress display ---------------------------------------------------------
FLICKR_PROGRESS_ENABLED = True  # live bar on a terminal, periodic log lines otherwise
FLICKR_PROGRESS_INTERVAL = 30  # seconds between progress log lines when stderr is not a terminal
