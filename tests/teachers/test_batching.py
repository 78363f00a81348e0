import asyncio
import threading
import time

import pytest

from trajkit.teachers.batching import BatcherClosed, DynamicBatcher


def test_concurrent_submissions_share_batches():
    gate = threading.Event()
    seen: list[list[int]] = []

    def run(items):
        seen.append(list(items))
        gate.wait(5)  # hold the first batch until everyone has queued
        return [i * 10 for i in items]

    batcher = DynamicBatcher(run, max_batch=16, max_wait_ms=1)

    async def main():
        first = asyncio.create_task(batcher.submit(0))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(batcher.submit(i)) for i in range(1, 8)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(first, *rest)

    assert asyncio.run(main()) == [i * 10 for i in range(8)]
    batcher.close()
    assert seen[0] == [0]
    assert sorted(seen[1]) == list(range(1, 8))  # all queued items went in one batch


def test_batches_respect_max_rows_with_weighted_items():
    sizes = []

    def run(items):
        sizes.append(sum(items))
        time.sleep(0.01)
        return items

    batcher = DynamicBatcher(run, max_batch=4, max_wait_ms=20, size_of=lambda item: item)

    async def main():
        return await asyncio.gather(*(batcher.submit(n) for n in [1, 3, 2, 2, 1, 1]))

    assert asyncio.run(main()) == [1, 3, 2, 2, 1, 1]
    batcher.close()
    assert max(sizes) <= 4 and sum(sizes) == 10


def test_failures_reach_the_right_callers():
    def run(items):
        if "all" in items:
            raise RuntimeError("the whole batch failed")
        return [ValueError(i) if i == "bad" else i.upper() for i in items]

    batcher = DynamicBatcher(run, max_wait_ms=20)

    async def main():
        return await asyncio.gather(
            batcher.submit("ok"), batcher.submit("bad"), return_exceptions=True
        )

    good, bad = asyncio.run(main())
    assert good == "OK" and isinstance(bad, ValueError)

    async def whole():
        return await batcher.submit("all")

    with pytest.raises(RuntimeError, match="whole batch"):
        asyncio.run(whole())
    batcher.close()


def test_closed_batcher_refuses_work():
    batcher = DynamicBatcher(lambda items: items)
    batcher.close()
    with pytest.raises(BatcherClosed):
        asyncio.run(batcher.submit(1))
