"""The paper's task files: `{qa,math}/{train,test}/<name>_<count>_<date>.json`.

Each file is `{"metadata": {"dataset_info": {...}}, "examples": [...]}`. Known defects, all
handled without failing: null or empty answers
(skipped), float answers (written as text), a duplicated question and a malformed id
(MuSiQue: the duplicate is skipped, the id cleaned), int vs "Level N" levels (both become the
integer), and file metadata copied from another file (reported, not trusted: names and
splits come from the file's place and its examples).

The files ship inside the package (`trajkit/tasks/seed_data/`, origins and licences in its
README); `TRAJKIT_SEED_TASKS` points the loader at another folder of the same layout.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from trajkit.errors import InputError
from trajkit.tasks.records import Converter, guess_domain
from trajkit.tasks.report import LoadReport
from trajkit.tasks.spec import TaskSpec

FILE_NAME = re.compile(r"^(?P<name>.+?)_(?P<count>\d+)_(?P<date>\d{8})$")
_LEVEL_FLOOR = re.compile(r"level (\d+) or higher", re.IGNORECASE)


@dataclass(frozen=True)
class SeedFile:
    path: Path
    domain: str  # qa / math: the folder
    split: str  # train / test: the folder
    name: str  # dataset name from the file name: hotpotqa, math_medium, gsm_hard, ...
    count: int | None

    @property
    def keys(self) -> list[str]:
        keys = [self.name, f"{self.domain}/{self.name}", f"{self.domain}/{self.split}/{self.name}"]
        if self.count is not None:
            keys.append(f"{self.name}_{self.count}")
        return keys


PACKAGED_SEED_TASKS = Path(__file__).resolve().parent / "seed_data"


def seed_root() -> Path:
    if os.environ.get("TRAJKIT_SEED_TASKS"):
        return Path(os.environ["TRAJKIT_SEED_TASKS"])
    return PACKAGED_SEED_TASKS


def seed_files(root: Path | None = None) -> list[SeedFile]:
    root = seed_root() if root is None else root
    if not root.is_dir():
        raise InputError(
            f"the seed task folder {root} does not exist",
            fix="unset TRAJKIT_SEED_TASKS to use the files shipped with trajkit, or point it at "
            "a folder laid out as {qa,math}/{train,test}/*.json",
        )
    files = []
    for path in sorted(root.rglob("*.json")):
        files.append(describe(path, root))
    return files


def describe(path: Path, root: Path | None = None) -> SeedFile:
    parts = path.relative_to(root).parts if root is not None else path.parts
    domain = parts[-3] if len(parts) >= 3 else "qa"
    split = parts[-2] if len(parts) >= 2 else "test"
    match = FILE_NAME.match(path.stem)
    name = match["name"] if match else path.stem
    count = int(match["count"]) if match else None
    if domain not in ("qa", "math"):
        domain = guess_domain(name)
    if split not in ("train", "test", "validation", "dev"):
        split = ""  # not in the seed layout: the examples' own split decides
    return SeedFile(path, domain, split, name, count)


def select(pattern: str, files: list[SeedFile]) -> list[SeedFile]:
    """Files whose name (`hotpotqa`, `math_500`, `qa/*`, `qa/test/*`, `*`) matches."""
    wanted = [p.strip() for p in pattern.split(",") if p.strip()] or ["*"]
    chosen = []
    for seed_file in files:
        if any(fnmatch.fnmatchcase(key, w) for w in wanted for key in seed_file.keys):
            chosen.append(seed_file)
    if not chosen:
        names = sorted({f"{f.name}_{f.count}" if f.count else f.name for f in files})
        raise InputError(
            f"no seed task file matches {pattern!r}",
            where="seed:",
            fix=f"choose from: {', '.join(names)} (or qa/*, math/*, *)",
        )
    return chosen


def load_seed(pattern: str, spec: TaskSpec, report: LoadReport):
    files = select(pattern, seed_files())
    if spec.split is not None:
        splits = sorted({f.split for f in files})
        files = [f for f in files if f.split == spec.split]
        if not files:
            raise InputError(
                f"seed:{pattern} has no {spec.split!r} split",
                where="seed:",
                fix=f"use split {' or '.join(repr(s) for s in splits)}",
            )
    tasks = []
    for seed_file in files:
        tasks += load_seed_file(seed_file, spec, report)
    return tasks


def is_seed_document(document: object) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("examples"), list)
        and isinstance(document.get("metadata"), dict)
    )


def load_seed_file(seed_file: SeedFile, spec: TaskSpec, report: LoadReport, document=None):
    path = seed_file.path
    where = "/".join(p for p in (seed_file.domain, seed_file.split, path.name) if p)
    if document is None:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            report.warn(f"{where}: not readable as JSON ({exc}); file skipped")
            report.counts["files skipped"] += 1
            return []
    if not is_seed_document(document):
        report.warn(f"{where}: not a task file (no metadata/examples); file skipped")
        report.counts["files skipped"] += 1
        return []
    examples = document["examples"]
    _check_file_metadata(document["metadata"], examples, seed_file, where, report)
    # the folder says train/test; the examples' own split (e.g. MuSiQue "validation") is kept
    renamed = [_rename_split(e) for e in examples]
    available = sorted({key for e in renamed if isinstance(e, dict) for key in e})
    split = seed_file.split or spec.split or _majority_split(renamed)
    converter = Converter.for_columns(
        available,
        spec,
        source=spec.name or seed_file.name,
        split=split,
        domain=seed_file.domain,
        where=where,
        report=report,
        defaults={"id": "id", "question": "question", "gold_answer": "answer"},
    )
    converter.extra_metadata = {"seed_file": path.name}
    report.counts["files"] += 1
    return converter.convert(renamed)


def _majority_split(examples: list) -> str:
    splits = Counter(str(e.get("original_split")) for e in examples if isinstance(e, dict) and e.get("original_split"))
    return splits.most_common(1)[0][0] if splits else "train"


def _rename_split(example: object) -> object:
    if isinstance(example, dict) and "split" in example:
        example = dict(example)
        example["original_split"] = example.pop("split")
    return example


def _check_file_metadata(metadata: dict, examples: list, seed_file: SeedFile, where: str, report: LoadReport) -> None:
    info = metadata.get("dataset_info") if isinstance(metadata.get("dataset_info"), dict) else {}
    declared_name = str(info.get("name") or "")
    names = Counter(str(e.get("dataset_name")) for e in examples if isinstance(e, dict) and e.get("dataset_name"))
    if declared_name and names:
        actual = names.most_common(1)[0][0]
        if declared_name.lower() not in actual.lower() and actual.lower() not in declared_name.lower():
            report.warn(
                f"{where}: file metadata names dataset {declared_name!r} but its examples are "
                f"from {actual!r} (metadata copied from another file?); the examples are trusted"
            )
            report.counts["files with wrong metadata"] += 1
    declared_total = info.get("total_examples")
    if isinstance(declared_total, int) and declared_total != len(examples):
        report.warn(f"{where}: metadata says {declared_total} examples, the file holds {len(examples)}")
    criteria = str(info.get("filtering_criteria") or "")
    floor = _LEVEL_FLOOR.search(criteria)
    if floor:
        levels = [_level_number(e.get("level")) for e in examples if isinstance(e, dict)]
        below = [lv for lv in levels if lv is not None and lv < int(floor.group(1))]
        if below:
            report.warn(
                f"{where}: metadata says {criteria!r} but {len(below)} examples are below level "
                f"{floor.group(1)} (lowest {min(below)}); metadata not trusted"
            )
            report.counts["files with wrong metadata"] += 1


def _level_number(level: object) -> int | None:
    if isinstance(level, int):
        return level
    match = re.match(r"^\s*level\s*(\d+)\s*$", str(level), re.IGNORECASE)
    return int(match.group(1)) if match else None
