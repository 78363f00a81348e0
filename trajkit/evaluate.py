"""`trajkit eval`: run a (student) model as an agent over benchmarks and report metrics.

A run is a trajkit dataset in the same schema as a teacher build (`provenance.kind =
student`), so teacher and student runs are compared with the same SQL. The agent uses the
short student prompt — the one `trajkit.sft` trains with — and optionally self-consistent
action generation (`agent.candidates: 8`, temperature 0.4, top_p 0.8 as in the paper). The
`cot` mode answers in one generation without tools, as the paper's CoT baseline.

Metrics (per benchmark and overall) are SQL over the run; `trajkit eval report RUN...`
compares runs in the terminal, in Markdown and in an HTML page with charts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from trajkit.agent.config import AgentConfig
from trajkit.errors import ConfigError
from trajkit.executors.config import ExecutorConfig
from trajkit.recipe import GradingConfig, ToolsConfig, read_yaml, validate
from trajkit.schema import Model, Sampling, Task
from trajkit.teachers.config import LocalTeacher, TeacherConfig, parse_teacher

if TYPE_CHECKING:
    from trajkit.plan import BuildPlan
    from trajkit.recipe import BuildRecipe
    from trajkit.rollout import BuildStats
    from trajkit.schema import ToolInfo
    from trajkit.store import Dataset


class Benchmark(Model):
    name: str | None = None
    tasks: dict[str, Any] | str


class EvalRecipe(Model):
    name: str | None = None
    model: TeacherConfig = Field(default_factory=LocalTeacher)
    benchmarks: list[Benchmark] = Field(min_length=1)
    mode: str = Field("agent", pattern="^(agent|cot)$")
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.0, max_tokens=384))
    prompt: str = "student"
    agent: AgentConfig = Field(default_factory=AgentConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    grading: GradingConfig = Field(default_factory=GradingConfig)
    samples_per_task: int = Field(1, ge=1)
    concurrency: int = Field(8, ge=1)
    flush_every: int = Field(16, ge=1)
    output: str
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, block: Any) -> TeacherConfig:
        return parse_teacher(block, where="model")


def model_config(model: str | None, base: dict[str, Any]) -> dict[str, Any]:
    """The backend block for `--model` (any spec of `trajkit.models.specs.spec_kind`, or a server):

    'embedded', 'smollm2-135m' or a local model folder -> the local backend (transformers);
    another registry name or a local .gguf -> llamacpp (faster on CPU); an http(s) URL
    (`URL#model`) -> openai; 'vllm:ID' -> vllm; anything else -> a Hugging Face id on the
    recipe's backend. Options of the recipe's block are kept when the backend stays the same.
    """
    if not model:
        return dict(base) or {"backend": "local"}
    if model.startswith(("http://", "https://")):
        url, _, name = model.partition("#")
        return {"backend": "openai", "base_url": url, "model": name or base.get("model", "default")}
    if model.startswith("vllm:"):
        return {"backend": "vllm", "model": model[len("vllm:"):]}
    from trajkit.models.registry import EMBEDDED_REGISTRY_NAME
    from trajkit.models.specs import spec_kind

    kind = spec_kind(model, where="--model")

    def on(backend: str, spec: str | None) -> dict[str, Any]:
        kept = {k: v for k, v in base.items() if k != "model"} if base.get("backend") == backend else {}
        return {**kept, "backend": backend, **({"model": spec} if spec is not None else {})}

    if kind == "embedded":
        return on("local", None)
    if kind == "folder":
        return on("local", str(Path(model).expanduser().resolve()))
    if kind == "registry":
        return on("local" if model == EMBEDDED_REGISTRY_NAME else "llamacpp", model)
    if kind == "gguf":
        return on("llamacpp", str(Path(model).expanduser().resolve()))
    return {**base, "model": model}


def load_eval_recipe(path: str | Path, *, model: str | None = None, output: str | None = None, candidates: int | None = None, limit: int | None = None) -> tuple[EvalRecipe, dict]:
    data = read_yaml(path)
    if output:
        data["output"] = output
    recipe = validate(EvalRecipe, data, str(path))
    block = model_config(model, dict(data.get("model") or {}))  # as written: the provenance reads it
    updates: dict[str, Any] = {"model": parse_teacher(block, where="--model" if model else f"{path}: model")}
    if candidates is not None:
        updates["agent"] = recipe.agent.model_copy(update={"candidates": candidates})
    if limit is not None:
        updates["benchmarks"] = [
            b.model_copy(update={"tasks": {**_spec(b.tasks), "limit": limit}}) for b in recipe.benchmarks
        ]
    recipe = recipe.model_copy(update=updates)
    raw = {**recipe.model_dump(mode="json"), "model": block}
    return recipe, raw


def _spec(tasks: dict | str) -> dict:
    return dict(tasks) if isinstance(tasks, dict) else {"source": tasks}


def as_build_recipe(recipe: EvalRecipe) -> BuildRecipe:
    """The build engine's view of an eval recipe (one plan over every benchmark; its `tasks`,
    the first benchmark's, are not loaded: `plan_eval` loads every benchmark)."""
    from trajkit.recipe import BuildRecipe

    return BuildRecipe(
        name=recipe.name,
        tasks=_spec(recipe.benchmarks[0].tasks),
        teacher=recipe.model,
        sampling=recipe.sampling,
        prompt=recipe.prompt if recipe.mode == "agent" else "cot",
        agent=recipe.agent if recipe.mode == "agent" else recipe.agent.model_copy(update={"candidates": 1, "max_steps": 1}),
        tools=recipe.tools,
        grading=recipe.grading,
        samples_per_task=recipe.samples_per_task,
        concurrency=recipe.concurrency,
        flush_every=recipe.flush_every,
        output=recipe.output,
        kind="student",
        mode=recipe.mode,
        executor=recipe.executor,
    )


