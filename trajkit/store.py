"""Dataset directories: manifest, atomic append-only Parquet shards, validation, lineage.

    my-dataset/
      trajkit.json     manifest: schema version, fingerprint, counts, shard list, lineage
      recipe.yaml      the recipe that built it (secrets removed), when there is one
      data/*.parquet   append-only shards

Commit protocol. A shard is written to a hidden temporary name (`data/.tmp-*.partial`), flushed to
disk, then renamed to `data/part-*.parquet`: the rename is the commit. The manifest is
rewritten (also temp + rename) after each commit, but the shard files are the truth: a
committed shard the manifest does not list yet (the writer was killed between the two
renames) is verified and adopted on open; temporary files are ignored by every reader and
removed on the next write. A killed writer therefore never leaves a torn shard, a
half-counted shard, or a duplicate.

A dataset is plain Parquet: `pyarrow`, `polars`, `duckdb` and `datasets` read `data/*.parquet`
without trajkit.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from trajkit import __version__
from trajkit.errors import DatasetError, SchemaError
from trajkit.schema import (
    PARQUET_VERSION_KEY,
    SCHEMA_VERSION,
    Trajectory,
    arrow_schema,
    check_version,
    stable_hash,
)
from trajkit.validate import validate_table

MANIFEST = "trajkit.json"
RECIPE = "recipe.yaml"
DATA_DIR = "data"
TMP_PREFIX = ".tmp-"
FORMAT = "trajkit-dataset"


class ShardInfo(BaseModel):
    path: str  # relative to the dataset directory
    rows: int
    steps: int
    bytes: int


class ParentRef(BaseModel):
    path: str
    name: str
    fingerprint: str
    rows: int


class Lineage(BaseModel):
    """How a derived dataset was made from its parents."""

    operation: str  # filter, grade, review_pull, dedup, compact, import, ...
    parents: list[ParentRef] = Field(default_factory=list)
    sql: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    trajkit_version: str = __version__


class Manifest(BaseModel):
    format: str = FORMAT
    schema_version: int = SCHEMA_VERSION
    trajkit_version: str = __version__
    name: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    rows: int = 0
    steps: int = 0
    shards: list[ShardInfo] = Field(default_factory=list)
    provenance_fingerprints: list[str] = Field(default_factory=list)
    recipe_hash: str | None = None
    lineage: list[Lineage] = Field(default_factory=list)
    retired_shards: list[str] = Field(default_factory=list)  # replaced by a rewrite; removed on sight
    info: dict[str, Any] = Field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Identifies the content: which shards with how many rows, under which provenance."""
        return stable_hash(
            [sorted((s.path, s.rows) for s in self.shards), sorted(self.provenance_fingerprints)]
        )


