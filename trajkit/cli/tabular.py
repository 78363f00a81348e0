"""Writing query results to files (csv, jsonl, json, parquet), atomically."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from trajkit.errors import InputError

FORMATS = ("csv", "jsonl", "json", "parquet")


def write_table(table, *, format: str, output: Path | None) -> None:
    """Write an Arrow table as csv/jsonl/json/parquet to `output` (all but parquet may go to stdout).

    jsonl: one JSON object per line; json: one JSON array of objects."""
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}", fix=f"use one of: table, {', '.join(FORMATS)}")
    if output is None:
        if format == "parquet":
            raise InputError("parquet output needs --output FILE")
        sys.stdout.write(_render_text(table, format))
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        if format == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        else:
            tmp.write_text(_render_text(table, format), encoding="utf-8")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _render_text(table, format: str) -> str:
    import io
    import json

    if format == "jsonl":
        return "".join(json.dumps(row, default=str, ensure_ascii=False) + "\n" for row in table.to_pylist())
    if format == "json":
        return json.dumps(table.to_pylist(), default=str, ensure_ascii=False, indent=1) + "\n"
    import pyarrow as pa
    import pyarrow.csv as pacsv

    flat = pa.table(
        {
            name: _csv_safe(table.column(name))
            for name in table.column_names
        }
    )
    buffer = io.BytesIO()
    pacsv.write_csv(flat, buffer)
    return buffer.getvalue().decode("utf-8")


def _csv_safe(column):
    """Nested columns become JSON text so CSV can hold them."""
    import json

    import pyarrow as pa

    if pa.types.is_nested(column.type):
        return pa.array([None if v is None else json.dumps(v, default=str) for v in column.to_pylist()], type=pa.string())
    return column
