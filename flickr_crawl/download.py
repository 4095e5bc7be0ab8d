"""An HTTP download handler that streams media bodies to disk instead of memory.

Stock Scrapy keeps every response body in memory (377 MB RSS for one 300 MB file), and Flickr
video originals reach gigabytes. A request whose ``meta[STREAM_TO]`` names a ``.part`` path is
fetched with a Twisted agent that writes each chunk to that file while hashing it; the Response
it returns has an empty body and the result in ``meta[STREAM_RESULT]``. Every other request
(API calls, redirects, error pages) goes through Scrapy's own HTTP/1.1 handler unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from typing import Protocol as Interface

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import DownloadTimeoutError, ResponseDataLossError
from scrapy.http import Headers, Response
from scrapy.utils._download_handlers import wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers as TxHeaders
from twisted.web.iweb import UNKNOWN_LENGTH

from flickr_crawl.diskspace import DISK_FULL, DISK_FULL_ERRNOS, DiskFull, is_disk_full
from flickr_crawl.storage import PART_SUFFIX

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from twisted.web.iweb import IResponse

logger = logging.getLogger(__name__)

STREAM_TO = "flickr_stream_to"  # meta key: path of the .part file to write a 200 body into
STREAM_RESULT = "flickr_stream_result"  # meta key set on success: see _BodyReader._finished
STREAM_HEAD = "flickr_stream_head"  # meta key: a HeadRewriter for the start of the body
_ERROR_BODY_LIMIT = 1 << 20  # bodies of non-200 answers are kept in memory up to this size
_HEAD_BYTES = 64  # first bytes kept for type sniffing
_WRITE_BLOCK = 1 << 20  # bytes gathered before one write on the disk thread
_QUEUE_LIMIT = 16 << 20  # bytes waiting for the disk thread before a download stops reading
_HOLD_LIMIT = 2 << 20  # a head not found in this many bytes is left alone
_IOV_MAX = 1024  # chunks per writev (Linux's limit)
_READ_SIZE = 1 << 20  # bytes per socket read while a file body streams in


class HeadRewriter(Interface):
    """Rewrites the start of a body on its way to disk (``exif.StreamingEmbed``)."""

    def head_length(self, data: bytes | bytearray) -> int | None:
        """(reactor) Length of the head to rewrite; None: more bytes needed; 0: none."""

    def rewrite(self, head: bytes) -> bytes:
        """(disk thread) The head as it is to be stored."""

    def keep(self, stored: Path, head_length: int) -> bool:
        """(disk thread) At the end, with the stored file and its head's length: False
        stores the body as served after all."""


class StreamingDownloadHandler(HTTP11DownloadHandler):
    """HTTP(S) handler: Scrapy's for normal requests, a disk-streaming one for media."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self._idle_timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 180)
        self._signals = crawler.signals

    def _write_failed(self, part: Path, error: OSError) -> None:
        """Tell the disk guard (``flickr_crawl.diskspace``) when the disk is full."""
        if error.errno in DISK_FULL_ERRNOS:
            self._signals.send_catch_log(signal=DISK_FULL, path=str(part), error=error)

    async def download_request(self, request: Request) -> Response:
        target = request.meta.get(STREAM_TO)
        if not target:
            return await super().download_request(request)
        with wrap_twisted_exceptions():
            return await maybe_deferred_to_future(self._stream(request, Path(target)))

    def _stream(self, request: Request, part: Path) -> Deferred[Response]:
        from twisted.internet import reactor

        agent = Agent(reactor, contextFactory=self._contextFactory, pool=self._pool)
        headers = TxHeaders(dict(request.headers))  # type: ignore[arg-type]
        # The bytes on disk must be the file itself, never a gzip of it.
        headers.setRawHeaders(b"Accept-Encoding", [b"identity"])
        d: Deferred[IResponse] = agent.request(
            request.method.encode("ascii"), request.url.encode("ascii"), headers, None
        )
        transport: list[Any] = []

        def cancel(_: Deferred[Response]) -> None:  # Scrapy cancelled us: stop reading
            if transport:
                transport[0].stopProducing()
            else:
                d.cancel()

        result: Deferred[Response] = Deferred(cancel)
        # Until the headers arrive the whole request gets DOWNLOAD_TIMEOUT; after that the
        # body reader applies the same timeout to each silence, so a long video can finish.
        header_timer = reactor.callLater(self._idle_timeout, d.cancel)  # type: ignore[attr-defined]

        def timed_out(failure: Failure) -> Failure:
            if failure.check(CancelledError) and not result.called:
                raise DownloadTimeoutError(f"No answer from {request.url} in time")
            return failure

        def got_response(txresponse: IResponse) -> None:
            if header_timer.active():
                header_timer.cancel()
            resp_headers = Headers()
            if txresponse.length != UNKNOWN_LENGTH:
                resp_headers[b"Content-Length"] = str(txresponse.length).encode()
            resp_headers.update(txresponse.headers.getAllRawHeaders())
            encoding = (resp_headers.get(b"Content-Encoding") or b"identity").lower()
            to_file = txresponse.code == 200
            if to_file and encoding != b"identity":
                txresponse._transport.stopProducing()  # type: ignore[attr-defined]
                raise ResponseDataLossError(f"refusing a {encoding!r}-encoded body for a file")
            reader = _BodyReader(
                part if to_file else None,
                expected=None if txresponse.length == UNKNOWN_LENGTH else txresponse.length,
                idle_timeout=self._idle_timeout,
                on_write_error=self._write_failed,
                head=request.meta.get(STREAM_HEAD) if to_file else None,
            )
            reader.done.addCallbacks(
                lambda info: result.callback(
                    _make_response(request, txresponse, resp_headers, info)
                ),
                result.errback,
            )
            transport.append(txresponse._transport)  # type: ignore[attr-defined]
            if to_file:
                reader.read_in_large_blocks(txresponse._transport)  # type: ignore[attr-defined]
            txresponse.deliverBody(reader)

        d.addErrback(timed_out)
        # got_response's own exceptions (a .part that cannot be created...) must fail the
        # download too, or it would never finish: hence addCallback, then addErrback.
        d.addCallback(got_response)
        d.addErrback(lambda failure: None if result.called else result.errback(failure))
        return result


