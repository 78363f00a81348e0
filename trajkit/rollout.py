"""The rollout engine that build and eval share: work items in, graded trajectories out.

- `Engine` holds a plan, its backend and its tools. `Engine.answer` runs one rollout: the
  CodeAct agent loop (`trajkit.agent.loop.run_agent`) or one CoT generation
  (`trajkit.agent.cot.run_cot`); `Engine.rollout` grades it and wraps it with the plan's
  provenance into a `Trajectory`; `Engine.run` runs many: `concurrency` workers pull work
  items from one queue, so a build of 100k tasks holds `concurrency` rollouts, not 100k
  coroutines;
- `Committer` is a local build's one writer: it commits finished trajectories in batches of
  `flush_every`, each one atomic shard (`Dataset.append_new`);
- `run_build` / `run_local` tie them together on this machine. The Ray executor's actors
  (`trajkit.executors.worker`) run the same `Engine`, so a trajectory is the same whichever
  executor made it.

A killed build loses at most the trajectories not yet committed; trajectory ids are
deterministic, so re-running the recipe resumes. Rollouts whose backend failed after its
retries are stored with `status=teacher_error` and redone by `--retry-failed`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from trajkit.agent.cot import run_cot
from trajkit.agent.loop import run_agent
from trajkit.agent.steps import AgentResult
from trajkit.plan import BuildPlan, WorkItem, open_output, work_items
from trajkit.schema import Task, Trajectory
from trajkit.store import Dataset
from trajkit.teachers.base import Backend

if TYPE_CHECKING:
    from trajkit.tools.toolbox import Toolbox

Progress = Callable[["BuildStats"], None]


@dataclass
class BuildStats:
    total: int = 0
    skipped: int = 0
    done: int = 0
    answered: int = 0
    correct: int = 0
    failed: int = 0
    step_errors: int = 0
    completion_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return max(time.perf_counter() - self.started, 1e-9)

    def count(self, trajectory: Trajectory) -> None:
        """Add one finished trajectory to the counters."""
        self.done += 1
        self.answered += trajectory.outcome.status == "answered"
        self.correct += bool(trajectory.outcome.correct)
        self.failed += trajectory.outcome.status == "teacher_error"
        self.step_errors += sum(step.error is not None for step in trajectory.steps)
        self.completion_tokens += trajectory.usage.completion_tokens

    def summary(self) -> dict:
        rate = self.done / self.elapsed
        return {
            "trajectories": self.done,
            "skipped (already built)": self.skipped,
            "correct": f"{self.correct}/{self.done}",
            "teacher errors": self.failed,
            "traj/s": f"{rate:.2f}",
            "tokens/s": f"{self.completion_tokens / self.elapsed:.1f}",
            "wall": f"{self.elapsed:.1f}s",
        }


class Engine:
    """Runs a plan's rollouts with one backend (and, for agent plans, one toolbox).

    At most `plan.recipe.concurrency` rollouts are in flight per engine, however many `run`
    calls share it (a Ray actor runs several units at once on one engine)."""

    def __init__(self, plan: BuildPlan, backend: Backend, toolbox: Toolbox | None):
        if plan.recipe.mode != "cot" and toolbox is None:
            raise ValueError("an agent plan needs a toolbox")
        self.plan = plan
        self.backend = backend
        self.toolbox = toolbox
        self._settings = plan.agent_settings()
        self._slots: asyncio.Semaphore | None = None  # made on first use, on the running loop

    async def answer(self, task: Task, sample: int = 0) -> AgentResult:
        """One rollout, not graded: the CodeAct agent loop, or one CoT generation when the
        plan's mode is cot. Sample i of a task samples with seed + i: with one seed for all,
        a seeded server would give every sample of a task the same answer."""
        sampling = self.plan.recipe.sampling
        if sample and sampling.seed is not None:
            sampling = sampling.model_copy(update={"seed": sampling.seed + sample})
        if self.plan.recipe.mode == "cot":
            return await run_cot(task, self.backend, self.plan.system_prompt, sampling)
        assert self.toolbox is not None
        settings = self._settings if sampling is self.plan.recipe.sampling else replace(self._settings, sampling=sampling)
        return await run_agent(task, self.backend, self.toolbox.new_interpreter, settings)

    async def rollout(self, task: Task, sample: int) -> Trajectory:
        """One rollout, graded, as the trajectory the plan's provenance names."""
        from trajkit.grading.graders import agrade

        result = await self.answer(task, sample)
        outcome = result.outcome
        grading = self.plan.recipe.grading
        if outcome.status == "answered":
            grade = await agrade(task, outcome.final_answer, grading.grader, math_timeout_s=grading.math_timeout_s)
            outcome = grade.apply(outcome)
        elif task.gold_answer is not None:
            outcome = outcome.model_copy(update={"correct": False, "score": 0.0})
        return Trajectory.new(
            task=task, provenance=self.plan.provenance, outcome=outcome,
            steps=result.steps, sample_index=sample, usage=result.usage,
        )

    async def run(self, items: Sequence[WorkItem], finished: Callable[[Trajectory], Awaitable[None]]) -> None:
        """Run every item, handing each trajectory to `finished` as it completes. At most
        `concurrency` workers pull items in order from one shared queue."""
        concurrency = self.plan.recipe.concurrency
        if self._slots is None:
            self._slots = asyncio.Semaphore(concurrency)
        slots = self._slots
        queue: Iterator[WorkItem] = iter(items)

        async def worker() -> None:
            for item in queue:  # one iterator shared by every worker: each item is taken once
                async with slots:
                    trajectory = await self.rollout(item.task, item.sample)
                await finished(trajectory)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(items)))))


