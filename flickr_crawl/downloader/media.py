"""A download handler that streams media bodies to a ``.part`` file instead of memory.

Stock Scrapy keeps every response body in memory (377 MB RSS for one 300 MB file), and Flickr
video originals reach gigabytes. A request whose ``meta[MEDIA_PART]`` names a ``.part`` path
goes through Scrapy's own HTTP/1.1 agent (proxies, TLS and DNS settings, ``DOWNLOAD_TIMEOUT``,
``DOWNLOAD_MAXSIZE``, the ``headers_received``/``bytes_received`` signals), but a 200 body is
written to that file as it arrives, hashed on the way, on one disk-writer thread: the reactor
only hands chunks over and stops reading while too many wait, so memory stays flat. The
Response it returns has an empty body and the outcome in ``meta[MEDIA_RESULT]`` (``Stored``).
Every other answer (API calls, redirects, error pages) is read as Scrapy reads it.

A body is complete only when its length is known and every byte of it arrived; a compressed
body, or one with neither a length nor chunked framing, is refused (``Refused``, not retried).
The start of a JPEG can be held back and rewritten on the way (``HeadRewriter``:
``flickr_crawl.metadata.exif.StreamingEmbed``). ``DOWNLOAD_TIMEOUT`` bounds the wait for the
headers and then each silence of the body, so a long video finishes while it keeps coming.
``store_stream`` stores a local stream (an original inside Flickr's account export) the same way.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from time import monotonic
from typing import IO, TYPE_CHECKING, Any, cast
from typing import Protocol as Interface

from pydispatch.dispatcher import getAllReceivers, liveReceivers
from scrapy import signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler, _ScrapyAgent
from scrapy.exceptions import DownloadCancelledError, ResponseDataLossError
from scrapy.utils._download_handlers import (
    check_stop_download,
    get_maxsize_msg,
    wrap_twisted_exceptions,
)
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import UNKNOWN_LENGTH

from flickr_crawl.archive.storage import PART_SUFFIX
from flickr_crawl.extensions.diskspace import DiskFull, is_disk_full

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.web.client import Response as TxResponse

logger = logging.getLogger(__name__)

MEDIA_SLOT = "flickr-media"  # download slot of every media file (FLICKR_MEDIA_CONCURRENCY)
MEDIA_PART = "flickr_media_part"  # meta: path of the .part file a 200 body is written to
MEDIA_HEAD = "flickr_media_head"  # meta: a HeadRewriter for the start of the body
MEDIA_RESULT = "flickr_media_result"  # meta, set when the body is stored whole: a Stored
_HEAD_BYTES = 64  # first bytes kept for type sniffing
_WRITE_BLOCK = 1 << 20  # bytes gathered before one write on the disk thread
_QUEUE_LIMIT = 16 << 20  # bytes waiting for the disk thread before a download stops reading
_HOLD_LIMIT = 2 << 20  # a head not found in this many bytes is left alone
_IOV_MAX = 1024  # chunks per writev (Linux's limit)
_READ_SIZE = 1 << 20  # bytes per socket read while a file body streams in
_TIMER_SLACK = 1.0  # seconds: the idle timer is pushed back at most this often (a quarter
# of DOWNLOAD_TIMEOUT if that is shorter)


class HeadRewriter(Interface):
    """Rewrites the start of a body on its way to disk (``exif.StreamingEmbed``)."""

    def head_length(self, data: bytes | bytearray) -> int | None:
        """(reactor) Length of the head to rewrite; None: more bytes needed; 0: none."""

    def rewrite(self, head: bytes) -> bytes:
        """(disk thread) The head as it is to be stored."""

    def keep(self, stored: Path, head_length: int) -> bool:
        """(disk thread) At the end, with the stored file and its head's length: False
        stores the body as served after all."""


class Refused(Exception):
    """An answer that can never be stored as the file (a compressed body, one with no length
    and no framing). Not an error Scrapy retries: it would come the same way again."""


class WriteFailed(Exception):
    """The ``.part`` file could not be made or written (our disk, not the network): never
    retried. The OSError is its ``__cause__``."""


@dataclass
class Stored:
    """A body stored whole in its ``.part`` file."""

    size: int  # bytes served
    head: bytes  # the first bytes served, for type sniffing
    sha256: str  # of the bytes served
    stored_size: int  # of the file: differs when its head was rewritten
    stored_sha256: str


class MediaDownloadHandler(HTTP11DownloadHandler):
    """HTTP(S) handler: Scrapy's for every request, with media bodies streamed to disk."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self._disk = DiskThread()

    async def download_request(self, request: Request) -> Response:
        if not request.meta.get(MEDIA_PART):
            return await super().download_request(request)
        agent = _MediaAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
            disk=self._disk,
        )
        with wrap_twisted_exceptions():
            return await maybe_deferred_to_future(agent.download_request(request))

    async def close(self) -> None:
        await super().close()
        self._disk.close()