def _make_response(
    request: Request, txresponse: IResponse, headers: Headers, info: dict[str, Any]
) -> Response:
    from scrapy.responsetypes import responsetypes

    body: bytes = info.pop("body", b"")
    if "sha256" in info:
        request.meta[STREAM_RESULT] = info
    cls = responsetypes.from_args(headers=headers, url=request.url, body=body[:512])
    return cls(
        url=request.url,
        status=int(txresponse.code),
        headers=headers,
        body=body,
        flags=["streamed"] if "sha256" in info else None,
        request=request,
    )


class _DiskWriter:
    """Writes, hashes, fsyncs and closes one ``.part`` file on the shared disk thread.

    The reactor thread only queues chunks: a buffered write, sha256 and fsync of every file on
    the reactor cost a quarter of a full backup's wall time (profiled: 2000 photos), and every
    other download stalled meanwhile. Jobs of one file run in order on one thread; the reader
    stops reading while ``_QUEUE_LIMIT`` bytes are waiting, so memory stays flat.

    Two hashes are kept once a head was rewritten: of the bytes as served, and as stored.
    """

    _executor: ThreadPoolExecutor | None = None

    def __init__(self, part: Path) -> None:
        # Unbuffered: a full disk fails the write that meets it, not a flush at the end.
        # OSError here (no folder...) fails the download.
        self.part = part
        self.file = part.open("wb", buffering=0)
        self.hash = hashlib.sha256()  # of the bytes stored
        self.stored = 0
        self.served: Any = None  # hash of the bytes served, once they differ from the stored
        self.rewriter: HeadRewriter | None = None
        self.head = b""  # the served head, while the stored one differs
        self.stored_head = 0  # length of the stored head then
        self.error: OSError | None = None

    @classmethod
    def submit(cls, job: Callable[[], None]) -> Future[None]:
        if cls._executor is None:
            cls._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flickr-disk")
        return cls._executor.submit(job)

    def write_head(self, head: bytes, rewriter: HeadRewriter) -> None:
        """(disk thread) Store the head as ``rewriter`` has it; as served if it fails."""
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
        """(disk thread) Append and hash some chunks, unless an earlier write failed."""
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
            _write_all(self.file.fileno(), chunks)
        except OSError as exc:
            self.error = exc

    def finish(self, complete: bool) -> bool:
        """(disk thread) Flush and fsync a complete file, close it; whether it is complete."""
        try:
            if (
                complete
                and self.error is None
                and self.rewriter is not None
                and not self.rewriter.keep(self.part, self.stored_head)
            ):
                self._put_back_head()
            if complete and self.error is None:
                os.fsync(self.file.fileno())
        except OSError as exc:  # disk full, I/O error: this file is not complete
            self.error = exc
        try:
            self.file.close()  # unbuffered: nothing left to flush, so this cannot lose data
        except OSError as exc:
            self.error = self.error or exc
        return complete and self.error is None

    def _put_back_head(self) -> None:
        """(disk thread) Make the file the bytes as served: the served head, then the rest."""
        restored = self.part.with_name(f"{self.part.name}{PART_SUFFIX}")  # swept if left
        try:
            with self.part.open("rb") as rest, restored.open("wb", buffering=0) as out:
                rest.seek(self.stored_head)
                out.write(self.head)
                shutil.copyfileobj(rest, out, 1 << 20)
            restored.replace(self.part)
        finally:
            restored.unlink(missing_ok=True)
        self.file.close()
        self.file = self.part.open("ab", buffering=0)
        self.stored = self.file.tell()
        self.hash, self.served, self.rewriter = self.served, None, None

    def digests(self) -> dict[str, Any]:
        """Size and sha256 as served, and as stored (the same unless a head was rewritten)."""
        stored = self.hash.hexdigest()
        served = self.served.hexdigest() if self.served is not None else stored
        return {"sha256": served, "stored_size": self.stored, "stored_sha256": stored}


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


