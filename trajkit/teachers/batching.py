"""Dynamic batching: many concurrent async callers, one batched call on a worker thread.

Rollouts call `await batcher.submit(item)` from the event loop. A background thread takes the
first pending item, keeps collecting for up to `max_wait_ms` (or until `max_batch` items), runs
`run_batch(items)` once, and resolves every caller's future. While a batch runs, new items
queue up and all of them go into the next batch, so the batch size follows the concurrency.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from trajkit.teachers.base import BackendBase, GenerationRequest, GenerationResponse, Stopwatch

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Pending(Generic[Item]):
    item: Item
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class BatcherClosed(RuntimeError):
    pass


class DynamicBatcher(Generic[Item, Result]):
    def __init__(
        self,
        run_batch: Callable[[list[Item]], Sequence[Result]],
        *,
        max_batch: int = 16,
        max_wait_ms: float = 10.0,
        size_of: Callable[[Item], int] = lambda item: 1,
        name: str = "trajkit-batcher",
    ):
        """`size_of` weighs an item (a request with n=4 fills 4 rows of the batch)."""
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._max_wait_s = max_wait_ms / 1000.0
        self._size_of = size_of
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()
        self.batch_sizes: list[int] = []  # rows per batch run, for benchmarks and tests

    async def submit(self, item: Item) -> Result:
        if self._closed:
            raise BatcherClosed("the batcher is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Pending(item, future, loop))
        return await future

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop after the batch in progress; callers still waiting get BatcherClosed."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    # ------------------------------------------------------------------ worker thread

    def _work(self) -> None:
        carry: _Pending | None = None
        while True:
            first = carry or self._queue.get()
            carry = None
            if first is None:
                break
            batch, carry, stop = self._collect(first)
            live = [p for p in batch if not p.future.cancelled()]
            if live:
                self._run(live)
            if stop:
                break
        self._fail_remaining()

    def _collect(self, first: _Pending) -> tuple[list[_Pending], _Pending | None, bool]:
        """Gather items for up to max_wait after the first; an item that would overflow the
        batch is carried into the next one."""
        batch, rows = [first], self._size_of(first.item)
        deadline = time.monotonic() + self._max_wait_s
        while rows < self._max_batch:
            remaining = deadline - time.monotonic()
            try:
                nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return batch, None, True
            size = self._size_of(nxt.item)
            if rows + size > self._max_batch:
                return batch, nxt, False
            batch.append(nxt)
            rows += size
        return batch, None, False

    def _run(self, batch: list[_Pending]) -> None:
        self.batch_sizes.append(sum(self._size_of(p.item) for p in batch))
        try:
            results = list(self._run_batch([p.item for p in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(batch)} items")
        except BaseException as exc:  # every caller must hear about it, whatever it is
            for pending in batch:
                _resolve(pending, error=exc)
            return
        for pending, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                _resolve(pending, error=result)
            else:
                _resolve(pending, result=result)

    def _fail_remaining(self) -> None:
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                return
            if pending is not None:
                _resolve(pending, error=BatcherClosed("the batcher was closed"))


def _resolve(pending: _Pending, *, result=None, error: BaseException | None = None) -> None:
    def settle() -> None:
        if pending.future.done():
            return  # the caller gave up (cancelled) meanwhile
        if error is not None:
            pending.future.set_exception(error)
        else:
            pending.future.set_result(result)

    try:
        pending.loop.call_soon_threadsafe(settle)
    except RuntimeError:
        pass  # the caller's event loop is closed: nobody is waiting any more


class BatchedBackend(BackendBase):
    """A backend whose requests go through `self._batcher` (a DynamicBatcher) to one model."""

    _batcher: DynamicBatcher

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        watch = Stopwatch()
        response = await self._batcher.submit(request)
        return GenerationResponse(
            response.choices, response.prompt_tokens, response.completion_tokens, watch.ms()
        )

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._batcher.close)