class Dataset:
    """A trajkit dataset directory."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest
        self._ids: set[str] | None = None  # loaded on first use, kept current on commit

    # ------------------------------------------------------------------ open / create

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        recipe: dict | None = None,
        lineage: Lineage | None = None,
        info: dict | None = None,
        exist_ok: bool = False,
    ) -> Dataset:
        """Create an empty dataset directory, or open the existing one when `exist_ok`."""
        path = Path(path)
        if (path / MANIFEST).exists():
            if exist_ok:
                return cls.open(path)
            raise DatasetError(
                "a dataset already exists here",
                where=str(path),
                fix="choose another output path or remove it first",
            )
        if path.exists() and any(path.iterdir()):
            raise DatasetError(
                "the directory exists and is not empty (and is not a trajkit dataset)",
                where=str(path),
                fix="choose a new or empty directory",
            )
        (path / DATA_DIR).mkdir(parents=True, exist_ok=True)
        manifest = Manifest(
            name=name or path.resolve().name,
            lineage=[lineage] if lineage else [],
            info=info or {},
        )
        if recipe is not None:
            manifest.recipe_hash = write_recipe(path, recipe)
        dataset = cls(path, manifest)
        dataset._save_manifest()
        return dataset

    @classmethod
    def open(cls, path: str | Path) -> Dataset:
        path = Path(path)
        if not path.exists():
            raise DatasetError("no such dataset", where=str(path), fix="check the path")
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise DatasetError(
                f"not a trajkit dataset (no {MANIFEST})",
                where=str(path),
                fix="pass a dataset directory made by trajkit, or import the data first (trajkit import)",
            )
        manifest = _read_manifest(manifest_path)
        dataset = cls(path, manifest)
        dataset._reconcile()
        return dataset

    # ------------------------------------------------------------------------ reading

    @property
    def name(self) -> str:
        return self.manifest.name

    def __len__(self) -> int:
        return self.manifest.rows

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r}, rows={len(self)}, shards={len(self.manifest.shards)})"

    def shard_paths(self) -> list[Path]:
        return [self.path / s.path for s in self.manifest.shards]

    def to_arrow(self, columns: list[str] | None = None):
        import pyarrow as pa

        tables = [
            _read_shard(p, columns=columns) if columns else _read_shard(p)
            for p in self.shard_paths()
        ]
        if not tables:
            schema = arrow_schema()
            if columns:
                schema = pa.schema([schema.field(c) for c in columns])
            return schema.empty_table()
        return pa.concat_tables(tables)

    def to_polars(self):
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    def trajectories(self, batch_size: int = 1024) -> Iterator[Trajectory]:
        """Every trajectory, validated, shard by shard (bounded memory)."""
        import pyarrow.parquet as pq

        for shard in self.shard_paths():
            parquet = pq.ParquetFile(shard)
            for batch in parquet.iter_batches(batch_size=batch_size):
                for row in batch.to_pylist():
                    yield Trajectory.model_validate(row)

    def trajectory_ids(self) -> set[str]:
        if self._ids is None:
            self._ids = set()
            if self.manifest.shards:
                self._ids = set(self.to_arrow(columns=["trajectory_id"]).column(0).to_pylist())
        return set(self._ids)

    def get(self, trajectory_id: str) -> Trajectory:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        for shard in self.shard_paths():
            table = pq.read_table(shard, filters=pc.field("trajectory_id") == trajectory_id)
            if table.num_rows:
                return Trajectory.model_validate(table.to_pylist()[0])
        raise DatasetError(
            f"no trajectory with id {trajectory_id!r}",
            where=str(self.path),
            fix="list ids with: trajkit sql DATASET \"SELECT trajectory_id FROM trajectories\"",
        )

    def recipe(self) -> dict | None:
        path = self.path / RECIPE
        if not path.is_file():
            return None
        import yaml

        return yaml.safe_load(path.read_text())

    # ------------------------------------------------------------------------ writing

    def append(self, rows: Iterable[Trajectory] | Any) -> int:
        """Validate and commit rows as one new shard. Returns the number of rows written.

        `rows` is an iterable of `Trajectory` or an Arrow table in the storage schema.
        Ids already in the dataset (or repeated within `rows`) are an error: use
        `append_new` to skip them instead.
        """
        table = _as_table(rows)
        if table.num_rows == 0:
            return 0
        ids = table.column("trajectory_id").to_pylist()
        clashes = self.trajectory_ids().intersection(ids)
        if clashes:
            raise DatasetError(
                f"{len(clashes)} trajectory ids already in the dataset, e.g. {sorted(clashes)[0]}",
                where=str(self.path),
                fix="trajectories are append-only; write to a new dataset or skip existing ids",
            )
        self._commit_shard(table)
        return table.num_rows

    def append_new(self, rows: Iterable[Trajectory] | Any) -> int:
        """Like `append`, but silently skip trajectories whose id is already stored."""
        import pyarrow.compute as pc

        table = _as_table(rows)
        self.trajectory_ids()  # loads the id cache once; then each commit costs O(its rows)
        stored = [i for i in table.column("trajectory_id").to_pylist() if i in self._ids]
        if stored:
            keep = pc.invert(pc.is_in(table.column("trajectory_id"), value_set=_string_array(stored)))
            table = table.filter(keep)
        if table.num_rows == 0:
            return 0
        self._commit_shard(table)
        return table.num_rows

    def writer(self, *, rows_per_shard: int = 256) -> ShardWriter:
        return ShardWriter(self, rows_per_shard=rows_per_shard)

    def _commit_shard(self, table) -> ShardInfo:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        data_dir = self.path / DATA_DIR
        data_dir.mkdir(parents=True, exist_ok=True)
        _remove_temporaries(data_dir)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = data_dir / f"{TMP_PREFIX}{name}.partial"
        try:
            pq.write_table(table, tmp, compression="zstd", row_group_size=_row_group_size(table))
            _fsync(tmp)
            os.rename(tmp, data_dir / name)  # the commit point
        finally:
            if tmp.exists():
                tmp.unlink()
        _fsync_dir(data_dir)
        steps = int(pc.sum(pc.list_value_length(table.column("steps"))).as_py() or 0)
        info = ShardInfo(
            path=f"{DATA_DIR}/{name}", rows=table.num_rows, steps=steps, bytes=(data_dir / name).stat().st_size
        )
        self._record_shard(info, table)
        return info

    def _record_shard(self, info: ShardInfo, table) -> None:
        import pyarrow.compute as pc

        if self._ids is not None:
            self._ids.update(table.column("trajectory_id").to_pylist())
        self.manifest.shards.append(info)
        self.manifest.rows += info.rows
        self.manifest.steps += info.steps
        fingerprints = pc.unique(pc.struct_field(table.column("provenance"), "fingerprint"))
        known = set(self.manifest.provenance_fingerprints)
        self.manifest.provenance_fingerprints += [f for f in fingerprints.to_pylist() if f not in known]
        self.manifest.updated_at = datetime.now(UTC)
        self._save_manifest()

    def _save_manifest(self) -> None:
        _atomic_write_text(self.path / MANIFEST, self.manifest.model_dump_json(indent=2))

    def _reconcile(self) -> None:
        """Adopt committed shards the manifest does not list yet; refuse missing ones."""
        listed = {s.path for s in self.manifest.shards}
        data_dir = self.path / DATA_DIR
        for shard in self.manifest.shards:
            if not (self.path / shard.path).is_file():
                raise DatasetError(
                    f"shard {shard.path} listed in the manifest is missing",
                    where=str(self.path),
                    fix="restore the file, or rebuild the dataset from its source",
                )
        on_disk = sorted(data_dir.glob("*.parquet")) if data_dir.is_dir() else []
        orphans = [
            p for p in on_disk if f"{DATA_DIR}/{p.name}" not in listed and not p.name.startswith(TMP_PREFIX)
        ]
        retired = set(self.manifest.retired_shards)
        for orphan in orphans:
            if f"{DATA_DIR}/{orphan.name}" in retired:
                orphan.unlink()  # replaced by a rewrite that died before removing it
                continue
            if orphan.name.startswith("compact-"):
                orphan.unlink()  # a rewrite died before switching: its rows are still in the old shards
                continue
            table = _read_shard(orphan)
            validate_table(table, where=str(orphan))
            ids = table.column("trajectory_id").to_pylist()
            known = self.trajectory_ids()
            if known.issuperset(ids):
                orphan.unlink()  # superseded by a compaction that died before cleaning up
                continue
            if known.intersection(ids):
                raise DatasetError(
                    f"unlisted shard {orphan.name} repeats trajectories already in the dataset",
                    where=str(self.path),
                    fix="a foreign file was copied into data/; remove it",
                )
            info = ShardInfo(
                path=f"{DATA_DIR}/{orphan.name}",
                rows=table.num_rows,
                steps=_count_steps(table),
                bytes=orphan.stat().st_size,
            )
            self._record_shard(info, table)


class ShardWriter:
    """Buffers trajectories and commits a shard every `rows_per_shard` rows (and on close)."""

    def __init__(self, dataset: Dataset, *, rows_per_shard: int):
        self.dataset = dataset
        self.rows_per_shard = rows_per_shard
        self.buffer: list[Trajectory] = []
        self.written = 0

    def add(self, trajectory: Trajectory) -> None:
        self.buffer.append(trajectory)
        if len(self.buffer) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> int:
        if not self.buffer:
            return 0
        rows, self.buffer = self.buffer, []
        count = self.dataset.append(rows)
        self.written += count
        return count

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.flush()


# ---------------------------------------------------------------- derived datasets


def derive(
    sources: list[Dataset],
    dst: str | Path,
    rows: Iterable[Trajectory] | Any,
    *,
    operation: str,
    sql: str | None = None,
    params: dict | None = None,
    overwrite: bool = False,
) -> Dataset:
    """Write a new dataset made from `sources`, atomically, with lineage.

    The new dataset is assembled in a temporary sibling directory and renamed into place, so
    a failure leaves nothing at `dst`. The sources are never modified.
    """
    dst = Path(dst)
    _check_destination(dst, sources, overwrite=overwrite)
    lineage = Lineage(
        operation=operation,
        parents=[
            ParentRef(path=str(s.path.resolve()), name=s.name, fingerprint=s.manifest.fingerprint, rows=len(s))
            for s in sources
        ],
        sql=sql,
        params=params or {},
    )
    history = [entry for source in sources for entry in source.manifest.lineage]
    recipe = sources[0].recipe() if len(sources) == 1 else None
    return create_atomic(dst, rows, lineage=lineage, history=history, recipe=recipe, overwrite=overwrite)


def create_atomic(
    dst: str | Path,
    rows: Iterable[Trajectory] | Any,
    *,
    lineage: Lineage,
    history: list[Lineage] | None = None,
    recipe: dict | None = None,
    overwrite: bool = False,
) -> Dataset:
    """Write a complete new dataset in a temporary sibling directory, then rename it into place."""
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise DatasetError("output path already exists", where=str(dst), fix="choose a new path or pass --overwrite")
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}.tmp-", dir=dst.parent))
    try:
        dataset = Dataset.create(staging, name=dst.name, recipe=recipe, lineage=lineage)
        dataset.manifest.lineage = (history or []) + [lineage]
        dataset.append(rows)
        if overwrite and dst.exists():
            shutil.rmtree(dst)
        os.rename(staging, dst)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Dataset.open(dst)


def compact(dataset: Dataset, *, target_rows: int = 100_000) -> tuple[int, int]:
    """Merge small shards into shards of up to `target_rows` rows. Returns (before, after)."""
    before = len(dataset.manifest.shards)
    if before <= 1:
        return before, before
    after = _rewrite(dataset, target_rows=target_rows, operation="compact")
    return before, after


def drop_where(dataset: Dataset, where: str, *, operation: str) -> int:
    """Remove the trajectories matching a SQL predicate, in place and atomically.

    The one sanctioned exception to append-only: `build --retry-failed` drops failed rollouts
    so they can be redone under the same ids. Returns the number of rows removed.
    """
    from trajkit.query import sql

    doomed = set(sql([dataset], f"SELECT trajectory_id FROM trajectories WHERE {where}").column(0).to_pylist())
    if doomed:
        _rewrite(dataset, target_rows=100_000, operation=operation, drop_ids=doomed, params={"where": where})
    return len(doomed)


def _rewrite(dataset: Dataset, *, target_rows: int, operation: str, drop_ids: set[str] | None = None, params: dict | None = None) -> int:
    """Rewrite all shards (optionally without `drop_ids`) and switch the manifest atomically.

    New shards are committed under `compact-*` names first, then the manifest switches to them
    in one atomic write, then the old files are removed. A crash at any point leaves a readable
    dataset whose rows are counted once: on open, unlisted `compact-*` files (the switch never
    happened) are removed, and so are unlisted old shards whose rows are all present (the
    switch happened; cleanup did not).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    old = list(dataset.manifest.shards)
    tables = [_read_shard(dataset.path / s.path) for s in old]
    table = pa.concat_tables(tables) if tables else arrow_schema().empty_table()
    if drop_ids:
        keep = pc.invert(pc.is_in(table.column("trajectory_id"), value_set=_string_array(drop_ids)))
        table = table.filter(keep)
    data_dir = dataset.path / DATA_DIR
    new_infos = []
    for start in range(0, max(table.num_rows, 1), target_rows):
        chunk = table.slice(start, target_rows)
        if chunk.num_rows == 0:
            break
        name = f"compact-part-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = data_dir / f"{TMP_PREFIX}{name}.partial"
        pq.write_table(chunk, tmp, compression="zstd", row_group_size=_row_group_size(chunk))
        _fsync(tmp)
        os.rename(tmp, data_dir / name)
        new_infos.append(
            ShardInfo(path=f"{DATA_DIR}/{name}", rows=chunk.num_rows, steps=_count_steps(chunk), bytes=(data_dir / name).stat().st_size)
        )
    _fsync_dir(data_dir)
    dataset.manifest.shards = new_infos
    dataset.manifest.retired_shards = [s.path for s in old]
    dataset.manifest.rows = sum(s.rows for s in new_infos)
    dataset.manifest.steps = sum(s.steps for s in new_infos)
    dataset.manifest.lineage.append(Lineage(operation=operation, params={"shards_before": len(old), **(params or {})}))
    dataset.manifest.updated_at = datetime.now(UTC)
    dataset._ids = None
    dataset._save_manifest()
    for shard in old:
        (dataset.path / shard.path).unlink(missing_ok=True)
    _remove_stale_compactions(dataset)
    return len(new_infos)


