"""A Scrapy downloader whose per-slot concurrency limits hold.

Scrapy 2.14-2.19 start each download as a task and mark it as transferring only when the task
runs, so a slot with ``concurrency: 1`` can have many requests in flight. Our API slot must be
sequential (Flickr counts calls per key), so the request is marked the moment it is dequeued.
"""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING

from scrapy.core.downloader import Downloader
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro

if TYPE_CHECKING:
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler


MEDIA_SLOT = "flickr-media"


class ExactSlotDownloader(Downloader):
    """Downloader that counts a request as transferring as soon as it leaves the slot queue.

    It also applies ``FLICKR_MEDIA_CONCURRENCY`` to the media slot.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        media = crawler.settings.getint("FLICKR_MEDIA_CONCURRENCY", 8)
        self.per_slot_settings.setdefault(MEDIA_SLOT, {})["concurrency"] = max(media, 1)

    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall:
            return
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            # The fix: reserve the transfer slot now, not when the coroutine gets to run.
            slot.transferring.add(request)
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break
