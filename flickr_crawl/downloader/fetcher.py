"""Media files, fetched on worker threads with blocking sockets and streamed to disk.

Scrapy's downloader does a great deal of Python work per request on the one reactor thread,
which also parses API pages and runs the pipelines: profiled over a 500-photo backup, that
thread was busy 96% of the time, and downloads waited on it (43-48% of aria2c's throughput).
Here each file is fetched by a worker thread of its own: socket reads, sha256 and disk writes
release the GIL, so files stream at the network's pace (a plain loop like this one matched
aria2c on the same 500 files) while the reactor keeps to API calls and items.

Memory stays flat: each worker reads into one reused 1 MiB buffer, whatever the file's size.
A body is hashed and written as it arrives; the start of a JPEG can be held back and rewritten
on the way (``HeadRewriter``: ``flickr_crawl.metadata.exif.StreamingEmbed``). A body is
complete only when its length is known and every byte of it arrived.

Retries follow Scrapy's settings (``RETRY_TIMES``, ``RETRY_HTTP_CODES``): connection errors,
timeouts and cut bodies are tried again, disk errors never are. A 429 or 503 (or a Retry-After)
holds the host back for every worker, as ``flickr_crawl.downloader.backoff`` does for the API slot.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import queue
import select
import shutil
import socket
import ssl
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from typing import Protocol as Interface
from urllib.parse import urljoin, urlsplit

from flickr_crawl.archive.storage import PART_SUFFIX
from flickr_crawl.downloader.backoff import PUSHBACK_STATUSES, Backoff, retry_after_seconds
from flickr_crawl.extensions.diskspace import DiskFull, is_disk_full

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)
T = TypeVar("T")

_ERROR_BODY_LIMIT = 1 << 20  # bodies of non-200 answers are kept in memory up to this size
_HEAD_BYTES = 64  # first bytes kept for type sniffing
_HOLD_LIMIT = 2 << 20  # a head not found in this many bytes is left alone
_READ_SIZE = 1 << 20  # bytes per socket read
_REDIRECTS = (301, 302, 303, 307, 308)


class HeadRewriter(Interface):
    """Rewrites the start of a body on its way to disk (``exif.StreamingEmbed``)."""

    def head_length(self, data: bytes | bytearray) -> int | None:
        """Length of the head to rewrite; None: more bytes needed; 0: none."""

    def rewrite(self, head: bytes) -> bytes:
        """The head as it is to be stored."""

    def keep(self, stored: Path, head_length: int) -> bool:
        """At the end, with the stored file and its head's length: False stores the body as
        served after all."""


class CutShort(Exception):
    """The body ended before the length the server announced (or could not be told apart
    from a cut: no length, no chunked framing). Tried again."""


class Refused(Exception):
    """An answer that can never be stored as the file (a compressed body, one with no length
    and no framing). Not retried."""


class WriteFailed(Exception):
    """The ``.part`` file could not be made or written (not the network): never retried.
    The OSError is its ``__cause__``."""


class Stopped(Exception):
    """The fetcher was closed before this download could finish."""


@dataclass
class Fetched:
    """One media answer: a stored body (status 200) or a status with a small body."""

    status: int
    url: str  # after redirects
    headers: dict[str, str]  # lower-case names
    body: bytes = b""  # an answer other than 200, up to _ERROR_BODY_LIMIT
    size: int = 0  # bytes served (200)
    head: bytes = b""  # the first bytes served, for type sniffing
    sha256: str | None = None  # of the bytes served; None: nothing stored
    stored_size: int = 0  # of the file: differs when its head was rewritten
    stored_sha256: str | None = None
    retried: list[str] = field(default_factory=list)  # why each earlier attempt was not taken


class MediaFetcher:
    """Fetches media files on ``workers`` threads, each streaming its body to a ``.part`` file.

    ``fetch`` blocks (it runs on a worker); ``call`` queues a job that calls it and returns a
    Future for the reactor to await. Each worker keeps one keep-alive connection per host.
    """

    def __init__(
        self,
        *,
        workers: int = 8,
        timeout: float = 180.0,
        retries: int = 5,
        retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504, 522, 524, 408, 429}),
        user_agent: str = "flickr-crawl",
        backoff: tuple[float, float] | None = (1.0, 120.0),
        max_redirects: int = 20,
        on_event: Callable[[str, float], None] | None = None,
    ):
        self.workers = max(workers, 1)
        self.timeout = timeout or None
        self.retries = max(retries, 0)
        self.retry_statuses = retry_statuses
        self.user_agent = user_agent
        self.backoff = backoff
        self.max_redirects = max_redirects
        self.on_event = on_event  # (key, value): a count for Scrapy stats, from a worker
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._local = threading.local()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()  # every worker's connections
        self._hosts: dict[str, _HostPace] = {}
        self._tls: ssl.SSLContext | None = None

    @classmethod
    def from_settings(
        cls, settings: BaseSettings, on_event: Callable[[str, float], None] | None = None
    ) -> MediaFetcher:
        backoff = None
        if settings.getbool("FLICKR_BACKOFF_ENABLED", True):
            backoff = (settings.getfloat("FLICKR_BACKOFF_START", 1.0),
                       settings.getfloat("FLICKR_BACKOFF_MAX", 120.0))  # fmt: skip
        return cls(
            workers=settings.getint("FLICKR_MEDIA_CONCURRENCY", 8),
            timeout=settings.getfloat("DOWNLOAD_TIMEOUT", 180),
            retries=settings.getint("RETRY_TIMES", 5) if settings.getbool("RETRY_ENABLED") else 0,
            retry_statuses=frozenset(int(s) for s in settings.getlist("RETRY_HTTP_CODES")),
            user_agent=settings.get("USER_AGENT") or "flickr-crawl",
            backoff=backoff,
            max_redirects=settings.getint("REDIRECT_MAX_TIMES", 20),
            on_event=on_event,
        )

    # --- the reactor's side -----------------------------------------------------------------

    def call(self, job: Callable[[], T]) -> Future[T]:
        """Run ``job`` on a worker (one that calls ``fetch``, then works on the file it got:
        the reactor then does no file system calls at all for it)."""
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits it
                future.set_exception(exc)

        with self._lock:
            if self._stop.is_set():
                future.set_exception(Stopped("the media fetcher is closed"))
                return future
            if len(self._threads) < self.workers:
                # Daemon threads: a forced stop (second Ctrl-C) must not wait for a video.
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"flickr-media-{len(self._threads)}")  # fmt: skip
                self._threads.append(thread)
                thread.start()
        self._jobs.put(run)
        return future

    def close(self) -> None:
        """Stop: downloads in flight fail (``Stopped``), their parts are removed."""
        with self._lock:
            self._stop.set()
            connections = list(self._open)
            threads = list(self._threads)
        for conn in connections:
            _shutdown(conn)
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join(timeout=5)
        with self._lock:
            connections, self._open = list(self._open), set()
        for conn in connections:  # idle ones, and those of threads that called fetch itself
            conn.close()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()
        for conn in list(getattr(self._local, "connections", {}).values()):
            self._forget(conn)

    # --- a worker's side --------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        part: Path,
        *,
        cookies: Callable[[str], str | None] | None = None,
        head: HeadRewriter | None = None,
    ) -> Fetched:
        """Download ``url``: a 200 body into ``part`` (removed unless complete), anything else
        as a status; retried as the settings say. Raises after the last attempt failed."""
        retried: list[str] = []
        while True:
            if self._stop.is_set():
                raise Stopped("the media fetcher is closed")
            try:
                got = self._follow(url, part, cookies, head)
            except (WriteFailed, DiskFull, Refused, Stopped):
                part.unlink(missing_ok=True)
                raise
            except (OSError, http.client.HTTPException, CutShort) as exc:
                part.unlink(missing_ok=True)
                if self._stop.is_set():
                    raise Stopped("the media fetcher is closed") from exc
                if len(retried) >= self.retries:
                    self._event("retry/max_reached")
                    raise
                reason = _reason(exc)
            else:
                if got.status not in self.retry_statuses or len(retried) >= self.retries:
                    got.retried = retried
                    if got.status in self.retry_statuses:
                        self._event("retry/max_reached")
                    return got
                reason = f"HTTP {got.status}"
            retried.append(reason)
            self._event("retry/count")
            self._event(f"retry/reason_count/{reason}")
            logger.debug("Retrying %(url)s (%(reason)s, attempt %(n)s)",
                         {"url": url, "reason": reason, "n": len(retried) + 1})  # fmt: skip

    def _follow(
        self,
        url: str,
        part: Path,
        cookies: Callable[[str], str | None] | None,
        head: HeadRewriter | None,
    ) -> Fetched:
        """One attempt: the request, and the redirects it leads to."""
        for _ in range(self.max_redirects + 1):
            headers = {"User-Agent": self.user_agent, "Accept-Encoding": "identity"}
            cookie = cookies(url) if cookies is not None else None
            if cookie:  # each hop gets the cookies of its own host, as a browser sends them
                headers["Cookie"] = cookie
            got = self._request(url, part, headers, head)
            location = got.headers.get("location")
            if got.status not in _REDIRECTS or not location:
                return got
            url = urljoin(url, location)
        raise http.client.HTTPException(f"more than {self.max_redirects} redirects")

    def _request(
        self, url: str, part: Path, headers: dict[str, str], head: HeadRewriter | None
    ) -> Fetched:
        parts = urlsplit(url)
        host = parts.netloc
        self._pace(host)
        self._event("flickr/media/requests")
        conn = self._connection(parts.scheme, host)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            got = self._answer(url, response, part, head)
        except BaseException:
            self._forget(conn)  # a connection that failed is never reused
            raise
        if response.will_close or not response.isclosed():
            self._forget(conn)
        # As Scrapy logs its requests (flickr_crawl.extensions.redact blanks a signed URL's token).
        logger.debug("Fetched (%(status)s) <GET %(url)s> (%(size)s bytes)",
                     {"status": got.status, "url": url, "size": got.size})  # fmt: skip
        self._pushed(host, got)
        return got

    def _answer(
        self,
        url: str,
        response: http.client.HTTPResponse,
        part: Path,
        head: HeadRewriter | None,
    ) -> Fetched:
        headers = {name.lower(): value for name, value in response.getheaders()}
        got = Fetched(status=response.status, url=url, headers=headers)
        if response.status != 200:
            got.body = response.read(_ERROR_BODY_LIMIT)
            return got
        encoding = headers.get("content-encoding", "identity").lower()
        if encoding != "identity":
            # The bytes on disk must be the file itself, never a gzip of it.
            raise Refused(f"refusing a {encoding!r}-encoded body for a file")
        expected = response.length  # None: no Content-Length
        if expected is None and not response.chunked:
            raise Refused("a body with neither a length nor chunked framing: a cut could not "
                          "be told from its end")  # fmt: skip
        writer = _PartWriter(part)
        try:
            size, first = self._stream(response, writer, head)
            if expected is not None and size != expected:
                raise CutShort(f"body cut short: {size} of {expected} bytes")
            writer.finish()
        finally:
            writer.close()
        got.size, got.head = size, first
        got.sha256, got.stored_size, got.stored_sha256 = writer.digests()
        return got

    def _stream(
        self, response: http.client.HTTPResponse, writer: _PartWriter, head: HeadRewriter | None
    ) -> tuple[int, bytes]:
        """Read the body into ``writer``; its size as served and its first bytes."""
        view: memoryview | None = getattr(self._local, "buffer", None)
        if view is None:  # one per worker for good: a fresh 1 MiB per file fragments the heap
            view = self._local.buffer = memoryview(bytearray(_READ_SIZE))
        hold = bytearray()  # the start of the body, while ``head`` waits for its whole head
        size, first = 0, b""
        while True:
            if self._stop.is_set():
                raise Stopped("the media fetcher is closed")
            n = response.readinto(view)  # type: ignore[arg-type]
            if not n:
                break
            chunk = view[:n]
            size += n
            if len(first) < _HEAD_BYTES:
                first += bytes(chunk[: _HEAD_BYTES - len(first)])
            if head is None:
                writer.write(chunk)
                continue
            hold += chunk
            length = head.head_length(hold)
            if length is None and len(hold) < _HOLD_LIMIT:
                continue
            if length:
                writer.write_head(bytes(hold[:length]), head)
            writer.write(memoryview(hold)[length or 0 :])
            hold, head = bytearray(), None
        if hold:  # a body shorter than its head: stored as it came
            writer.write(hold)
        return size, first

    def _connection(self, scheme: str, host: str) -> http.client.HTTPConnection:
        """This worker's connection to ``host``; a new one if the server closed the old."""
        connections: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "connections", {}
        )
        key = f"{scheme}://{host}"
        conn = connections.get(key)
        if conn is not None and _dropped(conn):
            self._forget(conn)
            conn = None
        if conn is None:
            if scheme == "https":
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                conn = http.client.HTTPSConnection(host, timeout=self.timeout, context=self._tls)
            elif scheme == "http":
                conn = http.client.HTTPConnection(host, timeout=self.timeout)
            else:
                raise http.client.HTTPException(f"cannot fetch a {scheme!r} URL")
            connections[key] = conn
            with self._lock:
                self._open.add(conn)
        return conn

    def _forget(self, conn: http.client.HTTPConnection) -> None:
        connections = self._local.__dict__.get("connections", {})
        for key in [k for k, c in connections.items() if c is conn]:
            del connections[key]
        with self._lock:
            self._open.discard(conn)
        conn.close()

    def _pace(self, host: str) -> None:
        """Wait until ``host`` may be asked again (after a pushback), then take a turn."""
        if self.backoff is None:
            return
        with self._lock:
            pace = self._hosts.get(host)
            if pace is None or not (pace.interval or pace.not_before):
                return
            now = time.monotonic()
            start = max(now, pace.not_before)
            pace.not_before = start + pace.interval
        if start > now and self._stop.wait(start - now):
            raise Stopped("the media fetcher is closed")

    def _pushed(self, host: str, got: Fetched) -> None:
        """Slow ``host`` down after a 429, 503 or Retry-After; speed it up after a good one."""
        if self.backoff is None:
            return
        pushback = got.status in PUSHBACK_STATUSES or "retry-after" in got.headers
        with self._lock:
            pace = self._hosts.get(host)
            if not pushback:
                if pace is not None and pace.interval:
                    pace.interval = pace.backoff.success()
                return
            if pace is None:
                pace = self._hosts[host] = _HostPace(Backoff(*self.backoff))
            retry_after = retry_after_seconds(got.headers.get("retry-after", "").encode())
            pace.interval, hold = pace.backoff.pushback(retry_after)
            pace.not_before = max(pace.not_before, time.monotonic() + hold)
        self._event(f"flickr/backoff/media_http_{got.status}")
        self._event("flickr/backoff/held_seconds", hold)
        logger.info(
            "Media host pushed back (HTTP %(status)s%(ra)s): downloads wait %(hold).1f s, then "
            "start every %(interval).1f s until answers are good again",
            {"status": got.status, "hold": hold, "interval": pace.interval,
             "ra": "" if retry_after is None else f", Retry-After {retry_after:g} s"},
        )  # fmt: skip

    def _event(self, key: str, value: float = 1) -> None:
        if self.on_event is not None:
            self.on_event(key, value)


