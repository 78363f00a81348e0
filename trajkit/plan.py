"""A build plan: a recipe resolved into tasks, prompts and provenance, and the dataset it fills.

`plan_build` loads a build recipe's tasks (keeping one shard of them with `--shard i/N`) and
`make_plan` resolves the rest: the rendered system prompt, the first-thought prompt and the
provenance, whose fingerprint names every trajectory (`trajectory_id(task, fingerprint,
sample)`). `work_items` lists the rollouts not yet in the output dataset; `open_output` creates
that dataset, or reopens it to resume when it was built with the same provenance.

Both executors run plans: `trajkit.rollout` on this machine, `trajkit.executors` on Ray.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from trajkit import __version__
from trajkit.agent.config import AgentSettings
from trajkit.errors import ConfigError
from trajkit.recipe import BuildRecipe
from trajkit.schema import Provenance, Task, ToolInfo, stable_hash, trajectory_id
from trajkit.store import Dataset, redact_secrets


@dataclass
class BuildPlan:
    """Everything a build needs, resolved from a recipe."""

    recipe: BuildRecipe
    raw_recipe: dict[str, Any]
    tasks: list[Task]
    provenance: Provenance
    system_prompt: str
    cot_prompt: str | None
    output: Path

    def agent_settings(self) -> AgentSettings:
        """What the agent loop reads: the recipe's agent block as is, with the plan's prompts."""
        return AgentSettings(
            agent=self.recipe.agent,
            system_prompt=self.system_prompt,
            sampling=self.recipe.sampling,
            cot_prompt=self.cot_prompt,
            capture_tokens=self.recipe.capture_tokens,
        )


class WorkItem(NamedTuple):
    """One rollout to run: a task, its sample index and the id its trajectory will have."""

    task: Task
    sample: int
    trajectory_id: str


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


def plan_build(
    recipe: BuildRecipe, raw_recipe: dict[str, Any], *, shard: tuple[int, int] | None = None, tool_infos: list[ToolInfo]
) -> BuildPlan:
    """The plan of a build recipe: its tasks (those of `shard`), prompts and provenance."""
    from trajkit.tasks import load_tasks

    tasks = [t for t in load_tasks(recipe.tasks).tasks if in_shard(t.task_id, shard)]
    return make_plan(recipe, raw_recipe, tasks, tool_infos=tool_infos)


def make_plan(recipe: BuildRecipe, raw_recipe: dict[str, Any], tasks: list[Task], *, tool_infos: list[ToolInfo]) -> BuildPlan:
    """The plan of `recipe` over `tasks` (already loaded): prompts and provenance resolved."""
    from trajkit.agent.prompts import load_prompt

    cot_mode = recipe.mode == "cot"
    prompt = load_prompt(recipe.prompt, **_prompt_variables(recipe))
    cot = load_prompt("cot") if recipe.agent.first_thought_prefix and not cot_mode else None
    teacher = recipe.teacher
    provenance = Provenance(
        kind=recipe.kind,
        backend=teacher.backend,
        model=_model_name(teacher.model, teacher.backend),
        **_model_file(teacher.model, teacher.backend),
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
# read from the raw recipe's block as written, so that resuming never depends on defaults
TEACHER_IDENTITY_KEYS = ("backend", "model", "prefix_mode", "chat_template", "dtype", "responses")


def _model_name(model: str | None, backend: str) -> str:
    from trajkit.models.embedded_llm import EMBEDDED_MODEL_NAME

    if model:
        return str(model)
    if backend == "llamacpp":
        from trajkit.teachers.llamacpp import DEFAULT_MODEL

        return DEFAULT_MODEL
    return EMBEDDED_MODEL_NAME if backend == "local" else backend


def _model_file(model: str | None, backend: str) -> dict[str, str]:
    """The hash and licence of the GGUF a llamacpp teacher loads (from the model registry)."""
    if backend != "llamacpp":
        return {}
    from trajkit.models.specs import describe

    info = describe(_model_name(model, backend))
    return {"model_sha256": info["sha256"], "model_licence": info["licence"]}


def _identity_of(raw_recipe: dict[str, Any]) -> dict[str, Any]:
    """The recipe fields that change what a trajectory is — not which tasks, where it goes,
    how fast, or how it is graded — so that resuming with another limit or concurrency keeps
    the same trajectory ids."""
    teacher = raw_recipe.get("teacher") or raw_recipe.get("model") or {}
    identity = {k: raw_recipe[k] for k in IDENTITY_KEYS if k in raw_recipe}
    identity["teacher"] = {k: teacher[k] for k in TEACHER_IDENTITY_KEYS if k in teacher}
    return identity


def _prompt_variables(recipe: BuildRecipe) -> dict[str, Any]:
    from trajkit.agent.examples import TEACHER_EXAMPLES
    from trajkit.tools.policy import DEFAULT_ALLOWED_IMPORTS

    allowed = recipe.tools.sandbox.allowed_imports or list(DEFAULT_ALLOWED_IMPORTS)
    k = recipe.tools.retriever.k if recipe.tools.retriever else 3
    if recipe.prompt == "teacher":
        return {"k": k, "allowed_imports": ", ".join(allowed), "examples": TEACHER_EXAMPLES}
    return {}


def work_items(tasks: Sequence[Task], fingerprint: str, samples_per_task: int, done_ids: set[str]) -> tuple[list[WorkItem], int]:
    """The rollouts of `tasks` still to run, in task order, and how many are already done."""
    items, skipped = [], 0
    for task in tasks:
        for sample in range(samples_per_task):
            tid = trajectory_id(task.task_id, fingerprint, sample)
            if tid in done_ids:
                skipped += 1
            else:
                items.append(WorkItem(task, sample, tid))
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
    """The plan's output dataset: created, or reopened to resume (the same provenance only);
    with `retry_failed`, its teacher_error trajectories are dropped to be built again."""
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


def _check_same_provenance(dataset: Dataset, provenance: Provenance) -> None:
    known = set(dataset.manifest.provenance_fingerprints)
    if known and provenance.fingerprint not in known:
        raise ConfigError(
            "the output dataset was built with a different teacher, prompt, sampling, agent or "
            f"tool settings (fingerprint {sorted(known)[0]}, this recipe {provenance.fingerprint})",
            where=str(dataset.path),
            fix="write to a new output directory (--output), or restore the recipe that built it",
        )
