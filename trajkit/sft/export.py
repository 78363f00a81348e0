"""`trajkit sft export`: training examples to a file, for TRL or for other trainers.

- `tokens`: `input_ids` + `assistant_masks` (TRL's SFTTrainer takes these columns as they are:
  `datasets.load_dataset("parquet", data_files=OUT)` and pass it as `train_dataset`), plus
  `trajectory_id`, `weight`, `num_tokens`, `num_loss_tokens`, `dropped_steps`;
- `messages`: plain chat `messages` (+ `tools`, `loss_spans`, `weight`), see
  `trajkit.sft.convert.messages_record`.

The file is `.parquet` or `.jsonl` by its extension, written to a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from trajkit.errors import InputError
from trajkit.sft.convert import Example, messages_record, tokens_record

ExportFormat = Literal["tokens", "messages"]


def write_examples(examples: Iterable[Example], out: str | Path, fmt: ExportFormat) -> int:
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".jsonl", ".parquet"):
        raise InputError("the output file must end in .jsonl or .parquet", where=str(out))
    to_record = tokens_record if fmt == "tokens" else messages_record
    records = [to_record(e) for e in examples]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}.{uuid.uuid4().hex[:6]}")
    try:
        if suffix == ".jsonl":
            with tmp.open("w", encoding="utf-8") as handle:
                for record in records:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            _write_parquet(records, tmp, fmt)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return len(records)


def _write_parquet(records: list[dict], path: Path, fmt: ExportFormat) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "tokens":
        schema = pa.schema([
            ("trajectory_id", pa.string()),
            ("input_ids", pa.list_(pa.int32())),
            ("assistant_masks", pa.list_(pa.int8())),
            ("weight", pa.float64()),
            ("num_tokens", pa.int32()),
            ("num_loss_tokens", pa.int32()),
            ("dropped_steps", pa.int32()),
        ])
        table = pa.Table.from_pylist(records, schema=schema)
    else:
        # tools are the same for every row: JSON text keeps the column one simple type
        rows = [{**r, "tools": json.dumps(r["tools"])} for r in records]
        table = pa.Table.from_pylist(rows)
    pq.write_table(table, path, compression="zstd")
