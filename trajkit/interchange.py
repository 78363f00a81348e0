"""Interchange: JSONL files in and out.

JSONL holds one trajectory per line in the storage schema (the same JSON the published
JSON Schema describes). Reading is strict: the first bad line stops the import with its
line number, and nothing is written. `write_messages_jsonl` writes the OpenAI tool-calling
rendering instead (`trajkit.agent.tool_calls.tool_call_messages`, `trajkit dump -f messages`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from trajkit.errors import InputError, SchemaError
from trajkit.schema import Trajectory, upgrade_row


def read_jsonl(path: str | Path) -> Iterator[Trajectory]:
    """Validated trajectories from a JSONL file; errors name the line and the field."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", where=str(path), fix="check the path")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"not UTF-8 text (byte {exc.start})", where=where, fix="re-encode the file as UTF-8"
                ) from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InputError(f"malformed JSON ({exc.msg} at column {exc.colno})", where=where) from None
            if not isinstance(row, dict):
                raise SchemaError("each line must be a JSON object (one trajectory)", where=where)
            yield _validate(row, where)


def _validate(row: dict, where: str) -> Trajectory:
    row = upgrade_row(dict(row)) if "schema_version" in row else row
    try:
        return Trajectory.model_validate(row)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "(row)"
        raise SchemaError(
            f"field {field}: {error['msg']}",
            where=where,
            fix="see schemas/ for the trajectory schema",
        ) from None


def write_jsonl(trajectories: Iterable[Trajectory], path: str | Path) -> int:
    """Write trajectories as JSONL atomically; returns the count."""
    return _write_lines((t.model_dump_json() for t in trajectories), Path(path))


def write_messages_jsonl(trajectories: Iterable[Trajectory], path: str | Path) -> int:
    """Write trajectories as OpenAI-style tool-call chats, one a line, atomically; returns the count."""
    from trajkit.agent.tool_calls import tool_call_messages

    lines = (json.dumps(tool_call_messages(t), ensure_ascii=False) for t in trajectories)
    return _write_lines(lines, Path(path))


def _write_lines(lines: Iterable[str], path: Path) -> int:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
                count += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count