class _BodyReader(Protocol):
    """Streams a body to ``part`` through the disk thread, or keeps a small error body."""

    def __init__(
        self,
        part: Path | None,
        *,
        expected: int | None,
        idle_timeout: float,
        on_write_error: Callable[[Path, OSError], None] | None = None,
        head: HeadRewriter | None = None,
    ):
        self.done: Deferred[dict[str, Any]] = Deferred()
        self._rewriter = head  # until its head has gone to the disk thread
        self._hold = bytearray()  # the start of the body, held back for the rewriter
        self._on_write_error = on_write_error
        self._part = part
        self._expected = expected
        self._size = 0
        self._head = b""
        self._buf = bytearray()  # the body of an error page
        self._chunks: list[bytes] = []  # the body of a file, not yet handed to the disk thread
        self._connection: Any = None  # a TCP connection reading large blocks for this body
        self._gathered = 0
        self._writer = _DiskWriter(part) if part is not None else None
        self._queued = 0  # bytes handed to the disk thread and not yet written
        self._paused = False
        self._idle_timeout = idle_timeout
        self._timer: Any = None
        self._reported = False

    def connectionMade(self) -> None:
        self._arm_timer()

    def _arm_timer(self) -> None:
        from twisted.internet import reactor

        if self._timer is not None and self._timer.active():
            self._timer.reset(self._idle_timeout)
        elif self._idle_timeout:
            self._timer = reactor.callLater(self._idle_timeout, self._on_idle)  # type: ignore[attr-defined]

    def _on_idle(self) -> None:
        assert self.transport is not None
        self.transport.stopProducing()  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:
        self._arm_timer()
        self._size += len(data)
        if self._writer is None:
            if len(self._buf) < _ERROR_BODY_LIMIT:
                self._buf += data[: _ERROR_BODY_LIMIT - len(self._buf)]
            return
        if len(self._head) < _HEAD_BYTES:
            self._head += data[: _HEAD_BYTES - len(self._head)]
        if self._rewriter is not None:
            self._hold_head(data)
            return
        self._gather(data)

    def _gather(self, data: bytes) -> None:
        """Collect chunks (not copied into one buffer) until a block is worth a write."""
        self._chunks.append(data)
        self._gathered += len(data)
        if self._gathered >= _WRITE_BLOCK:
            self._flush_buffer()

    def _hold_head(self, data: bytes) -> None:
        """Keep the start of the body until the rewriter's head is whole; then hand the head
        to the disk thread and go on streaming."""
        assert self._rewriter is not None
        assert self._writer is not None
        self._hold += data
        length = self._rewriter.head_length(self._hold)
        if length is None and len(self._hold) < _HOLD_LIMIT:
            return
        rewriter, writer, self._rewriter = self._rewriter, self._writer, None
        held, self._hold = bytes(self._hold), bytearray()
        if length:
            head = held[:length]
            self._queued += len(head)
            self._submit(lambda: writer.write_head(head, rewriter), len(head))
            held = held[length:]
        if held:
            self._gather(held)

    def _flush_buffer(self) -> None:
        """Hand the buffered bytes to the disk thread."""
        assert self._writer is not None
        chunks, size = self._chunks, self._gathered
        self._chunks, self._gathered = [], 0
        self._queued += size
        writer = self._writer
        self._submit(lambda: writer.write(chunks), size)

    def _submit(self, write: Callable[[], None], size: int) -> None:
        """Queue one write on the disk thread; pause reading if it falls behind."""
        from twisted.internet import reactor

        def job() -> None:
            write()
            reactor.callFromThread(self._written, size)  # type: ignore[attr-defined]

        _DiskWriter.submit(job)
        if self._queued > _QUEUE_LIMIT and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def _written(self, n: int) -> None:
        """(reactor) A block reached the disk, or failed to: resume or stop reading."""
        self._queued -= n
        if self._report_error("write"):
            if self.transport is not None:
                self.transport.stopProducing()  # type: ignore[attr-defined]
            return
        if self._paused and self._queued <= _QUEUE_LIMIT // 2 and self.transport is not None:
            self._paused = False
            self.transport.resumeProducing()  # type: ignore[attr-defined]

    def _report_error(self, verb: str) -> bool:
        """Log the disk thread's error once per file; whether this was that once."""
        assert self._writer is not None
        if self._writer.error is None or self._reported:
            return False
        self._reported = True
        logger.error(
            "Cannot %(verb)s %(part)s: %(err)s",
            {"verb": verb, "part": str(self._part), "err": self._writer.error},
        )
        return True

    def read_in_large_blocks(self, proxy: Any) -> None:
        """Let the connection read up to ``_READ_SIZE`` per system call while this body lasts.

        Twisted reads 64 KiB at a time; a gigabyte then takes 16,000 trips through the HTTP
        parser. The connection goes back to the pool with its usual size afterwards.
        """
        connection = getattr(proxy, "_producer", None)  # TransportProxyProducer -> TCP
        if connection is not None and hasattr(connection, "bufferSize"):
            self._connection = connection
            connection.bufferSize = _READ_SIZE

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        from twisted.internet import reactor

        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        if self._connection is not None and "bufferSize" in vars(self._connection):
            del self._connection.bufferSize  # the class's own value again
        complete = reason is not None and reason.check(ResponseDone, PotentialDataLoss)
        if complete and self._expected is not None and self._size != self._expected:
            complete = False
        if self._writer is None:  # an error page or a redirect: its status is what matters
            self.done.callback({"body": bytes(self._buf)})
            return
        if reason is not None and reason.check(PotentialDataLoss) and self._expected is None:
            # No Content-Length and no chunked framing: we cannot tell a cut from the end.
            complete = False
        if self._hold:  # a body shorter than its head: stored as it came
            self._chunks.insert(0, bytes(self._hold))
            self._gathered += len(self._hold)
            self._hold, self._rewriter = bytearray(), None
        if self._chunks:
            self._flush_buffer()
        writer = self._writer

        def job() -> None:
            ok = writer.finish(bool(complete))
            reactor.callFromThread(self._finished, ok)  # type: ignore[attr-defined]

        _DiskWriter.submit(job)

    def _finished(self, complete: bool) -> None:
        """(reactor) The file is closed: report the result, or drop a partial file."""
        self._report_error("finish")
        assert self._writer is not None
        if not complete:
            assert self._part is not None
            self._part.unlink(missing_ok=True)
            failed = self._writer.error
            if failed is not None:  # our disk, not the network: say so
                if self._on_write_error is not None:
                    self._on_write_error(self._part, failed)
                error = DiskFull(f"cannot write {self._part.name}: {failed}")
                error.__cause__ = failed
                self.done.errback(error if is_disk_full(failed) else failed)
                return
            logger.warning(
                "Download cut short: %(got)s of %(expected)s bytes",
                {"got": self._size, "expected": self._expected},
            )
            self.done.errback(ResponseDataLossError())
            return
        # size and sha256: the body as served; stored_*: the file (its head maybe rewritten)
        self.done.callback({"size": self._size, "head": self._head.hex(), **self._writer.digests()})
