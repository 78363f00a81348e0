"""Column-wise validation of whole Arrow tables against the trajectory schema.

Validating row by row through pydantic costs more than writing Parquet, so tables are
checked vectorised instead, with the same rules the models enforce: exact storage types,
required fields present and non-null (at every nesting level), closed vocabularies, JSON
text fields that parse, unique non-empty ids and the current schema version. Every row is
checked; the first violation names the field and the row.

`validate_table` checks a table; `rows_as_table` turns what a writer is given (a table, or
trajectories) into a checked table; `validate_dataset` checks every shard of a dataset.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError

from trajkit.errors import DatasetError, SchemaError
from trajkit.manifest import Manifest
from trajkit.schema import ALLOWED_VALUES, SCHEMA_VERSION, Trajectory, arrow_schema
from trajkit.shards import read_shard

if TYPE_CHECKING:
    import pyarrow as pa

JSON_FIELDS = ("task.metadata", "steps.tool_calls.arguments", "outcome.grader_detail")
NON_EMPTY = ("trajectory_id", "task.task_id", "task.question")


def validate_table(table, *, where: str, check_types: bool = True):
    """Return `table` in the exact storage schema, or raise SchemaError."""
    if check_types:
        table = _conform(table, where)
    columns = _Columns(table)
    _check_required(table, where, columns)
    _check_vocabularies(table, where, columns)
    _check_ids(table, where)
    _check_version_column(table, where)
    _check_json_fields(table, where, columns)
    return table


def rows_as_table(rows: Iterable[Trajectory] | Any) -> pa.Table:
    """Rows (an Arrow table, or trajectories / their dicts) as a validated table in the storage schema."""
    import pyarrow as pa

    if isinstance(rows, pa.Table):
        return validate_table(rows, where="rows")
    records = []
    for position, row in enumerate(rows):
        if not isinstance(row, Trajectory):
            try:
                row = Trajectory.model_validate(row)
            except ValidationError as exc:
                raise SchemaError(first_error(exc), where=f"row {position}") from None
        records.append(row.model_dump())
    table = pa.Table.from_pylist(records, schema=arrow_schema())
    return validate_table(table, where="rows", check_types=False)


def first_error(exc: ValidationError) -> str:
    """The first problem of a pydantic ValidationError in one line: field, message, how many more."""
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field {field}: {error['msg']}{more}"


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


class _Columns:
    """Values at dotted paths of a table, descending into structs and flattening lists.

    Each intermediate level is computed once and shared by every path below it. A struct
    child carries its parent's nulls (pyarrow's struct_field does this), so "null where the
    parent is present" is simply more nulls in the child than in the parent. Row numbers
    are only worked out when an error has to be reported.
    """

    def __init__(self, table):
        self.table = table
        self._cache: dict[str, object] = {}

    def get(self, path: str):
        if path in self._cache:
            return self._cache[path]
        import pyarrow.compute as pc

        parent_path, _, name = path.rpartition(".")
        if not parent_path:
            values = self.table.column(name).combine_chunks()
        else:
            values = pc.struct_field(self.container(parent_path), name)
        self._cache[path] = values
        return values

    def container(self, path: str):
        """The struct array whose children live under `path` (lists are flattened)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        key = f"{path}[]"
        if key not in self._cache:
            values = self.get(path)
            self._cache[key] = pc.list_flatten(values) if pa.types.is_list(values.type) else values
        return self._cache[key]

    def parent_nulls(self, path: str) -> int:
        parent_path = path.rpartition(".")[0]
        return self.container(parent_path).null_count if parent_path else 0

    def rows(self, path: str):
        """For each value at `path`, the index of its trajectory row."""
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = path.split(".")
        column = self.table.column(parts[0]).combine_chunks()
        rows = pa.array(range(self.table.num_rows), type=pa.int64())
        for part in parts[1:]:
            if pa.types.is_list(column.type):
                rows = pc.take(rows, pc.list_parent_indices(column))
                column = pc.list_flatten(column)
            column = pc.struct_field(column, part)
        return rows


def leaf_values(table, path: str):
    """(values at a dotted path, the trajectory row index of each value)."""
    columns = _Columns(table)
    return columns.get(path), columns.rows(path)


def _check_required(table, where: str, columns: _Columns | None = None) -> None:
    import pyarrow.compute as pc

    columns = columns or _Columns(table)
    for path in _required():
        values = columns.get(path)
        if values.null_count > columns.parent_nulls(path):
            parent_path = path.rpartition(".")[0]
            present = pc.is_valid(columns.container(parent_path)) if parent_path else None
            missing = pc.is_null(values) if present is None else pc.and_(pc.is_null(values), present)
            first = pc.index(missing, True).as_py()
            raise SchemaError(
                f"required field {path} is null",
                where=f"{where}, row {columns.rows(path)[first].as_py()}",
                fix="fill the field (see schemas/ for the schema)",
            )
    for path in NON_EMPTY:
        values = columns.get(path)
        empty = pc.equal(pc.utf8_length(values), 0)
        if pc.any(empty).as_py():
            first = pc.index(empty, True).as_py()
            raise SchemaError(f"field {path} is empty", where=f"{where}, row {columns.rows(path)[first].as_py()}")


def _check_vocabularies(table, where: str, columns: _Columns) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    for path, allowed in ALLOWED_VALUES.items():
        values = columns.get(path)
        bad = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=pa.array(allowed))))
        if pc.any(bad).as_py():
            first = pc.index(bad, True).as_py()
            raise SchemaError(
                f"field {path} has value {values[first].as_py()!r}; allowed: {', '.join(allowed)}",
                where=f"{where}, row {columns.rows(path)[first].as_py()}",
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


def _check_json_fields(table, where: str, columns: _Columns) -> None:
    """Every JSON text field parses (checked vectorised by DuckDB's json_valid)."""
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    con = duckdb.connect()
    try:
        for path in JSON_FIELDS:
            values = columns.get(path)
            if len(values) == values.null_count:
                continue
            con.register("json_values", pa.table({"v": values}))
            bad = con.sql(
                "SELECT v FROM json_values WHERE v IS NOT NULL AND NOT json_valid(v) LIMIT 1"
            ).fetchall()
            con.unregister("json_values")
            if bad:
                text = bad[0][0]
                position = pc.index(values, text).as_py()
                raise SchemaError(
                    f"field {path} is not JSON text: {text[:60]!r}",
                    where=f"{where}, row {columns.rows(path)[position].as_py()}",
                )
    finally:
        con.close()


class StoredDataset(Protocol):
    """What `validate_dataset` reads of a dataset (a `trajkit.store.Dataset`)."""

    manifest: Manifest

    def shard_paths(self) -> list[Path]: ...


def validate_dataset(dataset: StoredDataset) -> int:
    """Check every shard of a dataset; returns the number of rows checked."""
    total = 0
    seen: set[str] = set()
    for info, path in zip(dataset.manifest.shards, dataset.shard_paths(), strict=True):
        table = validate_table(read_shard(path), where=str(path))
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
