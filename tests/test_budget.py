"""The hourly API budget never lets more than N calls into any rolling hour."""

from __future__ import annotations

from flickr_crawl.budget import ApiBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window():
    clock = Clock()
    budget = ApiBudget(3, clock)
    sent = []
    for _ in range(10):
        wait = budget.wait_time()
        clock.now += wait
        budget.record()
        sent.append(clock.now)
        clock.now += 1
    # any window of one hour holds at most 3 calls
    for i, t in enumerate(sent):
        assert sum(1 for s in sent[i:] if s < t + 3600) <= 3
    assert sent[3] == sent[0] + 3600


def test_unlimited():
    budget = ApiBudget(0, Clock())
    for _ in range(10000):
        assert budget.wait_time() == 0
        budget.record()
