"""Dataset directories: opening, reading, appending, and new datasets derived with lineage.

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
half-counted shard, or a duplicate. The one in-place rewrite (`compact`, and
`trajkit.query.drop_where`) is just as safe: see `Dataset.replace_rows`.

Below this module: `trajkit.shards` (shard files, atomic writes), `trajkit.manifest` (the
manifest's models) and `trajkit.validate` (vectorised checks of every row written).

A dataset is plain Parquet: `pyarrow`, `polars`, `duckdb` and `datasets` read `data/*.parquet`
without trajkit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trajkit.errors import DatasetError
from trajkit.manifest import FORMAT, Lineage, Manifest, ParentRef, ShardInfo
from trajkit.schema import Trajectory, arrow_schema, check_version, stable_hash
from trajkit.shards import (
    DATA_DIR,
    REWRITE_PREFIX,
    TMP_PREFIX,
    atomic_write_text,
    count_steps,
    fsync_dir,
    read_shard,
    remove_temporaries,
    shard_name,
    write_shard,
)
from trajkit.staging import staged_folder
from trajkit.validate import first_error, rows_as_table, validate_table

MANIFEST = "trajkit.json"
RECIPE = "recipe.yaml"


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
            read_shard(p, columns=columns) if columns else read_shard(p)
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
        table = rows_as_table(rows)
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
        import pyarrow as pa
        import pyarrow.compute as pc

        table = rows_as_table(rows)
        self.trajectory_ids()  # loads the id cache once; then each commit costs O(its rows)
        stored = [i for i in table.column("trajectory_id").to_pylist() if i in self._ids]
        if stored:
            keep = pc.invert(pc.is_in(table.column("trajectory_id"), value_set=pa.array(stored, type=pa.string())))
            table = table.filter(keep)
        if table.num_rows == 0:
            return 0
        self._commit_shard(table)
        return table.num_rows

    def _commit_shard(self, table) -> ShardInfo:
        data_dir = self.path / DATA_DIR
        data_dir.mkdir(parents=True, exist_ok=True)
        remove_temporaries(data_dir)
        info = self._write_shard(table, shard_name())
        self._record_shard(info, table)
        return info

    def _write_shard(self, table, name: str) -> ShardInfo:
        """Commit one shard file (not yet listed in the manifest)."""
        data_dir = self.path / DATA_DIR
        path = write_shard(table, data_dir, name)
        fsync_dir(data_dir)
        return ShardInfo(path=f"{DATA_DIR}/{name}", rows=table.num_rows, steps=count_steps(table), bytes=path.stat().st_size)

    def replace_rows(self, table, *, rows_per_shard: int, operation: str, params: dict | None = None) -> int:
        """Replace every shard with `table` in shards of up to `rows_per_shard` rows; returns their number.

        The one in-place rewrite (`compact`, `trajkit.query.drop_where`). New shards are
        committed under `compact-*` names first, then the manifest switches to them in one
        atomic write, then the old files are removed. A crash at any point leaves a readable
        dataset whose rows are counted once: on open, unlisted `compact-*` files (the switch
        never happened) are removed, and so are retired shards (the switch happened; cleanup
        did not).
        """
        old = list(self.manifest.shards)
        new = [
            self._write_shard(table.slice(start, rows_per_shard), shard_name(rewrite=True))
            for start in range(0, table.num_rows, rows_per_shard)
        ]
        self.manifest.shards = new
        self.manifest.retired_shards = [s.path for s in old]
        self.manifest.rows = sum(s.rows for s in new)
        self.manifest.steps = sum(s.steps for s in new)
        self.manifest.lineage.append(Lineage(operation=operation, params={"shards_before": len(old), **(params or {})}))
        self.manifest.updated_at = datetime.now(UTC)
        self._ids = None
        self._save_manifest()
        for shard in old:
            (self.path / shard.path).unlink(missing_ok=True)
        self._remove_stale_rewrites()
        return len(new)

    def _remove_stale_rewrites(self) -> None:
        listed = {s.path for s in self.manifest.shards}
        for path in (self.path / DATA_DIR).glob(f"{REWRITE_PREFIX}*.parquet"):
            if f"{DATA_DIR}/{path.name}" not in listed:
                path.unlink()

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
        atomic_write_text(self.path / MANIFEST, self.manifest.model_dump_json(indent=2))

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
            if orphan.name.startswith(REWRITE_PREFIX):
                orphan.unlink()  # a rewrite died before switching: its rows are still in the old shards
                continue
            table = read_shard(orphan)
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
                steps=count_steps(table),
                bytes=orphan.stat().st_size,
            )
            self._record_shard(info, table)


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


def merge(sources: list[Dataset], dst: str | Path) -> Dataset:
    """A new dataset holding the rows of every source (e.g. the shards of a scaled-out build)."""
    import pyarrow as pa

    table = pa.concat_tables([source.to_arrow() for source in sources])
    return derive(sources, dst, table, operation="merge")


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
    with staged_folder(dst) as staging:
        dataset = Dataset.create(staging, name=dst.name, recipe=recipe, lineage=lineage)
        dataset.manifest.lineage = (history or []) + [lineage]
        dataset.append(rows)
    return Dataset.open(dst)


# ------------------------------------------------------------------ in place


def compact(dataset: Dataset, *, target_rows: int = 100_000) -> tuple[int, int]:
    """Merge small shards into shards of up to `target_rows` rows. Returns (before, after)."""
    before = len(dataset.manifest.shards)
    if before <= 1:
        return before, before
    after = dataset.replace_rows(dataset.to_arrow(), rows_per_shard=target_rows, operation="compact")
    return before, after


# -------------------------------------------------------------------- recipes


def write_recipe(path: Path, recipe: dict) -> str:
    """Write recipe.yaml with secrets removed; returns the recipe hash."""
    import yaml

    clean = redact_secrets(recipe)
    atomic_write_text(path / RECIPE, yaml.safe_dump(clean, sort_keys=False))
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


def _read_manifest(path: Path) -> Manifest:
    """The manifest at `path`; DatasetError when it is not a readable trajkit manifest."""
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
        raise DatasetError(f"manifest {first_error(exc)}", where=str(path)) from None