def plan_eval(recipe: EvalRecipe, raw: dict[str, Any], tool_infos: list[ToolInfo]) -> BuildPlan:
    """One plan over every benchmark's tasks (each task's `source` is its benchmark's name)."""
    from trajkit.plan import make_plan

    return make_plan(as_build_recipe(recipe), {**raw, "mode": recipe.mode}, benchmark_tasks(recipe), tool_infos=tool_infos)


def benchmark_tasks(recipe: EvalRecipe) -> list[Task]:
    """The tasks of every benchmark in order, each task id once."""
    from trajkit.tasks import load_tasks

    tasks: list[Task] = []
    seen: set[str] = set()
    for benchmark in recipe.benchmarks:
        for task in load_tasks(benchmark.tasks).tasks:
            if benchmark.name:
                task = task.model_copy(update={"source": benchmark.name})
            if task.task_id not in seen:
                seen.add(task.task_id)
                tasks.append(task)
    return tasks


def evaluate(
    recipe_path: str | Path,
    *,
    model: str | None = None,
    output: str | None = None,
    candidates: int | None = None,
    limit: int | None = None,
    show_progress: bool = True,
    executor: str | None = None,
    address: str | None = None,
    actors: int | None = None,
) -> tuple[Dataset, BuildStats]:
    """Run an eval recipe to completion; returns (dataset, stats). `executor`, `address` and
    `actors` override the recipe's `executor:` block (as for `trajkit build`)."""
    from trajkit.build import run_plan
    from trajkit.executors import resolve_executor
    from trajkit.tools.toolbox import open_toolbox

    recipe, raw = load_eval_recipe(recipe_path, model=model, output=output, candidates=candidates, limit=limit)
    recipe.executor = resolve_executor(recipe.executor, kind=executor, address=address, actors=actors)
    tools = recipe.tools if recipe.mode == "agent" else ToolsConfig(retriever=None)
    toolbox = open_toolbox(tools, start_sandbox=recipe.mode == "agent")
    try:
        plan = plan_eval(recipe, raw, toolbox.infos)  # its mode picks the agent loop or one CoT generation
        return run_plan(plan, toolbox, label="eval", show_progress=show_progress)
    finally:
        toolbox.close()


