"""Fast generation of many synthetic trajectory rows directly as Arrow (for benchmarks).

Builds columns with numpy instead of one pydantic object per row, so a million trajectories
take seconds. Every field of the storage schema is present; unused ones are null.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from trajkit.schema import SCHEMA_VERSION, arrow_schema

ERROR_TYPES = np.array(["parse_error", "execution_error", "timeout", "tool_error"])
STATUSES = np.array(["answered", "answered", "answered", "max_steps", "teacher_error"])
SOURCES = np.array(["hotpotqa", "musique", "math_500", "gsm_hard", "synthetic"])


def _strings(prefix: str, values: np.ndarray) -> pa.Array:
    return pa.array(np.char.add(prefix, values.astype(str)).astype(object), type=pa.string())


def _default(arrow_type: pa.DataType, n: int) -> pa.Array:
    if pa.types.is_list(arrow_type):
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.nulls(0, arrow_type.value_type))
    if pa.types.is_string(arrow_type):
        return pa.array(np.full(n, "").astype(object), type=arrow_type)
    if pa.types.is_boolean(arrow_type):
        return pa.array(np.zeros(n, dtype=bool))
    return pa.array(np.zeros(n), type=pa.float64()).cast(arrow_type)


def _build(arrow_type: pa.DataType, n: int, provided: dict, path: str) -> pa.Array:
    """An array of `arrow_type` and length n: provided[path] where given, else a default for
    required fields and nulls for optional ones."""
    if path in provided:
        value = provided[path]
        return value if isinstance(value, pa.Array) else pa.array(value, type=arrow_type)
    if pa.types.is_struct(arrow_type):
        children = [_build(f.type, n, provided, f"{path}.{f.name}") for f in arrow_type]
        return pa.StructArray.from_arrays(children, fields=list(arrow_type))
    if path in _required():
        return _default(arrow_type, n)
    return pa.nulls(n, arrow_type)


def _required() -> set[str]:
    from trajkit.validate import _required as required_paths

    return set(required_paths())


def _list_of_structs(struct_type: pa.StructType, offsets: np.ndarray, provided: dict, path: str) -> pa.Array:
    child_n = int(offsets[-1])
    provided = {f"{path}.{key}": value for key, value in provided.items()}
    child = _build(struct_type, child_n, provided, path)
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), child)


def synthetic_table(n: int, *, seed: int, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    schema = arrow_schema()
    step_type = schema.field("steps").type.value_type
    ids = np.arange(start, start + n)
    n_steps = rng.integers(1, 10, size=n)  # mean 5
    step_offsets = np.concatenate([[0], np.cumsum(n_steps)])
    total_steps = int(step_offsets[-1])

    step_idx = np.arange(total_steps) - np.repeat(step_offsets[:-1], n_steps)
    has_error = rng.random(total_steps) < 0.15
    error_type = np.where(has_error, ERROR_TYPES[rng.integers(0, 4, total_steps)], None)
    calls_per_step = (rng.random(total_steps) < 0.7).astype(np.int64)
    call_offsets = np.concatenate([[0], np.cumsum(calls_per_step)])
    total_calls = int(call_offsets[-1])
    call_ids = np.arange(total_calls)
    tool_call_type = step_type.field("tool_calls").type.value_type
    tool_calls = _list_of_structs(
        tool_call_type,
        call_offsets,
        {
            "name": pa.array(np.where(call_ids % 3 == 0, "python_interpreter", "search").astype(object)),
            "arguments": pa.array([json.dumps({"query": f"q{i}"}) for i in call_ids]),
            "output": _strings("result ", call_ids),
            "latency_ms": pa.array(rng.random(total_calls) * 20),
            "retrieved": pa.ListArray.from_arrays(
                pa.array(np.zeros(total_calls + 1, dtype=np.int32)),
                pa.nulls(0, tool_call_type.field("retrieved").type.value_type),
            ),
        },
        "steps.tool_calls",
    )
    step_provided = {
        "index": pa.array(step_idx),
        "thought": _strings("I should look up fact ", np.arange(total_steps) % 1000),
        "code": _strings("r = search('entity ", np.arange(total_steps) % 5000),
        "observation": _strings("Observation text for ", np.arange(total_steps) % 2000),
        "raw_output": _strings("Thought: raw ", np.arange(total_steps) % 100),
        "error": pa.StructArray.from_arrays(
            [
                pa.array(error_type.astype(object), type=pa.string()),
                pa.array(np.where(has_error, "boom", None).astype(object), type=pa.string()),
                pa.nulls(total_steps, pa.string()),
                pa.nulls(total_steps, pa.int64()),
            ],
            fields=list(step_type.field("error").type),
            mask=pa.array(~has_error),
        ),
        "tool_calls": tool_calls,
        "prompt_tokens": pa.array(rng.integers(200, 2000, total_steps)),
        "completion_tokens": pa.array(rng.integers(20, 300, total_steps)),
        "latency_ms": pa.array(rng.random(total_steps) * 900),
        "candidates": pa.ListArray.from_arrays(
            pa.array(np.zeros(total_steps + 1, dtype=np.int32)), pa.nulls(0, step_type.field("candidates").type.value_type)
        ),
        "train": pa.array(np.ones(total_steps, dtype=bool)),
    }
    steps = _list_of_structs(step_type, step_offsets, step_provided, "steps")
    status = STATUSES[rng.integers(0, len(STATUSES), n)]
    source = SOURCES[ids % len(SOURCES)]
    provided = {
        "schema_version": pa.array(np.full(n, SCHEMA_VERSION)),
        "trajectory_id": _strings("traj-", ids),
        "sample_index": pa.array(np.zeros(n, dtype=np.int64)),
        "task.task_id": _strings("task-", ids // 2),
        "task.source": pa.array(source.astype(object)),
        "task.split": pa.array(np.full(n, "train").astype(object)),
        "task.domain": pa.array(np.where(np.isin(source, ["math_500", "gsm_hard"]), "math", "qa").astype(object)),
        "task.question": _strings("What is the founding year of entity ", ids),
        "task.gold_answer": _strings("", ids % 3000),
        "task.gold_aliases": pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.string())),
        "task.metadata": pa.array(np.full(n, "{}").astype(object)),
        "provenance.kind": pa.array(np.full(n, "teacher").astype(object)),
        "provenance.backend": pa.array(np.full(n, "vllm").astype(object)),
        "provenance.model": pa.array(np.full(n, "Qwen2.5-32B-Instruct").astype(object)),
        "provenance.fingerprint": pa.array(np.full(n, "fp0").astype(object)),
        "provenance.sag_n": pa.array(np.ones(n, dtype=np.int64)),
        "steps": steps,
        "outcome.status": pa.array(status.astype(object)),
        "outcome.final_answer": _strings("", (ids * 7) % 3000),
        "outcome.correct": pa.array(rng.random(n) < 0.55),
        "usage.total_tokens": pa.array(rng.integers(500, 8000, n)),
        "usage.steps": pa.array(n_steps.astype(np.int64)),
        "review": pa.nulls(n, schema.field("review").type),
        "created_at": pa.array(np.full(n, np.datetime64("2026-11-22T00:00:00", "us")), type=pa.timestamp("us", tz="UTC")),
    }
    columns = [_build(field.type, n, provided, field.name) for field in schema]
    return pa.Table.from_arrays(columns, schema=schema)
