"""The record converter: source records (dicts) -> `Task`s, one for every loader.

`Converter` maps columns (an explicit mapping first, then well-known column names), keeps the
other columns as metadata, extracts answers from solutions (`\\boxed{}`, GSM8K's `####`) and
repairs or skips defective records, counting each in the `LoadReport`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from trajkit.errors import ConfigError, InputError
from trajkit.schema import Task, stable_hash
from trajkit.tasks.report import LoadReport
from trajkit.tasks.spec import TASK_FIELDS, TaskSpec

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "task_id", "_id", "qid", "question_id", "unique_id", "uid", "idx"),
    "question": ("question", "problem", "query", "prompt", "input", "instruction", "q"),
    "gold_answer": (
        "gold_answer", "answer", "final_answer", "answers", "target", "output", "label",
        "solution",
    ),
    "gold_aliases": ("gold_aliases", "answer_aliases", "aliases", "other_answers"),
    "split": ("split",),
    "domain": ("domain",),
    "metadata": ("metadata",),
}  # fmt: skip
MATH_NAME = re.compile(r"math|gsm|aime|olym|amc|algebra|arith|numina", re.IGNORECASE)
_GOOD_ID = re.compile(r"[\w.:/@+=#-]+")
_LEVEL_TEXT = re.compile(r"^level\s*(\d+)$", re.IGNORECASE)


def guess_domain(name: str) -> str:
    return "math" if MATH_NAME.search(name) else "qa"


def make_task_id(source: str, split: str, original_id: str | None, question: str) -> str:
    """`source/split/original-id`, or a content hash of the question when there is no id."""
    if original_id:
        return f"{source}/{split}/{original_id}"
    return f"{source}/{split}/q-{stable_hash(question, length=16)}"


@dataclass
class Converter:
    """Turns records (dicts) of one source into tasks, recording every defect."""

    source: str
    split: str
    domain: str
    where: str
    report: LoadReport
    columns: dict[str, str | None]
    answer_extract: str | None = None
    require_answer: bool = True
    metadata_columns: list[str] | None = None
    split_filter: str | None = None
    extra_metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_columns(
        cls,
        available: Iterable[str],
        spec: TaskSpec,
        *,
        source: str,
        split: str,
        where: str,
        report: LoadReport,
        domain: str | None = None,
        defaults: Mapping[str, str] | None = None,
        answer_extract: str | None = None,
        split_filter: str | None = None,
    ) -> Converter:
        columns = resolve_columns(list(available), {**(defaults or {}), **spec.columns}, where)
        extract = spec.answer_extract or answer_extract
        if extract is None and columns.get("gold_answer") == "solution":
            extract = "boxed"  # MATH-style records: the answer is the boxed part of the solution
        return cls(
            source=source,
            split=split,
            domain=spec.domain or domain or guess_domain(source),
            where=where,
            report=report,
            columns=columns,
            answer_extract=extract,
            require_answer=spec.require_answer,
            metadata_columns=spec.metadata_columns,
            split_filter=split_filter,
        )

    def convert(self, records: Iterable[Mapping[str, Any]], *, start: int = 0) -> list[Task]:
        tasks = []
        for position, record in enumerate(records, start=start):
            task = self.one(record, position)
            if task is not None:
                tasks.append(task)
        return tasks

    def one(self, record: Mapping[str, Any], position: int) -> Task | None:
        report, where = self.report, self.where
        if not isinstance(record, Mapping):
            report.counts["read"] += 1
            report.skip(where, f"#{position}", "record is not an object")
            return None
        split = self._split(record)
        if self.split_filter is not None and split != self.split_filter:
            return None
        report.counts["read"] += 1
        original_id = self._original_id(record, position)
        label = original_id or f"#{position}"
        question = self._value(record, "question")
        if question is None or not str(question).strip():
            report.skip(where, label, "question is empty")
            return None
        question = str(question).strip()
        answer, aliases, problem = self._answer(record, label)
        if answer is None and self.require_answer:
            report.skip(where, label, problem or "answer is null")
            return None
        metadata = self._metadata(record, original_id, label)
        domain = self._value(record, "domain") or self.domain
        task_id = make_task_id(self.source, split, original_id, question)
        try:
            return Task(
                task_id=task_id,
                source=self.source,
                split=split,
                domain=str(domain),
                question=question,
                gold_answer=answer,
                gold_aliases=aliases,
                metadata=json.dumps(metadata, ensure_ascii=False, default=str, sort_keys=True),
            )
        except ValidationError as exc:
            report.skip(where, label, f"invalid task: {exc.errors()[0]['msg']}")
            return None

    # ------------------------------------------------------------------ fields

    def _value(self, record: Mapping[str, Any], task_field: str) -> Any:
        column = self.columns.get(task_field)
        return record.get(column) if column else None

    def _split(self, record: Mapping[str, Any]) -> str:
        value = self._value(record, "split")
        return str(value) if value not in (None, "") else self.split

    def _original_id(self, record: Mapping[str, Any], position: int) -> str | None:
        value = self._value(record, "id")
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value)
        if _GOOD_ID.fullmatch(text):
            return text
        repaired = re.sub(r"[^\w.:/@+=#-]+", "_", text.strip()).strip("_")
        if not repaired:
            self.report.repair(self.where, f"#{position}", "id empty; content hash used")
            return None
        self.report.repair(self.where, f"{text!r} -> {repaired!r}", "malformed id cleaned")
        return repaired

    def _answer(self, record: Mapping[str, Any], label: str) -> tuple[str | None, list[str], str | None]:
        """(gold, aliases, problem): problem says why there is no usable gold answer."""
        raw = self._value(record, "gold_answer")
        aliases = _text_list(self._value(record, "gold_aliases"))
        gold, more, problem = self._answer_text(raw, label)
        if gold is not None and self.answer_extract:
            gold, problem = _extract(gold, self.answer_extract)
        aliases = [a for a in more + aliases if a and a != gold]
        return gold, list(dict.fromkeys(aliases)), problem

    def _answer_text(self, raw: Any, label: str) -> tuple[str | None, list[str], str | None]:
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None, [], "answer is null"
        if isinstance(raw, bool):
            self.report.repair(self.where, label, "boolean answer written as yes/no")
            return ("yes" if raw else "no"), [], None
        if isinstance(raw, int):
            return str(raw), [], None
        if isinstance(raw, float):
            if raw.is_integer():
                self.report.repair(self.where, label, "float answer written as an integer")
                return str(int(raw)), [], None
            self.report.repair(self.where, label, "float answer written as text")
            return repr(raw), [], None
        if isinstance(raw, str):
            text = raw.strip()
            return (text, [], None) if text else (None, [], "answer is empty")
        if isinstance(raw, Mapping):  # SQuAD {"text": [...]}, TriviaQA {"value", "aliases"}
            values = _text_list(raw.get("value")) + _text_list(raw.get("text"))
            values += _text_list(raw.get("answer")) + _text_list(raw.get("aliases"))
            if values:
                return values[0], values[1:], None
            return None, [], "answer object has no value/text"
        if isinstance(raw, list | tuple):
            values = _text_list(raw)
            if values:
                return values[0], values[1:], None
            return None, [], "answer list is empty"
        return None, [], f"answer of type {type(raw).__name__} is not supported"

    def _metadata(self, record: Mapping[str, Any], original_id: str | None, label: str) -> dict:
        used = {c for c in self.columns.values() if c}
        metadata: dict[str, Any] = dict(self.extra_metadata)
        embedded = self._value(record, "metadata")
        if isinstance(embedded, str):
            try:
                embedded = json.loads(embedded)
            except ValueError:
                embedded = {"metadata": embedded}
        if isinstance(embedded, Mapping):
            metadata.update(embedded)
        keep = self.metadata_columns
        for key, value in record.items():
            if key in used or (keep is not None and key not in keep):
                continue
            metadata[key] = _json_safe(value)
        if original_id is not None:
            metadata["original_id"] = original_id
        level = metadata.get("level")
        if isinstance(level, str) and _LEVEL_TEXT.match(level.strip()):
            metadata["level"] = int(_LEVEL_TEXT.match(level.strip()).group(1))
            self.report.counts["normalized: level 'Level N' -> N"] += 1
        return metadata


def resolve_columns(available: list[str], explicit: Mapping[str, str], where: str) -> dict[str, str | None]:
    """Which source column feeds each task field: explicit mapping first, then known names."""
    present = set(available)
    lowered = {c.lower(): c for c in available}
    columns: dict[str, str | None] = {}
    for task_field in TASK_FIELDS:
        if task_field in explicit:
            column = explicit[task_field]
            if column not in present:
                raise InputError(
                    f"column {column!r} (mapped to {task_field}) is not in the data; "
                    f"columns are: {', '.join(available[:20])}",
                    where=where,
                    fix="fix the column mapping",
                )
            columns[task_field] = column
            continue
        taken = set(columns.values())
        columns[task_field] = next(
            (lowered[c] for c in DEFAULT_COLUMNS[task_field] if c in lowered and lowered[c] not in taken),
            None,
        )
    if columns["question"] is None:
        raise InputError(
            f"no question column found; columns are: {', '.join(available[:20]) or '(none)'}",
            where=where,
            fix="map one with columns: {question: <column>} (CLI: --column question=<column>)",
        )
    return columns


def _extract(text: str, how: str) -> tuple[str | None, str | None]:
    if how == "boxed":
        from trajkit.grading.math_equivalence import strip_boxed

        if "\\boxed" not in text and "\\fbox" not in text:
            return None, "no \\boxed{} answer in the solution"
        inner = strip_boxed(text.replace("\\fbox", "\\boxed")).strip()
        return (inner, None) if inner else (None, "empty \\boxed{} answer")
    if how == "gsm8k":
        if "####" not in text:
            return None, "no '####' answer marker"
        inner = text.rsplit("####", 1)[1].strip().replace(",", "")
        return (inner, None) if inner else (None, "empty answer after '####'")
    raise ConfigError(f"unknown answer_extract {how!r}", fix="use boxed or gsm8k")


def _text_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    if hasattr(value, "tolist"):  # numpy arrays from Parquet readers
        return _text_list(value.tolist())
    return [str(value)]


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return _json_safe(value.tolist())
    return str(value)
