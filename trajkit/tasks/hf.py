"""Hugging Face datasets as task sources: `hf:NAME[:CONFIG]:SPLIT`.

NAME is a Hub dataset (`hotpotqa/hotpot_qa`, `HuggingFaceH4/MATH-500`, ...) or a local
folder: one written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk`, or a folder of
data files (Parquet, JSON, CSV) that `datasets.load_dataset` reads. `datasets` is imported
only here (extras `dev`/`train`).

Columns are found by their usual names (question/problem, answer/solution, id/unique_id, ...);
a few well-known datasets need more than names and have presets (GSM8K's "#### answer").
An explicit `columns:` mapping always wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trajkit.errors import InputError, ServiceError, require
from trajkit.tasks.records import Converter
from trajkit.tasks.report import LoadReport
from trajkit.tasks.spec import TaskSpec

# dataset base name (lower case) -> (column defaults, answer extraction, domain)
PRESETS: dict[str, tuple[dict[str, str], str | None, str | None]] = {
    "gsm8k": ({"question": "question", "gold_answer": "answer"}, "gsm8k", "math"),
    "hotpot_qa": ({"question": "question", "gold_answer": "answer", "id": "id"}, None, "qa"),
    "competition_math": ({"question": "problem", "gold_answer": "solution"}, "boxed", "math"),
    "hendrycks_math": ({"question": "problem", "gold_answer": "solution"}, "boxed", "math"),
    "math-500": ({"question": "problem", "gold_answer": "answer", "id": "unique_id"}, None, "math"),
    "musique": ({"question": "question", "gold_answer": "answer", "gold_aliases": "answer_aliases"}, None, "qa"),
}


def parse_source(text: str, split: str | None) -> tuple[str, str | None, str | None]:
    """`NAME[:CONFIG]:SPLIT` -> (name, config, split); `split` from the spec fills a gap."""
    parts = text.split(":")
    if len(parts) == 1:
        return parts[0], None, split
    if len(parts) == 2:
        return parts[0], None, parts[1] or split
    if len(parts) == 3:
        return parts[0], parts[1] or None, parts[2] or split
    raise InputError(
        f"cannot read hf:{text}",
        where="tasks source",
        fix="write hf:NAME:SPLIT or hf:NAME:CONFIG:SPLIT",
    )


def load_hf(text: str, spec: TaskSpec, report: LoadReport):
    name, config, split = parse_source(text, spec.split)
    if not name:
        raise InputError("hf: needs a dataset name", where="tasks source", fix="write hf:NAME:SPLIT")
    splits = _open(name, config, split)
    base = Path(name).name.lower() if Path(name).exists() else name.rsplit("/", 1)[-1].lower()
    columns, extract, domain = PRESETS.get(base, ({}, None, None))
    source = spec.name or base
    tasks = []
    for split_name, dataset in splits.items():
        where = f"hf:{name}" + (f":{config}" if config else "") + f":{split_name}"
        converter = Converter.for_columns(
            list(dataset.column_names),
            spec,
            source=source,
            split=split_name,
            where=where,
            report=report,
            domain=domain,
            defaults=columns if not spec.columns else None,
            answer_extract=extract,
        )
        report.counts["splits"] += 1
        early_limit = spec.limit if not spec.filters and spec.shuffle_seed is None else None
        tasks += converter.convert(_rows(dataset, early_limit))
    return tasks


def _rows(dataset: Any, limit: int | None):
    # Reading past the limit costs time on big datasets; duplicates may still cut the
    # result slightly below the limit, which is fine for a sample.
    count = len(dataset) if limit is None else min(len(dataset), limit * 2 + 10)
    for index in range(count):
        yield dataset[index]


def _open(name: str, config: str | None, split: str | None) -> dict[str, Any]:
    datasets = require("datasets", "dev", "loading Hugging Face datasets")
    path = Path(name)
    try:
        if path.is_dir() and _is_saved_dataset(path):
            loaded = datasets.load_from_disk(str(path))
        else:
            loaded = datasets.load_dataset(name, config, split=split)
    except FileNotFoundError as exc:
        raise InputError(f"dataset not found: {exc}", where=f"hf:{name}") from None
    except ValueError as exc:  # unknown split or config
        raise InputError(str(exc).splitlines()[0], where=f"hf:{name}", fix="check the config and split names") from None
    except ConnectionError as exc:
        raise ServiceError(
            f"cannot reach the Hugging Face Hub ({exc})",
            where=f"hf:{name}",
            fix="check the network, or download the dataset and give its local folder",
        ) from None
    except Exception as exc:
        if type(exc).__name__ in ("DatasetNotFoundError", "DataFilesNotFoundError", "EmptyDatasetError"):
            raise InputError(str(exc).splitlines()[0], where=f"hf:{name}") from None
        raise
    if isinstance(loaded, datasets.DatasetDict):
        if split is not None:
            if split not in loaded:
                raise InputError(
                    f"no split {split!r}; splits are: {', '.join(loaded)}", where=f"hf:{name}"
                )
            return {split: loaded[split]}
        return dict(loaded)
    return {split or "train": loaded}


def _is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()