class Committer:
    """The one writer of a local build: finished trajectories are batched and every
    `flush_every` of them committed as one atomic shard (`Dataset.append_new`, in a thread)."""

    def __init__(self, dataset: Dataset, flush_every: int):
        self._dataset = dataset
        self._flush_every = flush_every
        self._batch: list[Trajectory] = []
        self._lock = asyncio.Lock()

    async def add(self, trajectory: Trajectory) -> None:
        self._batch.append(trajectory)
        if len(self._batch) >= self._flush_every:
            await self.commit()

    async def commit(self) -> None:
        async with self._lock:
            batch, self._batch = self._batch, []
            if batch:
                await asyncio.to_thread(self._dataset.append_new, batch)


async def run_build(
    plan: BuildPlan,
    backend: Backend,
    toolbox: Toolbox | None,
    *,
    retry_failed: bool = False,
    progress: Progress | None = None,
) -> tuple[Dataset, BuildStats]:
    """Run every remaining rollout of `plan` on this machine, committing shards as they finish
    (`toolbox` may be None for a CoT plan)."""
    dataset = open_output(plan, retry_failed=retry_failed)
    items, skipped = work_items(plan.tasks, plan.provenance.fingerprint, plan.recipe.samples_per_task, dataset.trajectory_ids())
    stats = BuildStats(total=len(items) + skipped, skipped=skipped)
    committer = Committer(dataset, plan.recipe.flush_every)

    async def finished(trajectory: Trajectory) -> None:
        stats.count(trajectory)
        if progress is not None:
            progress(stats)
        await committer.add(trajectory)

    try:
        await Engine(plan, backend, toolbox).run(items, finished)
    finally:
        await committer.commit()
    return Dataset.open(plan.output), stats


async def run_local(
    plan: BuildPlan, toolbox: Toolbox | None, *, label: str, show_progress: bool, retry_failed: bool = False
) -> tuple[Dataset, BuildStats]:
    """`run_build` with the backend of the plan's teacher block, and a live progress bar
    when asked."""
    from trajkit.teachers import make_backend

    backend = make_backend(plan.recipe.teacher)
    try:
        if not show_progress:
            return await run_build(plan, backend, toolbox, retry_failed=retry_failed)
        from trajkit.progress import BuildProgress

        with BuildProgress(description=f"{label} {plan.output.name}") as bar:
            return await run_build(plan, backend, toolbox, retry_failed=retry_failed, progress=bar.update)
    finally:
        await backend.aclose()
