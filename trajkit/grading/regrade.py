"""Re-grade the trajectories of a dataset into a new dataset version (lineage: `grade`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from trajkit.grading.graders import agrade, check_grader_name
from trajkit.schema import Trajectory

CHUNK = 256


def regrade_dataset(
    source: str | Path,
    destination: str | Path,
    *,
    grader: str = "auto",
    judge: Any = None,
    concurrency: int = 8,
    math_timeout_s: float | None = None,
    overwrite: bool = False,
    close_judge: bool = True,
    on_progress: Callable[[int], None] | None = None,
):
    """Grade every trajectory's final answer again; returns (new Dataset, counts).

    Synchronous: it runs its own event loop (call it through `asyncio.to_thread` from async
    code). The judge, when given, is closed at the end unless `close_judge` is false."""
    from trajkit.store import Dataset, derive

    check_grader_name(grader)
    dataset = Dataset.open(source)
    counts: Counter = Counter()

    # One event loop for the whole run: judge backends hold clients bound to their loop.
    loop = asyncio.new_event_loop()

    def rows() -> Iterator[Trajectory]:
        chunk: list[Trajectory] = []
        for trajectory in dataset.trajectories():
            chunk.append(trajectory)
            if len(chunk) >= CHUNK:
                yield from loop.run_until_complete(
                    _grade_chunk(chunk, grader, judge, concurrency, math_timeout_s, counts)
                )
                if on_progress:
                    on_progress(len(chunk))
                chunk = []
        if chunk:
            yield from loop.run_until_complete(
                _grade_chunk(chunk, grader, judge, concurrency, math_timeout_s, counts)
            )
            if on_progress:
                on_progress(len(chunk))

    params: dict[str, Any] = {"grader": grader}
    if grader.startswith("llm_judge:"):
        from trajkit.grading.llm_judge import PROMPT_HASH, PROMPT_ID

        params.update({"judge_prompt_id": PROMPT_ID, "judge_prompt_hash": PROMPT_HASH})
    if math_timeout_s is not None:
        params["math_timeout_s"] = math_timeout_s
    try:
        result = derive([dataset], destination, rows(), operation="grade", params=params, overwrite=overwrite)
    finally:
        if close_judge and judge is not None and hasattr(judge, "aclose"):
            loop.run_until_complete(judge.aclose())
        loop.close()
    return result, counts


async def _grade_chunk(chunk, grader, judge, concurrency, math_timeout_s, counts) -> list[Trajectory]:
    limit = asyncio.Semaphore(concurrency)

    async def one(trajectory: Trajectory) -> Trajectory:
        async with limit:
            result = await agrade(
                trajectory.task,
                trajectory.outcome.final_answer,
                grader,
                judge=judge,
                math_timeout_s=math_timeout_s,
            )
        before = trajectory.outcome.correct
        counts["graded"] += 1
        counts["correct"] += result.correct is True
        counts["ungraded"] += result.correct is None
        counts["changed"] += before != result.correct
        counts["timed out"] += bool(result.detail.get("timed_out"))
        return trajectory.model_copy(update={"outcome": result.apply(trajectory.outcome)})

    return list(await asyncio.gather(*(one(t) for t in chunk)))