class DiskThread:
    """The one thread that opens, writes, hashes, fsyncs and closes every ``.part`` file.

    The reactor only queues chunks: a write, sha256 and fsync of every file on the reactor
    stalls every other download meanwhile. Jobs run in order, so a file's writes come before
    its close, and a retried download's new file after the old one's removal.
    """

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="flickr-disk")
            self._executor.submit(job)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)  # open files are closed, not left to the OS


class _MediaAgent(_ScrapyAgent):
    """Scrapy's agent, whose 200 bodies go to ``meta[MEDIA_PART]`` through ``_PartReader``."""

    def __init__(self, *, disk: DiskThread, **kwargs: Any):
        super().__init__(**kwargs)
        self._disk = disk

    def _cb_bodyready(self, txresponse: TxResponse, request: Request) -> Any:
        if txresponse.code != 200:  # an error page or a redirect: read as Scrapy reads it
            return super()._cb_bodyready(txresponse, request)
        headers = self._headers_from_twisted_response(txresponse)
        if stop_download := check_stop_download(
            signals.headers_received, self._crawler, request, headers=headers,
            body_length=txresponse.length,
        ):  # fmt: skip
            txresponse._transport.stopProducing()
            txresponse._transport.loseConnection()
            return {"txresponse": txresponse, "stop_download": stop_download}
        encoding = (headers.get(b"Content-Encoding") or b"identity").strip().lower()
        if encoding != b"identity":  # the bytes on disk must be the file, never a gzip of it
            txresponse._transport._producer.abortConnection()
            raise Refused(f"refusing a {encoding.decode('latin-1')!r}-encoded body for a file")
        maxsize = request.meta.get("download_maxsize", self._maxsize)
        expected = None if txresponse.length == UNKNOWN_LENGTH else cast("int", txresponse.length)
        if maxsize and expected is not None and expected > maxsize:
            message = get_maxsize_msg(expected, maxsize, request, expected=True)
            logger.warning(message)
            txresponse._transport._producer.abortConnection()
            raise DownloadCancelledError(message)
        finished: Deferred[Any] = Deferred(partial(self._cancel, txresponse=txresponse))
        reader = _PartReader(
            finished, txresponse, request, Path(request.meta[MEDIA_PART]),
            expected=expected, maxsize=maxsize, crawler=self._crawler, disk=self._disk,
            head=request.meta.get(MEDIA_HEAD), timer=self._timeout_cl,
            timeout=request.meta.get("download_timeout") or self._connectTimeout,
        )  # fmt: skip
        if expected == 0:  # Twisted delivers no body at all: an empty file
            reader.connectionLost(Failure(ResponseDone()))
            return finished
        reader.read_in_large_blocks(txresponse._transport)
        txresponse.deliverBody(reader)
        self._txresponse = txresponse  # for timeouts
        return finished


