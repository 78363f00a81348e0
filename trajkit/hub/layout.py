"""The Hub repository layout of a dataset: Parquet shards per config and split, card, charts.

    README.md                                   dataset card (YAML header declares the configs)
    assets/*.png                                charts shown by the card
    trajectories/{split}-00000-of-0000N.parquet the full nested trajectory schema
    sft/{split}-00000-of-0000N.parquet          the student conversation `trajkit train` trains on,
                                                with per-message loss flags
    sft_tool_calls/{split}-00000-of-0000N.parquet  OpenAI-style chat with `tool_calls` (opt-in)

What each config's rows hold is `trajkit.hub.configs`.

This is the layout the Hub's dataset viewer and `datasets.load_dataset(repo_or_dir, config)`
read through the `configs` of the card. Every file is a pure function of the dataset's rows and
manifest (no timestamps of the moment, deterministic Parquet), so exporting or pushing the same
dataset twice yields byte-identical files: that is what makes re-pushes upload nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trajkit.errors import InputError
from trajkit.store import Dataset

if TYPE_CHECKING:
    from trajkit.hub.configs import ConfigRows

CONFIGS = ("trajectories", "sft", "sft_tool_calls")
PUBLISHED_BY_DEFAULT = ("trajectories", "sft")
DEFAULT_CONFIG = "trajectories"  # what `load_dataset(repo)` loads without a config name
CARD = "README.md"
ASSETS_DIR = "assets"
# What push owns in a repo: files there that the new layout lacks are stale and removed. Other
# files (a LICENSE, the user's own images in assets/, ...) are left alone.
MANAGED_DIRS = CONFIGS


def is_managed(path: str) -> bool:
    from trajkit.hub.charts import CHART_FILES

    return any(path.startswith(f"{d}/") for d in MANAGED_DIRS) or path in {f"{ASSETS_DIR}/{c}" for c in CHART_FILES}
ROWS_PER_SHARD = 20_000
ROWS_PER_ROW_GROUP = 1_000  # small row groups keep the dataset viewer's page reads small
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")  # what `datasets` accepts as a split name


@dataclass
class Layout:
    """A repository layout written to `root`."""

    root: Path
    configs: list[str]
    splits: dict[str, int]  # published split name -> rows
    split_names: dict[str, str]  # task.split value -> published split name
    data_files: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # config -> split -> paths
    charts: list[str] = field(default_factory=list)

    def files(self) -> list[str]:
        """Every file of the layout, repo-relative, sorted."""
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())


def check_configs(configs: Iterable[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(configs or PUBLISHED_BY_DEFAULT))
    unknown = [c for c in chosen if c not in CONFIGS]
    if unknown:
        raise InputError(
            f"unknown config {unknown[0]!r}",
            where="--config",
            fix=f"choose from: {', '.join(CONFIGS)}",
        )
    return [c for c in CONFIGS if c in chosen]  # canonical order


def split_names(values: Iterable[str]) -> dict[str, str]:
    """Map task.split values to split names `datasets` accepts (word characters and dots)."""
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    for value in sorted(set(values)):
        name = value if _SPLIT_NAME.match(value) else re.sub(r"\W+", "_", value).strip("_") or "train"
        if name in taken:
            raise InputError(
                f"task splits {taken[name]!r} and {value!r} both publish as split {name!r}",
                where="task.split",
                fix="rename one of them (split names may hold letters, digits, _ and .)",
            )
        taken[name] = value
        mapping[value] = name
    return mapping


def shard_name(config: str, split: str, index: int, count: int) -> str:
    return f"{config}/{split}-{index:05d}-of-{count:05d}.parquet"


def data_files_pattern(config: str, split: str) -> str:
    return f"{config}/{split}-*.parquet"


def write_data(
    dataset: Dataset,
    root: Path,
    configs: list[str],
    *,
    rows_per_shard: int = ROWS_PER_SHARD,
) -> Layout:
    """Write the Parquet shards of `configs` under `root`; returns the layout (no card yet).

    Streams the dataset batch by batch (memory bounded by a row group per output file).
    Splits come in order of first appearance, rows within a split in dataset order. Row
    groups are cut at fixed row counts, so the bytes depend on the rows only, not on how the
    dataset happens to be sharded (a compacted dataset publishes the same files).
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from trajkit.hub.configs import config_rows

    makers = config_rows(dataset, configs)
    counts: dict[str, int] = {}
    for path in dataset.shard_paths():
        column = pq.read_table(path, columns=["task"]).column("task")
        for value in pc.struct_field(column, "split").to_pylist():
            counts[value] = counts.get(value, 0) + 1
    names = split_names(counts)
    layout = Layout(root=root, configs=configs, splits={}, split_names=names)
    writers: dict[tuple[str, str], _SplitWriter] = {}
    for value, rows in counts.items():
        split = names[value]
        layout.splits[split] = rows
        count = max(1, -(-rows // rows_per_shard))
        for config in configs:
            paths = [shard_name(config, split, index, count) for index in range(count)]
            layout.data_files.setdefault(config, {})[split] = paths
            writers[(config, value)] = _SplitWriter(root, paths, rows_per_shard, makers[config])
    for table in _batches(dataset):
        split_column = pc.struct_field(table.column("task"), "split")
        for value in dict.fromkeys(split_column.to_pylist()):
            rows = table.filter(pc.equal(split_column, value))
            for config in configs:
                writers[(config, value)].add(rows)
    for writer in writers.values():
        writer.close()
    return layout


def _batches(dataset: Dataset, batch_size: int = ROWS_PER_ROW_GROUP):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trajkit.schema import arrow_schema

    schema = arrow_schema()
    for path in dataset.shard_paths():
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield pa.Table.from_batches([batch]).cast(schema)


class _SplitWriter:
    """Writes one config's rows of one split into its shard files, in fixed-size row groups."""

    def __init__(self, root: Path, paths: list[str], rows_per_shard: int, rows: ConfigRows):
        self.root, self.paths, self.rows_per_shard, self.rows = root, paths, rows_per_shard, rows
        self.index = 0  # current output file
        self.in_file = 0  # rows written to it
        self.pending: list = []  # tables not yet written
        self.pending_rows = 0
        self.writer = None

    def add(self, rows) -> None:
        self.pending.append(rows)
        self.pending_rows += rows.num_rows
        while self.pending_rows >= self._next_group():
            self._write_group(self._next_group())

    def close(self) -> None:
        while self.pending_rows:
            self._write_group(min(self.pending_rows, self._next_group()))
        self._finish_file()

    def _next_group(self) -> int:
        return min(ROWS_PER_ROW_GROUP, self.rows_per_shard - self.in_file)

    def _write_group(self, size: int) -> None:
        import pyarrow as pa

        table = pa.concat_tables(self.pending).combine_chunks()
        group, rest = table.slice(0, size), table.slice(size)
        self.pending, self.pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        if self.writer is None:
            self._open()
        out = self.rows.table(group)
        self.writer.write_table(out.combine_chunks(), row_group_size=size)
        self.in_file += size
        if self.in_file == self.rows_per_shard:
            self._finish_file()

    def _open(self) -> None:
        path = self.root / self.paths[self.index]
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = _parquet_writer(path, self.rows.schema())

    def _finish_file(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            self.index += 1
            self.in_file = 0


def _parquet_writer(path: Path, schema):
    import pyarrow.parquet as pq

    options = {"compression": "zstd", "write_page_index": True}
    try:
        # Content-defined pages let the Hub's storage deduplicate unchanged parts of a re-push.
        return pq.ParquetWriter(path, schema, use_content_defined_chunking=True, **options)
    except TypeError:  # pyarrow < 21
        return pq.ParquetWriter(path, schema, **options)
