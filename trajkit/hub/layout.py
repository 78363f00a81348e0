"""The Hub repository layout of a dataset: Parquet shards per config and split, card, charts.

    README.md                                   dataset card (YAML header declares the configs)
    assets/*.png                                charts shown by the card
    trajectories/{split}-00000-of-0000N.parquet the full nested trajectory schema
    sft/{split}-00000-of-0000N.parquet          chat `messages` with `tool_calls`, for TRL

This is the layout the Hub's dataset viewer and `datasets.load_dataset(repo_or_dir, config)`
read through the `configs` of the card. Every file is a pure function of the dataset's rows and
manifest (no timestamps of the moment, deterministic Parquet), so exporting or pushing the same
dataset twice yields byte-identical files: that is what makes re-pushes upload nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from trajkit.errors import InputError
from trajkit.store import Dataset

CONFIGS = ("trajectories", "sft")
DEFAULT_CONFIG = "trajectories"
CARD = "README.md"
ASSETS_DIR = "assets"
# Directories push owns in a repo: files there that the new layout lacks are stale and removed.
MANAGED_DIRS = (*CONFIGS, ASSETS_DIR)
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
    chosen = list(dict.fromkeys(configs or CONFIGS))
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
    """Write the Parquet shards of `configs` under `root`; returns the layout (no card yet)."""
    import pyarrow.compute as pc

    from trajkit.schema import arrow_schema

    table = dataset.to_arrow().cast(arrow_schema())
    split_column = pc.struct_field(table.column("task"), "split")
    values = split_column.to_pylist()
    names = split_names(values)
    # Splits in order of first appearance, rows within a split in dataset order.
    order = list(dict.fromkeys(values))
    layout = Layout(root=root, configs=configs, splits={}, split_names=names)
    for value in order:
        split = names[value]
        rows = table.filter(pc.equal(split_column, value))
        layout.splits[split] = rows.num_rows
        count = max(1, -(-rows.num_rows // rows_per_shard))
        for config in configs:
            paths = []
            for index in range(count):
                chunk = rows.slice(index * rows_per_shard, rows_per_shard)
                path = shard_name(config, split, index, count)
                out = chunk if config == "trajectories" else sft_table(chunk)
                _write_parquet(out, root / path)
                paths.append(path)
            layout.data_files.setdefault(config, {})[split] = paths
    return layout


def sft_schema():
    import pyarrow as pa

    # `arguments` is an object, the convention of Hugging Face chat templates (OpenAI's wire
    # format carries its JSON text instead); the only tool is python_interpreter(code).
    function = pa.struct([("name", pa.string()), ("arguments", pa.struct([("code", pa.string())]))])
    tool_call = pa.struct([("id", pa.string()), ("type", pa.string()), ("function", function)])
    message = pa.struct(
        [
            ("role", pa.string()),
            ("content", pa.string()),
            ("tool_calls", pa.list_(tool_call)),
            ("tool_call_id", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("trajectory_id", pa.string()),
            ("task_id", pa.string()),
            ("source", pa.string()),
            ("domain", pa.string()),
            ("messages", pa.list_(message)),
            ("tools", pa.string()),  # JSON text: TRL's SFTTrainer json-decodes a string `tools`
            ("final_answer", pa.string()),
            ("correct", pa.bool_()),
        ]
    )


def sft_rows(rows) -> list[dict]:
    """Chat examples (trajkit.interchange.to_messages) of an Arrow table of trajectories."""
    from trajkit.interchange import to_messages
    from trajkit.schema import Trajectory

    examples = []
    for row in rows.to_pylist():
        trajectory = Trajectory.model_validate(row)
        example = to_messages(trajectory)
        for message in example["messages"]:
            for call in message.get("tool_calls") or []:
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        example["tools"] = json.dumps(example["tools"], ensure_ascii=False, sort_keys=True)
        example["source"] = trajectory.task.source
        example["domain"] = trajectory.task.domain
        examples.append(example)
    return examples


def sft_table(rows):
    import pyarrow as pa

    return pa.Table.from_pylist(sft_rows(rows), schema=sft_schema())


def _write_parquet(table, path: Path) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    options = {
        "compression": "zstd",
        "row_group_size": max(1, min(table.num_rows, ROWS_PER_ROW_GROUP)),
        "write_page_index": True,
    }
    try:
        # Content-defined pages let the Hub's storage deduplicate unchanged parts of a re-push.
        pq.write_table(table, path, use_content_defined_chunking=True, **options)
    except TypeError:  # pyarrow < 21
        pq.write_table(table, path, **options)
