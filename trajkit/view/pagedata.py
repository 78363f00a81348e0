"""The viewer's data: what the page needs from one or more datasets, joined on task.

Three parts, written by `trajkit.view.site` as JavaScript files the page loads with `<script>`
(so it works from disk, where browsers refuse `fetch`):

- the **index** (`data/index.js`, loaded at start): one compact column per filterable field
  of every trajectory (dataset, task, source, domain, outcome, steps, tokens, error types as
  a bit mask, the final answer and the lower-cased code for the free-text search), the tasks
  (question, gold answer) and the datasets; small enough to filter 100,000 trajectories in
  the browser;
- the **details** (`data/detail-NNNNN.js`, loaded when a trajectory is opened): every field
  of `CHUNK` trajectories, steps, tool calls and candidates included; long texts cut at
  `TEXT_LIMIT` characters (the page says so and gives the `trajkit show` command);
- the **divergence** items (`data/divergence.js`): for each ordered pair of datasets sharing
  tasks, where each trajectory of the second leaves the first's path (`trajkit.view.compare`).

Datasets that cannot be read (newer schema, not a dataset), empty datasets and rows with
missing fields do not stop the page: they become `problems`, shown in the page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trajkit import __version__
from trajkit.errors import TrajkitError
from trajkit.view.compare import Interner, pair_items, step_reason, step_signature

FORMAT = "trajkit-view"
FORMAT_VERSION = 1
CHUNK = 250  # trajectories per detail file
TEXT_LIMIT = 20_000  # characters of one text field in the details
SEARCH_LIMIT = 2_000  # characters of code per trajectory in the search index
QUESTION_LIMIT = 600  # characters of a question in the index (the details hold all of it)
ANSWER_LIMIT = 200
MAX_PAIR_DATASETS = 6  # above this many datasets, divergence pairs start from the first only


@dataclass
class PageData:
    index: dict[str, Any]
    divergence: dict[str, Any]
    problems: list[dict[str, str]] = field(default_factory=list)
    first_error: TrajkitError | None = None  # why the first unreadable dataset was not shown

    @property
    def trajectories(self) -> int:
        return len(self.index["rows"]["id"])

    @property
    def chunks(self) -> int:
        return (self.trajectories + CHUNK - 1) // CHUNK


class _Dict:
    """Interned strings for a categorical column."""

    def __init__(self, initial: Sequence[str] = ()) -> None:
        self.values: list[str] = []
        self.ids: dict[str, int] = {}
        for value in initial:
            self(value)

    def __call__(self, value: str | None) -> int:
        key = "" if value is None else str(value)
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.values)
            self.values.append(key)
        return found


def _schema_vocabulary(name: str) -> tuple[str, ...]:
    from typing import get_args

    from trajkit import schema

    return get_args(getattr(schema, name))


def _cut(text: Any, limit: int = TEXT_LIMIT) -> Any:
    if isinstance(text, str) and len(text) > limit:
        return text[:limit] + f"\n… [{len(text) - limit:,} more characters not shown here]"
    return text


class _Collector:
    def __init__(self, sink: Callable[[int, list[dict]], None]) -> None:
        self.sink = sink
        self.problems: list[dict[str, str]] = []
        self.datasets: list[dict[str, Any]] = []
        self.source = _Dict()
        self.domain = _Dict()
        self.status = _Dict(_schema_vocabulary("TrajectoryStatus"))
        self.error = _Dict(_schema_vocabulary("ErrorType"))
        self.task_ids: dict[str, int] = {}
        self.tasks: dict[str, list] = {"id": [], "question": [], "gold": []}
        self.rows: dict[str, list] = {
            k: [] for k in ("id", "ds", "task", "sample", "source", "domain", "status", "correct",
                            "steps", "tokens", "errors", "nerr", "final", "code")
        }
        self.signatures = Interner()
        self.first_error: TrajkitError | None = None
        # per dataset: task number -> [(row, correct, signature ids, reason ids)]
        self.runs: list[dict[int, list]] = []
        self.pending: list[dict] = []
        self.chunk_no = 0

    # ------------------------------------------------------------------ problems

    def problem(self, level: str, dataset: str, message: str) -> None:
        self.problems.append({"level": level, "dataset": dataset, "message": message})

    # ------------------------------------------------------------------ datasets

    def add(self, path: str | Path, label: str) -> None:
        from trajkit.store import Dataset

        try:
            dataset = Dataset.open(path)
            shards = dataset.shard_paths()
        except TrajkitError as exc:
            self.first_error = self.first_error or exc
            self.problem("error", str(path), f"not shown: {exc.one_line()}")
            return
        ds_no = len(self.datasets)
        meta: dict[str, Any] = {
            "name": label,
            "path": str(path),
            "rows": 0,
            "manifest_rows": len(dataset),
            "schema_version": dataset.manifest.schema_version,
            "fingerprint": dataset.manifest.fingerprint,
            "kinds": [], "models": [], "backends": [], "sag_n": [],
        }
        self.datasets.append(meta)
        self.runs.append({})
        missing: dict[str, int] = {}
        try:
            for shard in shards:
                for batch in _shard_batches(shard):
                    for row in batch:
                        self._row(ds_no, meta, row, missing)
        except TrajkitError as exc:
            self.problem("error", label, f"stopped reading after {meta['rows']} trajectories: {exc.one_line()}")
        if meta["rows"] == 0 and not any(p["dataset"] == label for p in self.problems):
            self.problem("warning", label, "the dataset is empty (no trajectories)")
        for what, count in sorted(missing.items()):
            self.problem("warning", label, f"{count} trajectories have no {what}; shown as —")

    def _row(self, ds_no: int, meta: dict, row: dict, missing: dict[str, int]) -> None:
        from trajkit.schema import SCHEMA_VERSION, upgrade_row

        version = row.get("schema_version")
        if version is not None and version != SCHEMA_VERSION:
            row = upgrade_row(row)
            if not meta.get("upgraded"):
                meta["upgraded"] = version
                self.problem("info", meta["name"], f"written with schema v{version}; upgraded to v{SCHEMA_VERSION} for display")
        trajectory_id = row.get("trajectory_id")
        if not trajectory_id:
            missing["trajectory_id (skipped)"] = missing.get("trajectory_id (skipped)", 0) + 1
            return
        task = row.get("task") or {}
        provenance = row.get("provenance") or {}
        outcome = row.get("outcome") or {}
        usage = row.get("usage") or {}
        steps = row.get("steps")
        for name, value in (("task", row.get("task")), ("question", task.get("question")), ("outcome", row.get("outcome")),
                            ("usage", row.get("usage")), ("steps", steps), ("provenance", row.get("provenance"))):
            if value is None:
                missing[name] = missing.get(name, 0) + 1
        steps = steps or []
        for key, value in (("kinds", provenance.get("kind")), ("models", provenance.get("model")),
                           ("backends", provenance.get("backend")), ("sag_n", provenance.get("sag_n"))):
            if value is not None and value not in meta[key]:
                meta[key].append(value)

        task_id = task.get("task_id") or f"(no task id: {trajectory_id})"
        task_no = self.task_ids.get(task_id)
        if task_no is None:
            task_no = self.task_ids[task_id] = len(self.tasks["id"])
            self.tasks["id"].append(task_id)
            self.tasks["question"].append(_cut(task.get("question") or "", QUESTION_LIMIT))
            self.tasks["gold"].append(_cut(task.get("gold_answer"), ANSWER_LIMIT))

        row_no = len(self.rows["id"])
        errors = 0
        n_errors = 0
        codes = []
        signatures = []
        reasons = []
        detail_steps = []
        for position, step in enumerate(steps):
            error = step.get("error") or None
            if error and error.get("type"):
                errors |= 1 << min(self.error(error["type"]), 30)
                n_errors += 1
            if step.get("code"):
                codes.append(step["code"])
            signature = self.signatures(step_signature(step))
            signatures.append(signature)
            reasons.append(step_reason(step))
            detail_steps.append(_detail_step(step, position, signature))
        correct = outcome.get("correct")
        tokens = usage.get("total_tokens")
        final = outcome.get("final_answer")
        rows = self.rows
        rows["id"].append(trajectory_id)
        rows["ds"].append(ds_no)
        rows["task"].append(task_no)
        rows["sample"].append(row.get("sample_index") or 0)
        rows["source"].append(self.source(task.get("source")))
        rows["domain"].append(self.domain(task.get("domain")))
        rows["status"].append(self.status(outcome.get("status") or "missing"))
        rows["correct"].append(-1 if correct is None else int(bool(correct)))
        rows["steps"].append(len(steps))
        rows["tokens"].append(-1 if tokens is None else int(tokens))
        rows["errors"].append(errors)
        rows["nerr"].append(n_errors)
        rows["final"].append(None if final is None else _cut(str(final), ANSWER_LIMIT))
        rows["code"].append("\n".join(codes)[:SEARCH_LIMIT].lower())
        self.runs[ds_no].setdefault(task_no, []).append((row_no, correct, signatures, reasons))
        meta["rows"] += 1

        review = row.get("review")
        self.pending.append({
            "id": trajectory_id,
            "row": row_no,
            "ds": ds_no,
            "task": task_no,
            "sample": row.get("sample_index") or 0,
            "question": _cut(task.get("question")),
            "gold": _cut(task.get("gold_answer")),
            "gold_aliases": task.get("gold_aliases") or [],
            "split": task.get("split"),
            "provenance": {k: provenance.get(k) for k in ("kind", "backend", "model", "sag_n", "prompt_template",
                                                         "first_thought_prefix", "max_steps")}
            | {"temperature": (provenance.get("sampling") or {}).get("temperature")},
            "outcome": {k: _cut(outcome.get(k)) for k in ("status", "final_answer", "correct", "score", "grader",
                                                          "grader_detail")},
            "usage": {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens", "steps",
                                                "model_calls", "wall_time_s")},
            "review": None if not review else {k: _json_safe(review.get(k)) for k in (
                "status", "label", "rating", "tags", "comment", "corrected_answer", "annotator")},
            "created_at": _json_safe(row.get("created_at")),
            "steps": detail_steps,
        })
        if len(self.pending) == CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.sink(self.chunk_no, self.pending)
            self.chunk_no += 1
            self.pending = []

    # ------------------------------------------------------------------ results

    def divergence(self) -> dict[str, Any]:
        pairs = []
        n = len(self.datasets)
        for a in range(n):
            if n > MAX_PAIR_DATASETS and a != 0:
                continue
            for b in range(n):
                if a == b:
                    continue
                items = pair_items(self.runs[a], self.runs[b])
                if items:
                    pairs.append({"a": a, "b": b, "items": items})
        return {"pairs": pairs}

    def index(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "trajkit_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "chunk": CHUNK,
            "datasets": self.datasets,
            "problems": self.problems,
            "dicts": {"source": self.source.values, "domain": self.domain.values,
                      "status": self.status.values, "error": self.error.values},
            "tasks": self.tasks,
            "rows": self.rows,
        }


def _shard_batches(path: Path):
    """Rows of one committed shard, in batches (the store checks its schema version)."""
    from trajkit.shards import read_shard

    table = read_shard(path)
    for batch in table.to_batches(max_chunksize=512):
        yield batch.to_pylist()


def _detail_step(step: dict, position: int, signature: int) -> dict:
    error = step.get("error") or None
    observation = step.get("observation")
    thought, code = step.get("thought"), step.get("code")
    return {
        "index": step.get("index", position),
        "thought": _cut(thought),
        "code": _cut(code),
        "observation": _cut(observation),
        "raw_output": _cut(step.get("raw_output")) if not (thought or code) else None,
        "prefix": _cut(step.get("prefix")),
        "error": None if not error else {k: _cut(error.get(k)) for k in ("type", "message", "exception", "line")},
        "final_answer": _cut(step.get("final_answer")),
        "prompt_tokens": step.get("prompt_tokens"),
        "completion_tokens": step.get("completion_tokens"),
        "latency_ms": step.get("latency_ms"),
        "train": step.get("train", True),
        "sig": signature,
        "tool_calls": [_detail_call(c, observation) for c in step.get("tool_calls") or []],
        "candidates": [_detail_candidate(c) for c in step.get("candidates") or []],
    }


def _detail_call(call: dict, observation: str | None) -> dict:
    output = call.get("output")
    return {
        "name": call.get("name"),
        "arguments": _cut(call.get("arguments")),
        # the interpreter's output is the step's observation: not stored twice
        "output": None if output == observation else _cut(output),
        "error": _cut(call.get("error")),
        "latency_ms": call.get("latency_ms"),
        "retrieved": [[d.get("doc_id"), d.get("title"), d.get("score")] for d in call.get("retrieved") or []],
    }


def _detail_candidate(candidate: dict) -> dict:
    error = candidate.get("error") or None
    code = candidate.get("code")
    return {
        "index": candidate.get("index"),
        "thought": _cut(candidate.get("thought")),
        "code": _cut(code),
        "raw_output": None if code else _cut(candidate.get("raw_output")),
        "parse_ok": candidate.get("parse_ok"),
        "exec_ok": candidate.get("exec_ok"),
        "output": _cut(candidate.get("output")),
        "final_answer": _cut(candidate.get("final_answer")),
        "vote_key": _cut(candidate.get("vote_key"), 500),
        "votes": candidate.get("votes"),
        "selected": candidate.get("selected"),
        "error": None if not error else {k: _cut(error.get(k)) for k in ("type", "message", "exception", "line")},
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def labels(paths: Sequence[str | Path]) -> list[str]:
    """A distinct, short label per dataset path: its directory name, with parents where needed."""
    parts = [Path(p).resolve().parts for p in paths]
    depth = [1] * len(parts)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth, strict=True)]
        clashes = {n for n in names if names.count(n) > 1}
        if not clashes:
            return names
        grown = False
        for i, name in enumerate(names):
            if name in clashes and depth[i] < len(parts[i]):
                depth[i] += 1
                grown = True
        if not grown:  # the same path twice
            return [f"{n}#{i}" if n in clashes else n for i, n in enumerate(names)]


def collect(paths: Sequence[str | Path], sink: Callable[[int, list[dict]], None]) -> PageData:
    """Read `paths` into page data; each full chunk of details goes to `sink(chunk_no, rows)`."""
    collector = _Collector(sink)
    for path, label in zip(paths, labels(paths), strict=True):
        collector.add(path, label)
    collector.flush()
    versions = sorted({d["schema_version"] for d in collector.datasets})
    if len(versions) > 1:
        collector.problem("info", "", "the datasets were written with different schema versions "
                          f"({', '.join(f'v{v}' for v in versions)}); all are shown in the current one")
    return PageData(index=collector.index(), divergence=collector.divergence(), problems=collector.problems,
                    first_error=collector.first_error)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
