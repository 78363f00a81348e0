"""Column-wise validation of whole Arrow tables against the trajectory schema.

Validating row by row through pydantic costs more than writing Parquet, so tables are
checked vectorised instead, with the same rules the models enforce: exact storage types,
required fields present and non-null (at every nesting level), closed vocabularies, JSON
text fields that parse, unique non-empty ids and the current schema version. Every row is
checked; the first violation names the field and the row.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel

from trajkit.errors import SchemaError
from trajkit.schema import ALLOWED_VALUES, SCHEMA_VERSION, Trajectory, arrow_schema

JSON_FIELDS = ("task.metadata", "steps.tool_calls.arguments", "outcome.grader_detail")
NON_EMPTY = ("trajectory_id", "task.task_id", "task.question")


def validate_table(table, *, where: str, check_types: bool = True):
    """Return `table` in the exact storage schema, or raise SchemaError."""
    if check_types:
        table = _conform(table, where)
    _check_required(table, where)
    _check_vocabularies(table, where)
    _check_ids(table, where)
    _check_version_column(table, where)
    _check_json_fields(table, where)
    return table


def _conform(table, where: str):
    import pyarrow as pa

    schema = arrow_schema()
    names = set(table.schema.names)
    missing = [f.name for f in schema if f.name not in names and not f.nullable]
    if missing:
        raise SchemaError(
            f"missing required column(s) {', '.join(missing)}",
            where=where,
            fix="the data is not in trajkit's trajectory schema (see schemas/)",
        )
    unknown = sorted(names - set(schema.names))
    if unknown:
        raise SchemaError(
            f"unknown column(s) {', '.join(unknown)}",
            where=where,
            fix="remove them or upgrade trajkit if the data comes from a newer version",
        )
    columns = []
    for field in schema:
        if field.name in names:
            column = table.column(field.name)
            if column.type != field.type:
                try:
                    column = column.cast(field.type, safe=True)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                    raise SchemaError(
                        f"column {field.name} has type {column.type}, expected {field.type} ({exc})",
                        where=where,
                        fix="write rows through trajkit.schema.Trajectory or match schemas/",
                    ) from None
        else:
            column = pa.nulls(table.num_rows, field.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _required_paths(model: type[BaseModel], prefix: str = "") -> list[tuple[str, bool]]:
    """(dotted path, is_list_step) for every non-optional field, recursively."""
    paths = []
    hints = typing.get_type_hints(model, include_extras=True)
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = hints[name]
        optional = _optional(annotation)
        if not optional:
            paths.append(path)
        inner = _inner_model(annotation)
        if inner is not None:
            paths.extend(_required_paths(inner, prefix=f"{path}."))
        del info
    return paths


def _optional(annotation: Any) -> bool:
    import types

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _optional(typing.get_args(annotation)[0])
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)


def _inner_model(annotation: Any):
    import types

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated or origin in (typing.Union, types.UnionType) or origin is list:
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


_REQUIRED = None


def _required() -> list[str]:
    global _REQUIRED
    if _REQUIRED is None:
        _REQUIRED = _required_paths(Trajectory)
    return _REQUIRED


def leaf_values(table, path: str):
    """The values at a dotted path, descending into structs and flattening lists.

    Values under a null parent are dropped (a missing optional struct has no children).
    Returns (array, row_index_array) so errors can name the trajectory row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = path.split(".")
    column = table.column(parts[0]).combine_chunks()
    rows = pa.array(range(table.num_rows), type=pa.int64())
    for part in parts[1:]:
        if pa.types.is_list(column.type):
            parents = pc.list_parent_indices(column)
            column = pc.list_flatten(column)
            rows = pc.take(rows, parents)
        valid = pc.is_valid(column)
        column = column.filter(valid)
        rows = rows.filter(valid)
        column = pc.struct_field(column, part)
    if pa.types.is_list(column.type):
        pass  # a required list must be non-null; its items are checked via their own paths
    return column, rows


def _check_required(table, where: str) -> None:
    import pyarrow.compute as pc

    for path in _required():
        values, rows = leaf_values(table, path)
        if values.null_count:
            first = pc.index(pc.is_null(values), True).as_py()
            raise SchemaError(
                f"required field {path} is null",
                where=f"{where}, row {rows[first].as_py()}",
                fix="fill the field (see schemas/ for the schema)",
            )
    for path in NON_EMPTY:
        values, rows = leaf_values(table, path)
        empty = pc.equal(pc.utf8_length(values), 0)
        if pc.any(empty).as_py():
            first = pc.index(empty, True).as_py()
            raise SchemaError(f"field {path} is empty", where=f"{where}, row {rows[first].as_py()}")


def _check_vocabularies(table, where: str) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    for path, allowed in ALLOWED_VALUES.items():
        values, rows = leaf_values(table, path)
        bad = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=pa.array(allowed))))
        if pc.any(bad).as_py():
            first = pc.index(bad, True).as_py()
            raise SchemaError(
                f"field {path} has value {values[first].as_py()!r}; allowed: {', '.join(allowed)}",
                where=f"{where}, row {rows[first].as_py()}",
            )


def _check_ids(table, where: str) -> None:
    import pyarrow.compute as pc

    ids = table.column("trajectory_id")
    if pc.count_distinct(ids).as_py() != table.num_rows:
        counts = pc.value_counts(ids)
        duplicate = next(v["values"] for v in counts.to_pylist() if v["counts"] > 1)
        raise SchemaError(
            f"trajectory id {duplicate!r} appears more than once",
            where=where,
            fix="each trajectory needs a unique id (task, provenance fingerprint, sample index)",
        )


def _check_version_column(table, where: str) -> None:
    import pyarrow.compute as pc

    versions = table.column("schema_version")
    wrong = pc.not_equal(versions, SCHEMA_VERSION)
    if pc.any(wrong).as_py():
        first = pc.index(wrong, True).as_py()
        raise SchemaError(
            f"row has schema_version {versions[first].as_py()}, this trajkit writes v{SCHEMA_VERSION}",
            where=f"{where}, row {first}",
            fix="upgrade the rows first (trajkit.schema.upgrade_row)",
        )


def _check_json_fields(table, where: str) -> None:
    import pyarrow.compute as pc

    for path in JSON_FIELDS:
        values, rows = leaf_values(table, path)
        distinct = pc.unique(values.drop_null())
        for text in distinct.to_pylist():
            try:
                json.loads(text)
            except ValueError:
                position = pc.index(values, text).as_py()
                raise SchemaError(
                    f"field {path} is not JSON text: {text[:60]!r}",
                    where=f"{where}, row {rows[position].as_py()}",
                ) from None


def validate_dataset(dataset) -> int:
    """Check every shard of a dataset; returns the number of rows checked."""
    from trajkit.errors import DatasetError
    from trajkit.store import _read_shard

    total = 0
    seen: set[str] = set()
    for info, path in zip(dataset.manifest.shards, dataset.shard_paths(), strict=True):
        table = validate_table(_read_shard(path), where=str(path))
        if table.num_rows != info.rows:
            raise DatasetError(
                f"shard holds {table.num_rows} rows, the manifest says {info.rows}",
                where=str(path),
                fix="the manifest or the shard was edited by hand; restore it",
            )
        ids = set(table.column("trajectory_id").to_pylist())
        if seen & ids:
            raise DatasetError(f"trajectory {sorted(seen & ids)[0]} is stored twice", where=str(path))
        seen |= ids
        total += table.num_rows
    return total
