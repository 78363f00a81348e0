"""Local task files: JSONL, JSON, CSV and Parquet, one file or a folder of them.

A Parquet file with the columns of `Task` (what `trajkit tasks export` and `trajkit tasks
synth` write) is read back as tasks unchanged. A JSON file in the seed format goes through
the seed loader. Everything else goes through the record converter with column mapping.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from trajkit.errors import InputError
from trajkit.schema import PARQUET_VERSION_KEY, SCHEMA_VERSION, Task
from trajkit.tasks.records import Converter
from trajkit.tasks.report import LoadReport
from trajkit.tasks.spec import TaskSpec
from trajkit.textfile import read_utf8

SUFFIXES = {".jsonl", ".ndjson", ".json", ".csv", ".parquet"}
TASK_FILE_KIND = b"tasks"
KIND_KEY = b"trajkit.kind"
TASK_COLUMNS = {"task_id", "source", "question"}


def load_path(path: Path, spec: TaskSpec, report: LoadReport) -> list[Task]:
    if not path.exists():
        raise InputError(
            f"{path} does not exist",
            where="tasks source",
            fix="give a file, a folder, seed:NAME, hf:NAME:SPLIT or synthetic:DIR",
        )
    if path.is_dir():
        return load_task_dir(path, spec, report)
    return load_file(path, spec, report)


def load_task_dir(path: Path, spec: TaskSpec, report: LoadReport, *, own_only: bool = False) -> list[Task]:
    """A folder: the task Parquet files of `tasks synth`/`export`, else every task file in it."""
    if not path.is_dir():
        raise InputError(f"{path} is not a folder", where="tasks source")
    own = sorted(path.glob("tasks*.parquet"))
    if own_only and not own:
        raise InputError(
            f"no tasks*.parquet in {path}",
            where="tasks source",
            fix="make one with: trajkit tasks synth --n 500 --seed 0 DIR",
        )
    files = own or sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    if not own and any((path / domain).is_dir() for domain in ("qa", "math")):
        return _load_seed_tree(path, spec, report)
    if not files:
        raise InputError(f"no task files (.jsonl, .json, .csv, .parquet) in {path}", where="tasks source")
    tasks = []
    for file in files:
        tasks += load_file(file, spec, report)
    return tasks


def _load_seed_tree(path: Path, spec: TaskSpec, report: LoadReport) -> list[Task]:
    from trajkit.tasks.seed import load_seed_file, seed_files

    tasks = []
    for seed_file in seed_files(path):
        if spec.split is None or seed_file.split == spec.split:
            tasks += load_seed_file(seed_file, spec, report)
    return tasks


def load_file(path: Path, spec: TaskSpec, report: LoadReport) -> list[Task]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return _convert(path, spec, report, _read_jsonl(path, report))
    if suffix == ".json":
        return _load_json(path, spec, report)
    if suffix == ".csv":
        return _convert(path, spec, report, _read_csv(path))
    if suffix == ".parquet":
        return _load_parquet(path, spec, report)
    raise InputError(
        f"{path.name}: unsupported file type {suffix or '(none)'}",
        where=str(path),
        fix="use .jsonl, .json, .csv or .parquet",
    )


def source_name(path: Path) -> str:
    name = path.stem
    for suffix in (".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def _convert(path: Path, spec: TaskSpec, report: LoadReport, records: list[dict]) -> list[Task]:
    report.counts["files"] += 1
    available = list(dict.fromkeys(k for r in records[:1000] if isinstance(r, dict) for k in r))
    converter = Converter.for_columns(
        available,
        spec,
        source=spec.name or source_name(path),
        split=spec.split or "train",
        where=str(path),
        report=report,
        split_filter=spec.split,
    )
    if converter.columns.get("split") is None:
        converter.split_filter = None  # no split column: `split` labels the tasks instead
    return converter.convert(records)


def _read_jsonl(path: Path, report: LoadReport) -> list:
    records = []
    for number, line in enumerate(read_utf8(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            report.counts["read"] += 1
            report.skip(str(path), f"line {number}", f"not JSON ({exc.msg})")
    return records


def _read_csv(path: Path) -> list[dict]:
    return [dict(row) for row in csv.DictReader(io.StringIO(read_utf8(path), newline=""))]


def _load_json(path: Path, spec: TaskSpec, report: LoadReport) -> list[Task]:
    from trajkit.tasks.seed import describe, is_seed_document, load_seed_file

    text = read_utf8(path)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} (line {exc.lineno})",
            where=str(path),
            fix="fix the file, or use .jsonl for one object per line",
        ) from None
    if is_seed_document(document):
        return load_seed_file(describe(path.resolve()), spec, report, document=document)
    if isinstance(document, dict):
        for key in ("examples", "data", "tasks", "rows", "records"):
            if isinstance(document.get(key), list):
                document = document[key]
                break
    if not isinstance(document, list):
        raise InputError(
            "a JSON task file must hold a list of objects (or an object with an 'examples' list)",
            where=str(path),
        )
    return _convert(path, spec, report, document)


def _load_parquet(path: Path, spec: TaskSpec, report: LoadReport) -> list[Task]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise InputError(f"not a readable Parquet file ({exc})", where=str(path)) from None
    if TASK_COLUMNS <= set(table.column_names) and not spec.columns:
        return _task_rows(path, table.to_pylist(), spec, report)
    return _convert(path, spec, report, table.to_pylist())


def _task_rows(path: Path, rows: list[dict], spec: TaskSpec, report: LoadReport) -> list[Task]:
    from pydantic import ValidationError

    report.counts["files"] += 1
    tasks = []
    known = set(Task.model_fields)
    for position, row in enumerate(rows):
        if spec.split is not None and row.get("split") != spec.split:
            continue
        report.counts["read"] += 1
        body = {k: v for k, v in row.items() if k in known and v is not None}
        body["gold_aliases"] = list(body.get("gold_aliases") or [])
        if spec.domain:
            body["domain"] = spec.domain
        if spec.name:
            body["source"] = spec.name
        if body.get("gold_answer") is None and spec.require_answer:
            report.skip(str(path), row.get("task_id") or f"#{position}", "answer is null")
            continue
        try:
            tasks.append(Task.model_validate(body))
        except ValidationError as exc:
            error = exc.errors()[0]
            report.skip(str(path), row.get("task_id") or f"#{position}", f"invalid task: {error['loc'][0]} {error['msg']}")
    return tasks


# ------------------------------------------------------------------------- writing


def tasks_table(tasks: Iterable[Task]):
    """An Arrow table whose columns are the fields of `Task`."""
    import pyarrow as pa

    from trajkit.schema import arrow_struct

    struct = arrow_struct(Task)
    schema = pa.schema(
        list(struct),
        metadata={PARQUET_VERSION_KEY: str(SCHEMA_VERSION).encode(), KIND_KEY: TASK_FILE_KIND},
    )
    rows = [t.model_dump() for t in tasks]
    return pa.Table.from_pylist(rows, schema=schema)


def write_tasks(tasks: Iterable[Task], path: str | Path) -> Path:
    """Write tasks to one Parquet file atomically (temp file + rename)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder", where="output", fix="give a file name ending in .parquet")
    table = tasks_table(tasks)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex}"
    try:
        pq.write_table(table, temp, compression="zstd")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path
