"""`trajkit build`: run a model as an agent over a task set and write a trajectory dataset.

`build` loads the recipe (`trajkit.recipe`), opens the tools (`trajkit.tools.toolbox`), resolves
the plan (`trajkit.plan`: tasks, prompts, provenance) and runs it with `run_plan`: on this
machine with the rollout engine (`trajkit.rollout`: `concurrency` rollouts in flight, shards
committed every `flush_every` trajectories), or on Ray actors (`trajkit.executors`).
Trajectory ids are deterministic (task, provenance fingerprint, sample index), so re-running
the same recipe skips what is committed: a killed build loses at most the rollouts in flight.
Rollouts whose backend failed after its retries are stored with `status=teacher_error` and are
redone by `--retry-failed`.

`--shard i/N` keeps the tasks whose id hashes to i modulo N, so N machines can build parts of
one dataset and `trajkit merge` them without duplicates.

With `mode: cot` each rollout is one generation without tools (`trajkit.agent.cot.run_cot`,
the paper's CoT-distillation data): no sandbox or retriever is opened, and the provenance
records the `cot` prompt, one step, one candidate and no tools.

The evaluation harness (`trajkit.evaluate`) runs plans the same way, with the student prompt.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from trajkit.plan import BuildPlan, parse_shard, plan_build
from trajkit.store import Dataset

if TYPE_CHECKING:
    from trajkit.rollout import BuildStats
    from trajkit.tools.toolbox import Toolbox


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
        return run_plan(plan, None, label="build", retry_failed=retry_failed, show_progress=show_progress)
    toolbox = open_toolbox(recipe.tools)
    try:
        plan = plan_build(recipe, raw, shard=parse_shard(shard), tool_infos=toolbox.infos)
        return run_plan(plan, toolbox, label="build", retry_failed=retry_failed, show_progress=show_progress)
    finally:
        toolbox.close()


def run_plan(
    plan: BuildPlan, toolbox: Toolbox | None, *, label: str, retry_failed: bool = False, show_progress: bool = True
) -> tuple[Dataset, BuildStats]:
    """Run every remaining rollout of `plan`: on this machine (`trajkit.rollout.run_local`, with
    `toolbox`), or on Ray actors when the recipe's executor is ray (each opens its own backend
    and tools)."""
    if plan.recipe.executor.kind == "ray":
        from trajkit.executors.ray_driver import run_on_ray

        return run_on_ray(plan, plan.recipe.executor, retry_failed=retry_failed, show_progress=show_progress, label=label)
    from trajkit.rollout import run_local

    return asyncio.run(run_local(plan, toolbox, label=label, show_progress=show_progress, retry_failed=retry_failed))