def _remove_stale_compactions(dataset: Dataset) -> None:
    listed = {s.path for s in dataset.manifest.shards}
    for path in (dataset.path / DATA_DIR).glob("compact-*.parquet"):
        if f"{DATA_DIR}/{path.name}" not in listed:
            path.unlink()


def write_recipe(path: Path, recipe: dict) -> str:
    """Write recipe.yaml with secrets removed; returns the recipe hash."""
    import yaml

    clean = redact_secrets(recipe)
    _atomic_write_text(path / RECIPE, yaml.safe_dump(clean, sort_keys=False))
    return stable_hash(clean)


SECRET_KEY_PARTS = ("api_key", "apikey", "token", "secret", "password", "authorization")


def redact_secrets(value: Any) -> Any:
    """Drop values under secret-looking keys (the names of env variables are kept)."""
    if isinstance(value, dict):
        clean = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if any(part in lowered for part in SECRET_KEY_PARTS) and not lowered.endswith("_env"):
                continue
            clean[key] = redact_secrets(item)
        return clean
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value


# ---------------------------------------------------------------------- helpers


def _as_table(rows: Iterable[Trajectory] | Any):
    """Rows as an Arrow table in the storage schema, validated."""
    import pyarrow as pa

    if isinstance(rows, pa.Table):
        table = validate_table(rows, where="rows")
        return table
    records = []
    for position, row in enumerate(rows):
        if not isinstance(row, Trajectory):
            try:
                row = Trajectory.model_validate(row)
            except ValidationError as exc:
                raise SchemaError(_first_error(exc), where=f"row {position}") from None
        records.append(row.model_dump())
    table = pa.Table.from_pylist(records, schema=arrow_schema())
    return validate_table(table, where="rows", check_types=False)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field {field}: {error['msg']}{more}"


