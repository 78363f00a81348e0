"""Task sources: one entry point, `load_tasks(spec)`, for every place tasks come from.

A spec is a string or the same dict a recipe holds:

    {source: SOURCE, columns: {question: ..., gold_answer: ..., id: ...}, split: ..., limit: N,
     filters: {domain: math, level: [4, 5]}, domain: ..., name: ..., shuffle_seed: ...}

SOURCE is one of
- `seed:NAMES`: the paper's task files (`trajkit.tasks.seed`); NAMES is a comma list of file
  names or globs: `hotpotqa`, `math_500`, `qa/*`, `*`;
- `hf:NAME[:CONFIG]:SPLIT`: a Hugging Face dataset, by Hub name or local folder (`trajkit.tasks.hf`);
- `synthetic:DIR`: the output of `trajkit tasks synth`;
- a path: a JSONL, JSON, CSV or Parquet file, or a folder of them (`trajkit.tasks.files`).

Records become `Task`s through one converter (`trajkit.tasks.records.Converter`) that maps
columns, keeps the other columns as metadata and repairs or skips defective records. Nothing
defective is fatal: each skip and repair is counted in the `LoadReport`
(`trajkit.tasks.report`), with a warning per kind of defect. The spec's fields are
`trajkit.tasks.spec.TaskSpec`'s. `split` selects a split where the source has several and
labels the tasks otherwise.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trajkit.schema import Task
from trajkit.tasks.report import LoadReport, TaskSet
from trajkit.tasks.spec import TaskSpec


def load_tasks(spec: str | Mapping[str, Any] | TaskSpec, **overrides: Any) -> TaskSet:
    """Load, repair, deduplicate, filter and limit tasks from any source."""
    spec = TaskSpec.parse(spec, **overrides)
    report = LoadReport(source=spec.source)
    tasks = _load_raw(spec, report)
    report.counts.setdefault("read", 0)
    tasks = _deduplicate(tasks, report)
    if spec.filters:
        before = len(tasks)
        tasks = [t for t in tasks if _matches(t, spec.filters)]
        report.counts["filtered out"] = before - len(tasks)
    if spec.shuffle_seed is not None:
        random.Random(spec.shuffle_seed).shuffle(tasks)
    if spec.limit is not None:
        tasks = tasks[: spec.limit]
    report.counts["loaded"] = len(tasks)
    report.summarize_defects()
    return TaskSet(tasks, report)


def _load_raw(spec: TaskSpec, report: LoadReport) -> list[Task]:
    source = spec.source
    if source.startswith("seed:"):
        from trajkit.tasks.seed import load_seed

        return load_seed(source.removeprefix("seed:"), spec, report)
    if source.startswith("hf:"):
        from trajkit.tasks.hf import load_hf

        return load_hf(source.removeprefix("hf:"), spec, report)
    if source.startswith("synthetic:"):
        from trajkit.tasks.files import load_task_dir

        return load_task_dir(Path(source.removeprefix("synthetic:")), spec, report, own_only=True)
    from trajkit.tasks.files import load_path

    return load_path(Path(source), spec, report)


def _deduplicate(tasks: list[Task], report: LoadReport) -> list[Task]:
    seen_ids: set[str] = set()
    seen_questions: dict[tuple[str, str, str], Task] = {}
    kept = []
    for task in tasks:
        where = f"{task.source}/{task.split}"
        if task.task_id in seen_ids:
            report.skip(where, task.task_id, "duplicate id")
            continue
        key = (task.source, task.split, " ".join(task.question.lower().split()))
        first = seen_questions.get(key)
        if first is not None:
            same = first.gold_answer == task.gold_answer
            reason = "duplicate question" + ("" if same else " with a different answer")
            report.skip(where, f"{task.task_id} (same as {first.task_id})", reason)
            continue
        seen_ids.add(task.task_id)
        seen_questions[key] = task
        kept.append(task)
    return kept


def _matches(task: Task, filters: Mapping[str, Any]) -> bool:
    metadata = None
    for key, wanted in filters.items():
        if key in ("source", "split", "domain", "task_id", "gold_answer"):
            value = getattr(task, key)
        else:
            if metadata is None:
                metadata = json.loads(task.metadata)
            value = metadata.get(key) if isinstance(metadata, dict) else None
        options = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        if str(value) not in {str(o) for o in options}:
            return False
    return True