class _PartWriter:
    """Writes and hashes one ``.part`` file (disk thread only); fsyncs it when complete.

    Two hashes are kept once a head was rewritten: of the bytes as served, and as stored.
    """

    def __init__(self, part: Path) -> None:
        self.part = part
        self.fd = -1
        self.inode = -1
        self.hash = hashlib.sha256()  # of the bytes stored
        self.stored = 0
        self.served: Any = None  # hash of the bytes served, once they differ from the stored
        self.rewriter: HeadRewriter | None = None
        self.head = b""  # the served head, while the stored one differs
        self.stored_head = 0  # length of the stored head then
        self.error: OSError | None = None

    def open(self) -> None:
        """A new file (a new inode): an earlier attempt's writes can never reach it."""
        try:
            self.part.unlink(missing_ok=True)
            # Unbuffered: a full disk fails the write that meets it, not a flush at the end.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            self.fd = os.open(self.part, flags, 0o644)
            self.inode = os.fstat(self.fd).st_ino
        except OSError as exc:
            self.error = exc

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
        self._append([stored])

    def write(self, chunks: list[bytes]) -> None:
        if self.served is not None:
            for chunk in chunks:
                self.served.update(chunk)
        self._append(chunks)

    def _append(self, chunks: list[bytes]) -> None:
        if self.error is not None:
            return
        for chunk in chunks:
            self.hash.update(chunk)
            self.stored += len(chunk)
        try:
            _write_all(self.fd, chunks)
        except OSError as exc:
            self.error = exc

    def finish(self, complete: bool) -> bool:
        """Fsync a complete file and close it, remove an incomplete one; whether complete."""
        try:
            if complete and self.error is None:
                if self.rewriter is not None and not self.rewriter.keep(
                    self.part, self.stored_head
                ):
                    self._put_back_head()
                os.fsync(self.fd)
        except OSError as exc:  # disk full, I/O error: this file is not complete
            self.error = exc
        if self.fd >= 0:
            try:
                os.close(self.fd)  # unbuffered: nothing left to flush, so this cannot lose data
            except OSError as exc:
                self.error = self.error or exc
            self.fd = -1
        complete = complete and self.error is None
        if not complete:
            try:  # only our own file: a retry may have made a new one under the name
                if self.part.stat().st_ino == self.inode:
                    self.part.unlink()
            except OSError:
                pass
        return complete

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
        os.close(self.fd)
        self.fd = os.open(self.part, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self.inode = os.fstat(self.fd).st_ino
        self.stored = os.fstat(self.fd).st_size
        self.hash, self.served, self.rewriter = self.served, None, None

    def digests(self) -> tuple[str, int, str]:
        """sha256 as served; size and sha256 as stored (the same unless a head was rewritten)."""
        stored = self.hash.hexdigest()
        served = self.served.hexdigest() if self.served is not None else stored
        return served, self.stored, stored


def _write_all(fd: int, chunks: list[bytes]) -> None:
    """One ``writev`` for many chunks, and again for whatever a short write left."""
    views = [memoryview(chunk) for chunk in chunks if chunk]
    while views:
        written = os.writev(fd, views[:_IOV_MAX])
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def store_stream(
    source: IO[bytes], part: Path, head: HeadRewriter | None = None, *, expected: int | None = None
) -> Stored:
    """(a thread) Store a local stream (an original inside Flickr's account export) in
    ``part`` as a download's body is stored: the same head rewrite, running hashes and fsync.

    Raises ``DiskFull``/``WriteFailed`` for our disk, ``ResponseDataLossError`` when fewer or
    more than ``expected`` bytes came, or whatever reading raised (a corrupt zip member fails
    its CRC at the end: ``zipfile.BadZipFile``); the part is gone then.
    """
    writer = _PartWriter(part)
    writer.open()
    size, first, hold, rewriter, complete = 0, b"", bytearray(), head, False
    try:
        while writer.error is None and (block := source.read(_WRITE_BLOCK)):
            size += len(block)
            if len(first) < _HEAD_BYTES:
                first += block[: _HEAD_BYTES - len(first)]
            if rewriter is not None:
                hold += block
                length = rewriter.head_length(hold)
                if length is None and len(hold) < _HOLD_LIMIT:
                    continue
                block, hold = bytes(hold), bytearray()
                if length:
                    writer.write_head(block[:length], rewriter)
                    block = block[length:]
                rewriter = None
            if block:
                writer.write([block])
        if hold:  # a file shorter than its head: stored as it is
            writer.write([bytes(hold)])
        complete = expected is None or size == expected
    finally:
        complete = writer.finish(complete)
    if writer.error is not None:
        message = f"cannot write {part.name}: {writer.error}"
        error = DiskFull(message) if is_disk_full(writer.error) else WriteFailed(message)
        raise error from writer.error
    if not complete:
        raise ResponseDataLossError(f"{size} bytes where {expected} were expected")
    served, stored_size, stored_sha256 = writer.digests()
    return Stored(size=size, head=first, sha256=served, stored_size=stored_size,
                  stored_sha256=stored_sha256)  # fmt: skip


class _PartReader(Protocol):
    """Streams a 200 body to its ``.part`` file through the disk thread (reactor side)."""

    def __init__(
        self,
        finished: Deferred[Any],
        txresponse: TxResponse,
        request: Request,
        part: Path,
        *,
        expected: int | None,
        maxsize: int,
        crawler: Crawler,
        disk: DiskThread,
        head: HeadRewriter | None,
        timer: Any,
        timeout: float,
    ):
        self._finished = finished
        self._txresponse = txresponse
        self._request = request
        self._part = part
        self._expected = expected
        self._maxsize = maxsize
        self._crawler = crawler
        self._disk = disk
        self._rewriter = head  # until its head has gone to the disk thread
        self._hold = bytearray()  # the start of the body, held back for the rewriter
        self._size = 0
        self._head = b""
        self._chunks: list[bytes] = []  # not yet handed to the disk thread
        self._gathered = 0
        self._queued = 0  # bytes handed to the disk thread and not yet written
        self._lock = threading.Lock()  # _queued and _paused, shared with the disk thread
        self._paused = False
        self._connection: Any = None  # a TCP connection reading large blocks for this body
        self._timer = timer  # the agent's DOWNLOAD_TIMEOUT call: pushed back while data comes
        self._timeout = timeout
        self._timer_set = monotonic()
        self._stopped: Any = None  # a StopDownload from a bytes_received handler
        # The bytes_received signal for each chunk only when someone listens: sending it to
        # no one cost more reactor time than the body itself.
        self._listened = bool(liveReceivers(getAllReceivers(crawler.signals.sender,
                                                            signals.bytes_received)))  # fmt: skip
        self._unframed = False  # no length, no chunked framing: a cut could not be told
        self._ended = False
        self._writer = _PartWriter(part)
        self._disk.submit(self._writer.open)

    def read_in_large_blocks(self, proxy: Any) -> None:
        """Let the connection read up to ``_READ_SIZE`` per system call while this body lasts.

        Twisted reads 64 KiB at a time; a gigabyte then takes 16,000 trips through the HTTP
        parser. The connection goes back to the pool with its usual size afterwards.
        """
        connection = getattr(proxy, "_producer", None)  # TransportProxyProducer -> TCP
        if connection is not None and hasattr(connection, "bufferSize"):
            self._connection = connection
            connection.bufferSize = _READ_SIZE

    def dataReceived(self, data: bytes) -> None:
        if self._finished.called or self._ended:
            return
        now = monotonic()
        slack = min(_TIMER_SLACK, self._timeout / 4)
        if self._timeout and now - self._timer_set > slack and self._timer.active():
            self._timer.reset(self._timeout)  # DOWNLOAD_TIMEOUT is per silence from here on
            self._timer_set = now
        self._size += len(data)
        if len(self._head) < _HEAD_BYTES:
            self._head += data[: _HEAD_BYTES - len(self._head)]
        if self._rewriter is not None:
            self._hold_head(data)
        else:
            self._gather(data)
        if self._listened and (
            stop := check_stop_download(
                signals.bytes_received, self._crawler, self._request, data=data
            )
        ):
            self._stopped = stop
            self._abort()
            return
        if self._maxsize and self._size > self._maxsize:
            logger.warning(get_maxsize_msg(self._size, self._maxsize, self._request,
                                           expected=False))  # fmt: skip
            self._finished.cancel()  # aborts the connection; connectionLost removes the part

    def _abort(self) -> None:
        assert self.transport is not None
        self.transport.stopProducing()  # type: ignore[attr-defined]
        self.transport.loseConnection()  # type: ignore[attr-defined]

    def _gather(self, data: bytes) -> None:
        """Collect chunks (not copied into one buffer) until a block is worth a write."""
        self._chunks.append(data)
        self._gathered += len(data)
        if self._gathered >= _WRITE_BLOCK:
            self._flush()

    def _hold_head(self, data: bytes) -> None:
        """Keep the start of the body until the rewriter's head is whole; then hand the head
        to the disk thread and go on streaming."""
        assert self._rewriter is not None
        self._hold += data
        length = self._rewriter.head_length(self._hold)
        if length is None and len(self._hold) < _HOLD_LIMIT:
            return
        rewriter, writer, self._rewriter = self._rewriter, self._writer, None
        held, self._hold = bytes(self._hold), bytearray()
        if length:
            head = held[:length]
            self._submit(lambda: writer.write_head(head, rewriter), len(head))
            held = held[length:]
        if held:
            self._gather(held)

    def _flush(self) -> None:
        """Hand the gathered chunks to the disk thread."""
        chunks, size = self._chunks, self._gathered
        self._chunks, self._gathered = [], 0
        writer = self._writer
        self._submit(lambda: writer.write(chunks), size)

    def _submit(self, write: Callable[[], None], size: int) -> None:
        """Queue one write on the disk thread; pause reading while it falls behind."""
        from twisted.internet import reactor

        def job() -> None:
            write()
            with self._lock:
                self._queued -= size
                # The reactor hears of it only when it waits for it (a thread's wake-up
                # costs the reactor more than the write itself) or when the write failed.
                wake = self._paused or self._writer.error is not None
            if wake:
                reactor.callFromThread(self._written)  # type: ignore[attr-defined]

        with self._lock:
            self._queued += size
            pause = self._queued > _QUEUE_LIMIT and not self._paused
            self._paused = self._paused or pause
        self._disk.submit(job)
        if pause and self.transport is not None:
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def _written(self) -> None:
        """(reactor) Blocks reached the disk, or failed to: resume or stop reading."""
        if self._ended or self.transport is None:
            return
        if self._writer.error is not None:  # no point reading what cannot be stored
            self._ended = True
            self.transport.stopProducing()  # type: ignore[attr-defined]
            self._end(complete=False)
            return
        with self._lock:
            resume = self._paused and self._queued <= _QUEUE_LIMIT // 2
            self._paused = self._paused and not resume
        if resume:
            self.transport.resumeProducing()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._connection is not None and "bufferSize" in vars(self._connection):
            del self._connection.bufferSize  # the class's own value again
        if self._ended:
            return
        self._ended = True
        # Without a length only chunked framing (ResponseDone) says the end is the end.
        self._unframed = reason.check(PotentialDataLoss) is not None
        complete = (
            not self._finished.called
            and self._stopped is None
            and reason.check(ResponseDone) is not None
            and (self._expected is None or self._size == self._expected)
        )
        self._end(complete=complete)

    def _end(self, *, complete: bool) -> None:
        """Hand what is left to the disk thread, then close the file there."""
        from twisted.internet import reactor

        if self._hold:  # a body shorter than its head: stored as it came
            self._chunks.insert(0, bytes(self._hold))
            self._gathered += len(self._hold)
            self._hold, self._rewriter = bytearray(), None
        if self._chunks and complete:
            self._flush()
        self._chunks, self._gathered = [], 0
        writer = self._writer

        def job() -> None:
            ok = writer.finish(complete)
            reactor.callFromThread(self._closed, ok)  # type: ignore[attr-defined]

        self._disk.submit(job)

    def _closed(self, complete: bool) -> None:
        """(reactor) The file is closed: report the result (the part is gone unless whole)."""
        if self._finished.called:  # cancelled: timeout, maxsize, Scrapy closing
            return
        result: dict[str, Any] = {"txresponse": self._txresponse, "flags": ["flickr_media"]}
        failed = self._writer.error
        if failed is not None:  # our disk, not the network: say so (the disk guard stops
            message = f"cannot write {self._part.name}: {failed}"  # the run on DiskFull)
            error = DiskFull(message) if is_disk_full(failed) else WriteFailed(message)
            error.__cause__ = failed
            self._finished.errback(error)
            return
        if self._stopped is not None:
            result["stop_download"] = self._stopped
            self._finished.callback(result)
            return
        if self._unframed:
            self._finished.errback(Refused("a body with neither a length nor chunked framing: "
                                           "a cut could not be told from its end"))  # fmt: skip
            return
        if not complete:
            logger.warning("Download cut short: %(got)s of %(expected)s bytes of %(url)s",
                           {"got": self._size, "expected": self._expected or "?",
                            "url": self._request.url})  # fmt: skip
            self._finished.errback(ResponseDataLossError())
            return
        served, stored_size, stored_sha256 = self._writer.digests()
        self._request.meta[MEDIA_RESULT] = Stored(
            size=self._size, head=self._head, sha256=served,
            stored_size=stored_size, stored_sha256=stored_sha256,
        )  # fmt: skip
        stats = self._crawler.stats
        if stats is not None:  # the body Scrapy's DownloaderStats never sees
            stats.inc_value("downloader/response_bytes", self._size)
        self._finished.callback(result)
