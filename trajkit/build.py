"""`trajkit build`: run a model as an agent over a task set and write a trajectory dataset.

Many rollouts are in flight at once (asyncio, bounded by `concurrency`); model calls are
awaited, sandbox execution runs in threads, finished trajectories are graded and committed in
atomic Parquet shards every `flush_every` trajectories. Trajectory ids are deterministic
(task, provenance fingerprint, sample index), so re-running the same recipe skips what is
committed: a killed build loses at most the rollouts in flight. Rollouts whose backend failed
after its retries are stored with `status=teacher_error` and are redone by `--retry-failed`.

`--shard i/N` keeps the tasks whose id hashes to i modulo N, so N machines can build parts of
one dataset and `trajkit merge` them without duplicates.

With `mode: cot` each rollout is one generation without tools (`trajkit.agent.cot.run_cot`,
the paper's CoT-distillation data): no sandbox or retriever is opened, and the provenance
records the `cot` prompt, one step, one candidate and no tools.

The evaluation harness (`trajkit.evaluate`) runs the same engine with the student prompt.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from trajkit import __version__
from trajkit.errors import ConfigError
from trajkit.recipe import BuildRecipe
from trajkit.schema import Provenance, Task, ToolInfo, Trajectory, stable_hash, trajectory_id
from trajkit.store import Dataset, redact_secrets


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


@dataclass
class BuildPlan:
    """Everything a build needs, resolved from a recipe."""

    recipe: BuildRecipe
    raw_recipe: dict
    tasks: list[Task]
    provenance: Provenance
    system_prompt: str
    cot_prompt: str | None
    output: Path


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"bad shard {text!r}", fix="use --shard i/N, e.g. --shard 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"bad shard {text!r}", fix="need 0 <= i < N")
    return index, count


def in_shard(task_id: str, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    digest = int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16)
    return digest % shard[1] == shard[0]


def plan_build(recipe: BuildRecipe, raw_recipe: dict, *, shard: tuple[int, int] | None = None, tool_infos: list[ToolInfo]) -> BuildPlan:
    from trajkit.agent.prompts import load_prompt
    from trajkit.tasks import load_tasks

    task_set = load_tasks(recipe.tasks)
    tasks = [t for t in task_set.tasks if in_shard(t.task_id, shard)]
    cot_mode = recipe.mode == "cot"
    prompt = load_prompt(recipe.prompt, **_prompt_variables(recipe))
    cot = load_prompt("cot") if recipe.agent.first_thought_prefix and not cot_mode else None
    teacher = recipe.teacher or {}
    backend = str(teacher.get("backend", "local"))
    provenance = Provenance(
        kind=recipe.kind,
        backend=backend,
        model=_model_name(teacher, backend),
        **_model_file(teacher, backend),
        sampling=recipe.sampling,
        prompt_template=prompt.id,
        prompt_hash=prompt.hash if cot is None else stable_hash([prompt.hash, cot.hash]),
        first_thought_prefix=cot is not None,
        sag_n=1 if cot_mode else recipe.agent.candidates,
        max_steps=1 if cot_mode else recipe.agent.max_steps,
        tools=[] if cot_mode else tool_infos,
        trajkit_version=__version__,
        recipe_hash=stable_hash(redact_secrets(_identity_of(raw_recipe))),
    ).with_fingerprint()
    return BuildPlan(
        recipe=recipe,
        raw_recipe=raw_recipe,
        tasks=tasks,
        provenance=provenance,
        system_prompt=prompt.text,
        cot_prompt=cot.text if cot else None,
        output=Path(recipe.output),
    )


IDENTITY_KEYS = ("sampling", "prompt", "agent", "tools", "mode", "kind")
TEACHER_IDENTITY_KEYS = ("backend", "model", "prefix_mode", "chat_template", "dtype", "responses")


def _model_name(teacher: dict, backend: str) -> str:
    from trajkit.embedded import EMBEDDED_MODEL_NAME

    model = teacher.get("model")
    if model:
        return str(model)
    if backend == "llamacpp":
        from trajkit.teachers.llamacpp import DEFAULT_MODEL

        return DEFAULT_MODEL
    return EMBEDDED_MODEL_NAME if backend == "local" else backend


def _model_file(teacher: dict, backend: str) -> dict:
    """The hash and licence of the GGUF a llamacpp teacher loads (from the model registry)."""
    if backend != "llamacpp":
        return {}
    from trajkit.models import describe

    info = describe(_model_name(teacher, backend))
    return {"model_sha256": info["sha256"], "model_licence": info["licence"]}


def _identity_of(raw_recipe: dict) -> dict:
    """The recipe fields that change what a trajectory is — not which tasks, where it goes,
    how fast, or how it is graded — so that resuming with another limit or concurrency keeps
    the same trajectory ids."""
    teacher = raw_recipe.get("teacher") or raw_recipe.get("model") or {}
    identity = {k: raw_recipe[k] for k in IDENTITY_KEYS if k in raw_recipe}
    identity["teacher"] = {k: teacher[k] for k in TEACHER_IDENTITY_KEYS if k in teacher}
    return identity


def _prompt_variables(recipe: BuildRecipe) -> dict:
    from trajkit.agent.examples import TEACHER_EXAMPLES
    from trajkit.tools.policy import DEFAULT_ALLOWED_IMPORTS

    allowed = recipe.tools.sandbox.allowed_imports or list(DEFAULT_ALLOWED_IMPORTS)
    k = recipe.tools.retriever.k if recipe.tools.retriever else 3
    if recipe.prompt == "teacher":
        return {"k": k, "allowed_imports": ", ".join(allowed), "examples": TEACHER_EXAMPLES}
    return {}


def work_items(plan: BuildPlan, done_ids: set[str]) -> tuple[list[tuple[Task, int, str]], int]:
    """(task, sample index, trajectory id) still to build, and how many are already done."""
    items, skipped = [], 0
    for task in plan.tasks:
        for sample in range(plan.recipe.samples_per_task):
            tid = trajectory_id(task.task_id, plan.provenance.fingerprint, sample)
            if tid in done_ids:
                skipped += 1
            else:
                items.append((task, sample, tid))
    return items, skipped


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def open_output(plan: BuildPlan, *, retry_failed: bool) -> Dataset:
    info = {
        "build": {
            "provenance": plan.provenance.model_dump(mode="json"),
            "git_commit": git_commit(),
            "tasks": len(plan.tasks),
            "samples_per_task": plan.recipe.samples_per_task,
        }
    }
    if (plan.output / "trajkit.json").exists():
        dataset = Dataset.open(plan.output)
        _check_same_provenance(dataset, plan.provenance)
        if retry_failed:
            from trajkit.query import drop_where

            drop_where(dataset, "status = 'teacher_error'", operation="retry_failed")
        return dataset
    # Named after its directory, so runs of one recipe written to different outputs stay
    # distinguishable when queried together; the recipe's own name is kept in `info`.
    info["build"]["recipe_name"] = plan.recipe.name
    return Dataset.create(plan.output, recipe=redact_secrets(plan.raw_recipe), info=info)


def agent_settings(plan: BuildPlan):
    from trajkit.agent.loop import AgentSettings

    return AgentSettings(
        system_prompt=plan.system_prompt,
        max_steps=plan.recipe.agent.max_steps,
        sampling=plan.recipe.sampling,
        candidates=plan.recipe.agent.candidates,
        candidate_sampling=plan.recipe.sampling.model_copy(
            update={"temperature": plan.recipe.agent.candidate_temperature, "top_p": plan.recipe.agent.candidate_top_p}
        ),
        first_thought_prefix=plan.recipe.agent.first_thought_prefix,
        cot_prompt=plan.cot_prompt,
        force_format=plan.recipe.agent.force_format,
        force_final_answer=plan.recipe.agent.force_final_answer,
        capture_tokens=plan.recipe.capture_tokens,
    )


def _check_same_provenance(dataset: Dataset, provenance: Provenance) -> None:
    known = set(dataset.manifest.provenance_fingerprints)
    if known and provenance.fingerprint not in known:
        raise ConfigError(
            "the output dataset was built with a different teacher, prompt, sampling, agent or "
            f"tool settings (fingerprint {sorted(known)[0]}, this recipe {provenance.fingerprint})",
            where=str(dataset.path),
            fix="write to a new output directory (--output), or restore the recipe that built it",
        )


async def run_build(
    plan: BuildPlan, backend, toolbox, *, retry_failed: bool = False, progress=None, runner=None
) -> tuple[Dataset, BuildStats]:
    """Run every remaining rollout of `plan`, committing shards as they finish.

    `runner(task)` produces one `AgentResult`; the default runs the CodeAct agent loop, or one
    CoT generation when the plan's mode is cot (then `toolbox` may be None).
    """
    from trajkit.rollout import make_runner
    from trajkit.rollout import rollout as run_one

    dataset = open_output(plan, retry_failed=retry_failed)
    items, skipped = work_items(plan, dataset.trajectory_ids())
    stats = BuildStats(total=len(items) + skipped, skipped=skipped)
    runner = runner or make_runner(plan, backend, toolbox)
    pending: list[Trajectory] = []
    flush_lock = asyncio.Lock()
    limiter = asyncio.Semaphore(plan.recipe.concurrency)

    async def flush() -> None:
        async with flush_lock:
            if pending:
                batch = pending[:]
                pending.clear()
                await asyncio.to_thread(dataset.append_new, batch)

    async def rollout(task: Task, sample: int) -> None:
        async with limiter:
            trajectory = await run_one(plan, runner, task, sample)
            _account(stats, trajectory)
            pending.append(trajectory)
            if progress is not None:
                progress(stats)
            if len(pending) >= plan.recipe.flush_every:
                await flush()

    try:
        await asyncio.gather(*(rollout(task, sample) for task, sample, _ in items))
    finally:
        await flush()
    return Dataset.open(plan.output), stats


def _account(stats: BuildStats, trajectory: Trajectory) -> None:
    stats.done += 1
    stats.answered += trajectory.outcome.status == "answered"
    stats.correct += bool(trajectory.outcome.correct)
    stats.failed += trajectory.outcome.status == "teacher_error"
    stats.step_errors += sum(step.error is not None for step in trajectory.steps)
    stats.completion_tokens += trajectory.usage.completion_tokens


def build(
    recipe_path: str | Path,
    *,
    output: str | None = None,
    limit: int | None = None,
    shard: str | None = None,
    retry_failed: bool = False,
    show_progress: bool = True,
    executor: str | None = None,
    address: str | None = None,
    actors: int | None = None,
) -> tuple[Dataset, BuildStats]:
    """Load a recipe and run the build to completion (the `trajkit build` command).

    `executor`, `address` and `actors` override the recipe's `executor:` block (`ray`: the
    rollouts run on Ray actors, `trajkit.executors`)."""
    from trajkit.executors import resolve_executor
    from trajkit.recipe import load_build_recipe
    from trajkit.tools.toolbox import open_toolbox

    recipe, raw = load_build_recipe(recipe_path, {"output": output})
    recipe.executor = resolve_executor(recipe.executor, kind=executor, address=address, actors=actors)
    if limit is not None:
        tasks = dict(recipe.tasks) if isinstance(recipe.tasks, dict) else {"source": recipe.tasks}
        tasks["limit"] = limit
        recipe = recipe.model_copy(update={"tasks": tasks})
        raw = {**raw, "tasks": tasks}
    if recipe.mode == "cot":  # one generation per task: no sandbox, no retriever
        plan = plan_build(recipe, raw, shard=parse_shard(shard), tool_infos=[])
        return _run_plan(plan, None, retry_failed, show_progress)
    toolbox = open_toolbox(recipe.tools)
    try:
        plan = plan_build(recipe, raw, shard=parse_shard(shard), tool_infos=toolbox.infos)
        return _run_plan(plan, toolbox, retry_failed, show_progress)
    finally:
        toolbox.close()


def _run_plan(plan: BuildPlan, toolbox, retry_failed: bool, show_progress: bool):
    """On this machine, or on Ray actors (each opens its own backend and tools)."""
    if plan.recipe.executor.kind == "ray":
        from trajkit.executors.ray_driver import run_on_ray

        return run_on_ray(plan, plan.recipe.executor, retry_failed=retry_failed, show_progress=show_progress)
    return asyncio.run(_build_with_backend(plan, toolbox, retry_failed, show_progress))


async def _build_with_backend(plan: BuildPlan, toolbox, retry_failed: bool, show_progress: bool):
    from trajkit.teachers import make_backend

    backend = make_backend(plan.recipe.teacher, where="teacher")
    try:
        return await run_with_progress(plan, backend, toolbox, label="build", show_progress=show_progress, retry_failed=retry_failed)
    finally:
        await backend.aclose()


async def run_with_progress(plan: BuildPlan, backend, toolbox, *, label: str, show_progress: bool, **options):
    """`run_build`, with a live progress bar when asked."""
    if not show_progress:
        return await run_build(plan, backend, toolbox, **options)
    from trajkit.progress import BuildProgress

    with BuildProgress(description=f"{label} {plan.output.name}") as bar:
        return await run_build(plan, backend, toolbox, progress=bar.update, **options)
