"""The published JSON Schema files in `schemas/` (one per schema version)."""

from __future__ import annotations

import json
from pathlib import Path

from trajkit.errors import SchemaError
from trajkit.schema import json_schema, json_schema_filename


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_schema(directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / json_schema_filename()
    path.write_text(schema_text(), encoding="utf-8")
    return path


def check_schema(directory: str | Path) -> None:
    path = Path(directory) / json_schema_filename()
    if not path.is_file() or path.read_text(encoding="utf-8") != schema_text():
        raise SchemaError(
            "the published JSON Schema is stale or missing",
            where=str(path),
            fix="run: trajkit schema export schemas (and bump SCHEMA_VERSION if the change breaks readers)",
        )
