"""The Hub dataset card: context gathered from the dataset, rendered with the Jinja templates.

The templates live in `trajkit/cards/` (shipped as package data; the top-level `cards/` folder
points there). `card_context` collects everything the card shows — YAML metadata, how the
data was made (provenance, recipe, lineage, reviews), the schema, statistics, charts, one
example trajectory and usage snippets — and `render_card` turns it into README.md text.
A custom template (same context) can be given with `template=PATH`.

Nothing in the context comes from the environment: no token, no local paths of parent
datasets (only their names and fingerprints), and recipe/lineage parameters pass through
`trajkit.store.redact_secrets`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from trajkit.errors import InputError
from trajkit.hub.layout import CONFIGS, DEFAULT_CONFIG, Layout, data_files_pattern
from trajkit.hub.trl_snippet import trl_snippet
from trajkit.store import Dataset, redact_secrets

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "cards"
TEMPLATE = "dataset_card.md.j2"
TASK_CATEGORIES = ["text-generation", "question-answering"]
BASE_TAGS = ["trajkit", "agent", "agent-distillation", "trajectories", "tool-use", "code"]
TEXT_LIMIT = 1200  # characters of thought/code shown in the example
OBSERVATION_LIMIT = 600

COLUMN_NOTES = {
    "schema_version": "trajkit schema version of the row",
    "trajectory_id": "deterministic id: hash of task_id, provenance fingerprint and sample index",
    "sample_index": "which sample of the same task under the same provenance",
    "task": "the task: id, source, split, domain, question, gold answer",
    "provenance": "who made the trajectory and how: backend, model, sampling, prompt, tools",
    "steps": "the agent's steps: thought, code, observation, tool calls, errors, candidates",
    "outcome": "status, final answer, correctness and grader",
    "usage": "tokens, steps, model calls and wall time",
    "review": "human review (filled by trajkit review pull)",
    "created_at": "when the trajectory was recorded (UTC)",
}

SFT_COLUMNS = [
    ("trajectory_id", "string", "the trajectory the example comes from"),
    ("task_id", "string", "the task"),
    ("source", "string", "task source dataset"),
    ("domain", "string", "task domain"),
    ("system_prompt_id", "string", "the id/version of the student prompt whose text is `messages[0]` (the system turn)"),
    ("messages", "list<struct>", "the student conversation: `role`, `content`, and `train` (does the turn carry loss)"),
    ("final_answer", "string", "the trajectory's final answer"),
    ("correct", "bool", "whether the grader judged it correct (null: ungraded)"),
]
TOOL_CALL_COLUMNS = [
    ("trajectory_id", "string", "the trajectory the example comes from"),
    ("task_id", "string", "the task"),
    ("source", "string", "task source dataset"),
    ("domain", "string", "task domain"),
    ("messages", "list<struct>", "OpenAI-style chat: user, assistant turns with `tool_calls`, `tool` observations"),
    ("tools", "string", "JSON list of the tool schemas (`python_interpreter`)"),
    ("final_answer", "string", "the trajectory's final answer"),
    ("correct", "bool", "whether the grader judged it correct (null: ungraded)"),
]


def size_category(rows: int) -> str:
    bounds = [
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
        (100_000_000, "10M<n<100M"),
        (1_000_000_000, "100M<n<1B"),
    ]
    for bound, label in bounds:
        if rows < bound:
            return label
    return "n>1T" if rows >= 1_000_000_000_000 else "1B<n<10B"


def card_metadata(dataset: Dataset, layout: Layout, *, license: str, pretty_name: str, tags: list[str]) -> dict:
    """The card's YAML header, including the `configs` that `datasets` and the viewer read."""
    configs = []
    for config in layout.configs:
        entry: dict[str, Any] = {
            "config_name": config,
            "data_files": [
                {"split": split, "path": data_files_pattern(config, split)} for split in layout.splits
            ],
        }
        if config == DEFAULT_CONFIG or len(layout.configs) == 1:
            entry["default"] = True
        configs.append(entry)
    return {
        "license": license,
        "pretty_name": pretty_name,
        "task_categories": list(TASK_CATEGORIES),
        "tags": list(dict.fromkeys([*BASE_TAGS, *tags])),
        "size_categories": [size_category(len(dataset))],
        "configs": configs,
    }


