"""Writing an export folder all at once: into a temporary sibling folder, renamed when complete.

Every export format writes its files through `ExportFolder`; a failure (or bad input found
while writing) leaves nothing at the destination, and an existing destination is replaced only
with `overwrite`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from trajkit.errors import InputError, TrajkitError
from trajkit.staging import staged_folder


class MissingDataError(TrajkitError):
    """The dataset lacks what an export needs (captured tokens, incorrect trajectories, ...)."""


class ExportFolder:
    """`with ExportFolder(out) as folder:` write files under `folder.tmp`; renamed on success."""

    def __init__(self, out: str | Path, *, overwrite: bool = False):
        self.out = Path(out)
        self.overwrite = overwrite
        self.files: list[str] = []
        if self.out.exists() and not overwrite:
            raise InputError(
                "the output folder exists", where=str(self.out), fix="choose a new folder or pass --overwrite"
            )
        self._staged = staged_folder(self.out)
        self.tmp: Path  # the staging folder, once entered

    def __enter__(self) -> ExportFolder:
        self.tmp = self._staged.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._staged.__exit__(exc_type, exc, tb)  # swapped in on success, removed on failure

    def path(self, name: str) -> Path:
        self.files.append(name)
        target = self.tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_jsonl(self, name: str, records: Iterable[dict]) -> int:
        count = 0
        with self.path(name).open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        return count

    def write_json(self, name: str, value) -> None:
        self.path(name).write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def write_text(self, name: str, text: str) -> None:
        self.path(name).write_text(text, encoding="utf-8")

    def write_parquet(self, name: str, records: list[dict], schema=None) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(records, schema=schema)
        pq.write_table(table, self.path(name), compression="zstd")
        return len(records)


def by_split(records: Iterable[tuple[str, dict]]) -> dict[str, list[dict]]:
    """Group (split, record) pairs by split, keeping order."""
    groups: dict[str, list[dict]] = {}
    for split, record in records:
        groups.setdefault(split or "train", []).append(record)
    return groups