# ----------------------------------------------------------------------------- metrics

METRICS_SQL = """
WITH t AS (
    SELECT dataset, source AS benchmark, trajectory_id, status, correct, n_steps,
           total_tokens, wall_time_s, provenance.sag_n AS sag_n, model
    FROM trajectories
),
s AS (
    SELECT dataset, source AS benchmark,
           avg(CASE WHEN error_type = 'parse_error' THEN 1.0 ELSE 0.0 END) AS parse_error_rate,
           avg(CASE WHEN error_type IN ('execution_error', 'timeout', 'memory_limit', 'forbidden_import',
                                        'forbidden_operation', 'output_limit') THEN 1.0 ELSE 0.0 END) AS exec_error_rate,
           count(*) AS steps
    FROM steps GROUP BY ALL
),
c AS (
    SELECT dataset, source AS benchmark, count(*) FILTER (WHERE name NOT IN ('python_interpreter')) AS tool_calls
    FROM tool_calls GROUP BY ALL
),
f AS (
    SELECT dataset, source AS benchmark,
           avg(CASE WHEN candidate_index = 0 AND selected THEN 1.0 WHEN candidate_index = 0 THEN 0.0 END) AS first_candidate_agrees,
           avg(CASE WHEN candidate_index = 0 AND NOT (parse_ok AND exec_ok) THEN 1.0 WHEN candidate_index = 0 THEN 0.0 END) AS first_candidate_error_rate
    FROM candidates GROUP BY ALL
)
SELECT t.dataset AS run, any_value(t.model) AS model, t.benchmark, any_value(t.sag_n) AS sag_n,
       count(*) AS trajectories,
       round(avg(CASE WHEN t.correct THEN 1.0 ELSE 0.0 END), 4) AS accuracy,
       round(avg(CASE WHEN t.status = 'answered' THEN 1.0 ELSE 0.0 END), 4) AS answered_rate,
       round(any_value(s.parse_error_rate), 4) AS parse_error_rate,
       round(any_value(s.exec_error_rate), 4) AS exec_error_rate,
       round(avg(t.n_steps), 2) AS mean_steps,
       round(coalesce(any_value(c.tool_calls), 0) / count(*), 2) AS searches_per_traj,
       round(avg(t.total_tokens), 1) AS mean_tokens,
       round(sum(t.wall_time_s), 1) AS wall_s,
       round(any_value(f.first_candidate_agrees), 4) AS first_candidate_agrees,
       round(any_value(f.first_candidate_error_rate), 4) AS first_candidate_error_rate
FROM t
LEFT JOIN s USING (dataset, benchmark)
LEFT JOIN c USING (dataset, benchmark)
LEFT JOIN f USING (dataset, benchmark)
GROUP BY t.dataset, t.benchmark
ORDER BY run, benchmark
"""

OVERALL_SQL = """
SELECT dataset AS run, any_value(model) AS model, 'overall' AS benchmark, count(*) AS trajectories,
       round(avg(CASE WHEN correct THEN 1.0 ELSE 0.0 END), 4) AS accuracy,
       round(avg(CASE WHEN status = 'answered' THEN 1.0 ELSE 0.0 END), 4) AS answered_rate,
       round(avg(n_steps), 2) AS mean_steps, round(avg(total_tokens), 1) AS mean_tokens
FROM trajectories GROUP BY dataset ORDER BY run
"""


def metrics(runs: list[str | Path]) -> dict[str, list[dict]]:
    from trajkit.query import connect, run

    con = connect(runs)
    try:
        return {"per_benchmark": run(con, METRICS_SQL).to_pylist(), "overall": run(con, OVERALL_SQL).to_pylist()}
    finally:
        con.close()


def check_runs(runs: list[str | Path]) -> None:
    if not runs:
        raise ConfigError("no runs given", fix="trajkit eval report RUN [RUN...]")