def card_context(
    dataset: Dataset,
    layout: Layout,
    *,
    repo_id: str | None,
    license: str = "other",
    pretty_name: str | None = None,
    charts: list | None = None,
) -> dict[str, Any]:
    from trajkit import __version__
    from trajkit.stats import dataset_stats

    stats = {name: [_without(row, "dataset") for row in rows] for name, rows in dataset_stats([dataset]).items()}
    provenance = provenance_groups(dataset)
    tags = _provenance_tags(provenance)
    pretty = pretty_name or dataset.name
    metadata = card_metadata(dataset, layout, license=license, pretty_name=pretty, tags=tags)
    recipe = dataset.recipe()
    manifest = dataset.manifest
    repo_id_shown = repo_id or f"YOUR_NAMESPACE/{_slug(dataset.name)}"
    first_split = next(iter(layout.splits), "train")
    return {
        "metadata_yaml": yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).strip(),
        "metadata": metadata,
        "name": pretty,
        "repo_id": repo_id_shown,
        "repo_id_known": repo_id is not None,
        "dataset_name": dataset.name,
        "fingerprint": manifest.fingerprint,
        "schema_version": manifest.schema_version,
        "trajkit_version": __version__,
        "built_with": manifest.trajkit_version,
        "updated_at": manifest.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
        "rows": len(dataset),
        "steps": manifest.steps,
        "splits": layout.splits,
        "split_names": {k: v for k, v in layout.split_names.items() if k != v},
        "configs": layout.configs,
        "has_sft": "sft" in layout.configs,
        "has_tool_calls": "sft_tool_calls" in layout.configs,
        "has_trajectories": "trajectories" in layout.configs,
        "all_configs": CONFIGS,
        "overview": stats["overview"][0] if stats["overview"] else {},
        "stats": stats,
        "provenance": provenance,
        "recipe_yaml": yaml.safe_dump(redact_secrets(recipe), sort_keys=False).strip() if recipe else None,
        "recipe_hash": manifest.recipe_hash,
        "lineage": lineage_entries(dataset),
        "reviews": review_counts(dataset),
        "charts": charts or [],
        "columns": top_level_columns(),
        "fields": field_rows(),
        "sft_columns": SFT_COLUMNS,
        "tool_call_columns": TOOL_CALL_COLUMNS,
        "example": example_trajectory(dataset),
        "first_split": first_split,
        "trl_snippet": trl_snippet(repo_id_shown, first_split),
        "token_drift": token_drift(dataset),
    }


def token_drift(dataset: Dataset) -> dict[str, Any] | None:
    """The token drift summary (`trajkit.drift`) when the dataset has captured tokens."""
    from trajkit.drift import dataset_drift

    report = dataset_drift(dataset)
    return report.row() if report is not None else None