def _string_array(values: Iterable[str]):
    import pyarrow as pa

    return pa.array(list(values), type=pa.string())


def _read_shard(path: Path, columns: list[str] | None = None):
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_metadata(path)
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"not a readable Parquet file ({exc})",
            where=str(path),
            fix="the shard is damaged or foreign; remove it or restore it from a copy",
        ) from None
    kv = metadata.metadata or {}
    if PARQUET_VERSION_KEY not in kv:
        raise SchemaError(
            "Parquet file without trajkit schema metadata",
            where=str(path),
            fix="only trajkit-written shards belong in data/; import foreign data with trajkit import",
        )
    try:
        version = int(kv[PARQUET_VERSION_KEY])
    except ValueError:
        version = kv[PARQUET_VERSION_KEY]
    check_version(version, where=str(path))
    try:
        return pq.read_table(path, columns=columns)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read shard ({exc})", where=str(path), fix="restore the file") from None


def _count_steps(table) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(pc.list_value_length(table.column("steps"))).as_py() or 0)


def _row_group_size(table) -> int:
    # Nested rows are large; moderate row groups keep scans streaming in bounded memory.
    return max(1, min(table.num_rows, 8192))


def _read_manifest(path: Path) -> Manifest:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"manifest is not valid JSON ({exc})",
            where=str(path),
            fix="restore trajkit.json from a copy; the data/ shards are intact",
        ) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise DatasetError(f"not a trajkit manifest (format != {FORMAT!r})", where=str(path))
    check_version(raw.get("schema_version"), where=str(path))
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise DatasetError(f"manifest {_first_error(exc)}", where=str(path)) from None


def _check_destination(dst: Path, sources: list[Dataset], *, overwrite: bool) -> None:
    for source in sources:
        if dst.resolve() == source.path.resolve():
            raise DatasetError(
                "the output is the same directory as an input",
                where=str(dst),
                fix="write a new version to a new directory; datasets are never modified in place",
            )
    if dst.exists() and not overwrite:
        raise DatasetError("output path already exists", where=str(dst), fix="choose a new path or pass --overwrite")


def _remove_temporaries(data_dir: Path) -> None:
    for tmp in data_dir.glob(f"{TMP_PREFIX}*"):
        tmp.unlink(missing_ok=True)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:6]}")
    tmp.write_text(text, encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        _fsync(path)
    except OSError:
        pass  # not every filesystem allows fsync on directories


def merge(sources: list[Dataset], dst: str | Path) -> Dataset:
    """A new dataset holding the rows of every source (e.g. the shards of a scaled-out build)."""
    import pyarrow as pa

    table = pa.concat_tables([source.to_arrow() for source in sources])
    return derive(sources, dst, table, operation="merge")