@dataclass
class _HostPace:
    backoff: Backoff
    interval: float = 0.0  # seconds between download starts
    not_before: float = 0.0  # monotonic time of the next start


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return exc.__class__.__name__


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle keep-alive connection was closed by the server (it reads as ready)."""
    sock = conn.sock
    if sock is None:
        return False  # not connected yet, or closed by us: it connects on its next request
    try:
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


def _shutdown(conn: http.client.HTTPConnection) -> None:
    """Wake a worker blocked on this connection: its read fails at once."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _PartWriter:
    """Writes and hashes one ``.part`` file; fsyncs it when complete.

    Two hashes are kept once a head was rewritten: of the bytes as served, and as stored.
    """

    def __init__(self, part: Path) -> None:
        self.part = part
        try:
            # Unbuffered: a full disk fails the write that meets it, not a flush at the end.
            self.fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise _write_error(part, exc) from exc
        self.hash = hashlib.sha256()  # of the bytes stored
        self.stored = 0
        self.served: Any = None  # hash of the bytes served, once they differ from the stored
        self.rewriter: HeadRewriter | None = None
        self.head = b""  # the served head, while the stored one differs
        self.stored_head = 0  # length of the stored head then

    def write_head(self, head: bytes, rewriter: HeadRewriter) -> None:
        """Store the head as ``rewriter`` has it; as served if that fails."""
        try:
            stored = rewriter.rewrite(head)
        except Exception:  # a metadata step never costs the file
            logger.exception("Cannot rewrite the head of %(part)s", {"part": self.part.name})
            stored = head
        if stored != head:
            self.served = self.hash.copy()
            self.served.update(head)
            self.rewriter, self.head, self.stored_head = rewriter, head, len(stored)
        self._append(stored)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.served is not None:
            self.served.update(data)
        self._append(data)

    def _append(self, data: bytes | bytearray | memoryview) -> None:
        self.hash.update(data)
        self.stored += len(data)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            raise _write_error(self.part, exc) from exc

    def finish(self) -> None:
        """The body is complete: put the served head back if the rewriter says so, fsync."""
        try:
            if self.rewriter is not None and not self.rewriter.keep(self.part, self.stored_head):
                self._put_back_head()
            os.fsync(self.fd)
        except OSError as exc:
            raise _write_error(self.part, exc) from exc

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # unbuffered: nothing left to flush, so this cannot lose data
            self.fd = -1

    def _put_back_head(self) -> None:
        """Make the file the bytes as served: the served head, then the rest."""
        restored = self.part.with_name(f"{self.part.name}{PART_SUFFIX}")  # swept if left
        try:
            with self.part.open("rb") as rest, restored.open("wb", buffering=0) as out:
                rest.seek(self.stored_head)
                out.write(self.head)
                shutil.copyfileobj(rest, out, 1 << 20)
            restored.replace(self.part)
        finally:
            restored.unlink(missing_ok=True)
        self.close()
        self.fd = os.open(self.part, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self.stored = os.fstat(self.fd).st_size
        self.hash, self.served, self.rewriter = self.served, None, None

    def digests(self) -> tuple[str, int, str]:
        """sha256 as served; size and sha256 as stored (the same unless a head was rewritten)."""
        stored = self.hash.hexdigest()
        served = self.served.hexdigest() if self.served is not None else stored
        return served, self.stored, stored


def _write_error(part: Path, exc: OSError) -> Exception:
    """Our disk, not the network: DiskFull (the run stops) or WriteFailed."""
    message = f"cannot write {part.name}: {exc}"
    return DiskFull(message) if is_disk_full(exc) else WriteFailed(message)