def render_card(context: dict[str, Any], template: str | Path | None = None) -> str:
    import jinja2

    if template is not None:
        path = Path(template)
        if not path.is_file():
            raise InputError("no such card template", where=str(path), fix="pass a Jinja template file")
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(path.parent)), jinja2.FileSystemLoader(str(TEMPLATE_DIR))])
        name = path.name
    else:
        loader = jinja2.FileSystemLoader(str(TEMPLATE_DIR))
        name = TEMPLATE
    env = jinja2.Environment(
        loader=loader,
        autoescape=False,  # Markdown, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = md_cell
    env.filters["fence"] = fence
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    try:
        text = env.get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        raise InputError(f"card template failed: {exc}", where=str(template or TEMPLATE_DIR / TEMPLATE)) from None
    return re.sub(r"\n{3,}", "\n\n", text)


# ----------------------------------------------------------------------- sections


def provenance_groups(dataset: Dataset) -> list[dict[str, Any]]:
    """One entry per distinct provenance (by fingerprint), with its trajectory count."""
    groups: dict[str, dict[str, Any]] = {}
    for dataset_shard in dataset.shard_paths():
        import pyarrow.parquet as pq

        for provenance in pq.read_table(dataset_shard, columns=["provenance"]).column(0).to_pylist():
            key = provenance["fingerprint"]
            if key not in groups:
                groups[key] = {**provenance, "trajectories": 0}
            groups[key]["trajectories"] += 1
    return sorted(groups.values(), key=lambda g: -g["trajectories"])


def lineage_entries(dataset: Dataset) -> list[dict[str, Any]]:
    entries = []
    for entry in dataset.manifest.lineage:
        params = redact_secrets(entry.params)
        entries.append(
            {
                "operation": entry.operation,
                "at": entry.at.strftime("%Y-%m-%d %H:%M UTC"),
                "sql": entry.sql,
                "params": json.dumps(params, sort_keys=True, default=str) if params else "",
                "parents": [{"name": p.name, "fingerprint": p.fingerprint, "rows": p.rows} for p in entry.parents],
                "trajkit_version": entry.trajkit_version,
            }
        )
    return entries


def review_counts(dataset: Dataset) -> list[dict[str, Any]]:
    from trajkit.query import sql

    table = sql(
        [dataset],
        "SELECT review_status AS status, coalesce(review_label, '') AS label, count(*) AS trajectories "
        "FROM trajectories WHERE review_status IS NOT NULL GROUP BY ALL ORDER BY trajectories DESC, status, label",
    )
    return table.to_pylist()


def steps_by_outcome(dataset: Dataset) -> list[dict[str, Any]]:
    from trajkit.query import sql

    return sql(
        [dataset],
        "SELECT n_steps, CASE WHEN correct THEN 'correct' WHEN NOT correct THEN 'incorrect' ELSE 'ungraded' END "
        "AS outcome, count(*) AS trajectories FROM trajectories GROUP BY ALL ORDER BY n_steps, outcome",
    ).to_pylist()


def example_trajectory(dataset: Dataset) -> dict[str, Any] | None:
    """The first correct trajectory with tool use (or the first one), trimmed for the card."""
    chosen = None
    for trajectory in dataset.trajectories():
        if chosen is None:
            chosen = trajectory
        if trajectory.outcome.correct and any(step.code for step in trajectory.steps):
            chosen = trajectory
            break
    if chosen is None:
        return None
    steps = []
    for step in chosen.steps:
        steps.append(
            {
                "index": step.index,
                "thought": _clip(step.thought or "", TEXT_LIMIT),
                "code": _clip(step.code or "", TEXT_LIMIT),
                "observation": _clip(step.observation or "", OBSERVATION_LIMIT),
                "error": f"{step.error.type}: {_clip(step.error.message, 300)}" if step.error else None,
                "tools": [call.name for call in step.tool_calls],
            }
        )
    return {
        "trajectory_id": chosen.trajectory_id,
        "task_id": chosen.task.task_id,
        "question": _clip(chosen.task.question, TEXT_LIMIT),
        "gold_answer": chosen.task.gold_answer,
        "final_answer": chosen.outcome.final_answer,
        "status": chosen.outcome.status,
        "correct": chosen.outcome.correct,
        "steps": steps,
    }


def top_level_columns() -> list[tuple[str, str, str]]:
    from trajkit.schema import arrow_schema

    return [(f.name, _type_name(f.type), COLUMN_NOTES.get(f.name, "")) for f in arrow_schema()]


def field_rows() -> list[tuple[str, str, str]]:
    """Every field of the nested schema: dotted path (`[]` marks a list), Arrow type, description."""
    from trajkit.schema import Trajectory, arrow_schema

    descriptions = _descriptions(Trajectory)
    rows: list[tuple[str, str, str]] = []

    def walk(arrow_type, path: str) -> None:
        import pyarrow as pa

        if pa.types.is_struct(arrow_type):
            for child in arrow_type:
                child_path = f"{path}.{child.name}" if path else child.name
                rows.append((child_path, _type_name(child.type), descriptions.get(_model_path(child_path), "")))
                walk(child.type, child_path)
        elif pa.types.is_list(arrow_type) and pa.types.is_struct(arrow_type.value_type):
            walk(arrow_type.value_type, f"{path}[]")

    for field in arrow_schema():
        rows.append((field.name, _type_name(field.type), descriptions.get(field.name) or COLUMN_NOTES.get(field.name, "")))
        walk(field.type, field.name)
    return rows


def _descriptions(model, prefix: str = "") -> dict[str, str]:
    import typing

    from pydantic import BaseModel

    found: dict[str, str] = {}
    hints = typing.get_type_hints(model, include_extras=True)
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        if info.description:
            found[path] = info.description
        for inner in _models_in(hints[name]):
            if issubclass(inner, BaseModel):
                found.update(_descriptions(inner, path))
    return found


def _models_in(annotation) -> list[type]:
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _model_path(path: str) -> str:
    return path.replace("[]", "")


def _type_name(arrow_type) -> str:
    import pyarrow as pa

    if pa.types.is_struct(arrow_type):
        return "struct"
    if pa.types.is_list(arrow_type):
        return f"list<{_type_name(arrow_type.value_type)}>"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return {"int64": "int64", "double": "float64", "bool": "bool", "string": "string"}.get(str(arrow_type), str(arrow_type))


def _provenance_tags(groups: list[dict[str, Any]]) -> list[str]:
    tags = []
    kinds = {g["kind"] for g in groups}
    if "teacher" in kinds:
        tags.append("synthetic")
    if any(g.get("sag_n", 1) > 1 for g in groups):
        tags.append("self-consistency")
    return tags


# ------------------------------------------------------------------------ helpers


def md_cell(value: Any) -> str:
    """A value as the text of one Markdown table cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"\s*\n\s*", " ", text)


def fence(text: str, lang: str = "") -> str:
    """`text` in a fenced code block whose fence is longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marker = "`" * max(3, longest + 1)
    return f"{marker}{lang}\n{text.rstrip()}\n{marker}"


def _pct(value: Any) -> str:
    return "" if value is None else f"{float(value):.1%}"


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f" … ({len(text) - limit} more characters)"


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-.") or "dataset"


def _without(row: dict, key: str) -> dict:
    return {k: v for k, v in row.items() if k != key}
