"""Shard files and atomic writes: the lowest layer of a dataset directory.

A shard is one Parquet file under `data/` written by trajkit (it carries the schema version
in its metadata). `write_shard` commits one: the table goes to a hidden temporary name
(`data/.tmp-*.partial`), is flushed to disk and renamed to its final name; the rename is the
commit, so readers never see a torn file. `atomic_write_text` does the same for small text
files (the manifest, the recipe). `read_shard` reads a shard back, refusing files that are
damaged, foreign or of a schema version this trajkit cannot read.

This module knows files, not datasets: the manifest and the commit protocol built on these
writes live in `trajkit.store`.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trajkit.errors import DatasetError, SchemaError
from trajkit.schema import PARQUET_VERSION_KEY, check_version

if TYPE_CHECKING:
    import pyarrow as pa

DATA_DIR = "data"  # shards live here, relative to the dataset directory
TMP_PREFIX = ".tmp-"  # files being written; ignored by readers, removed by the next write
REWRITE_PREFIX = "compact-"  # marks shards committed by an in-place rewrite (compact, drop_where)


def shard_name(*, rewrite: bool = False) -> str:
    """A new, unique shard file name: [compact-]part-TIMESTAMP-RANDOM.parquet."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    prefix = REWRITE_PREFIX if rewrite else ""
    return f"{prefix}part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"


def write_shard(table: pa.Table, data_dir: Path, name: str) -> Path:
    """Commit `table` as `data_dir/name`: temporary file, fsync, rename. Returns the shard path."""
    import pyarrow.parquet as pq

    final = data_dir / name
    tmp = data_dir / f"{TMP_PREFIX}{name}.partial"
    try:
        pq.write_table(table, tmp, compression="zstd", row_group_size=row_group_size(table))
        fsync_file(tmp)
        os.rename(tmp, final)  # the commit point
    finally:
        if tmp.exists():
            tmp.unlink()
    return final


def read_shard(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A shard's rows; DatasetError when unreadable, SchemaError when foreign or too new."""
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


def count_steps(table: pa.Table) -> int:
    """The number of steps over all rows of a table in the storage schema."""
    import pyarrow.compute as pc

    return int(pc.sum(pc.list_value_length(table.column("steps"))).as_py() or 0)


def row_group_size(table: pa.Table) -> int:
    """Rows per Parquet row group for a shard of `table`."""
    # Nested rows are large; moderate row groups keep scans streaming in bounded memory.
    return max(1, min(table.num_rows, 8192))


def remove_temporaries(data_dir: Path) -> None:
    """Remove what interrupted writes left in `data_dir`."""
    for tmp in data_dir.glob(f"{TMP_PREFIX}*"):
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) so that readers see the old or the new file, never a mix."""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:6]}")
    tmp.write_text(text, encoding="utf-8")
    fsync_file(tmp)
    os.replace(tmp, path)


def fsync_file(path: Path) -> None:
    """Flush a file's content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (renames) to disk, where the filesystem allows it."""
    try:
        fsync_file(path)
    except OSError:
        pass  # not every filesystem allows fsync on directories
