import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.factories import make_trajectories, make_trajectory
from trajkit.errors import DatasetError, SchemaError, SchemaVersionError
from trajkit.schema import arrow_schema
from trajkit.shards import read_shard, shard_name, write_shard
from trajkit.store import Dataset, compact, derive
from trajkit.validate import validate_dataset


def test_append_read_roundtrip(tmp_path):
    rows = make_trajectories(20)
    ds = Dataset.create(tmp_path / "ds")
    ds.append(rows[:12])
    ds.append(rows[12:])
    again = Dataset.open(tmp_path / "ds")
    assert len(again) == 20
    assert again.manifest.steps == sum(len(r.steps) for r in rows)
    assert [t.trajectory_id for t in again.trajectories()] == [r.trajectory_id for r in rows]
    assert again.get(rows[5].trajectory_id) == rows[5]
    assert validate_dataset(again) == 20


def test_duplicate_ids_rejected_and_append_new_skips(tmp_path):
    rows = make_trajectories(5)
    ds = Dataset.create(tmp_path / "ds")
    ds.append(rows)
    with pytest.raises(DatasetError, match="already in the dataset"):
        ds.append(rows[:2])
    assert ds.append_new(rows + [make_trajectory(99)]) == 1
    assert len(Dataset.open(tmp_path / "ds")) == 6
    with pytest.raises(SchemaError, match="more than once"):
        ds.append([make_trajectory(50), make_trajectory(50)])


def test_plain_readers_see_the_data(tmp_path):
    import duckdb
    import polars as pl

    ds = Dataset.create(tmp_path / "ds")
    ds.append(make_trajectories(7))
    pattern = str(tmp_path / "ds" / "data" / "*.parquet")
    assert pq.read_table(tmp_path / "ds" / "data").num_rows == 7
    assert pl.read_parquet(pattern).height == 7
    assert duckdb.sql(f"SELECT count(*) FROM '{pattern}'").fetchall()[0][0] == 7
    import datasets

    loaded = datasets.load_dataset("parquet", data_files=pattern, split="train")
    assert loaded.num_rows == 7 and loaded[0]["task"]["question"]


def test_recipe_secrets_are_removed(tmp_path):
    ds = Dataset.create(
        tmp_path / "ds",
        recipe={"teacher": {"backend": "openai", "api_key": "sk-SECRET", "api_key_env": "OPENAI_API_KEY"}},
    )
    text = (tmp_path / "ds" / "recipe.yaml").read_text()
    assert "sk-SECRET" not in text and "OPENAI_API_KEY" in text
    assert ds.manifest.recipe_hash


def test_unlisted_committed_shard_is_adopted_and_temporaries_ignored(tmp_path):
    ds = Dataset.create(tmp_path / "ds")
    ds.append(make_trajectories(3))
    # Simulate a writer killed after the shard rename but before the manifest update.
    table = pa.Table.from_pylist([make_trajectory(40).model_dump()], schema=arrow_schema())
    pq.write_table(table, tmp_path / "ds" / "data" / "part-zzz.parquet")
    (tmp_path / "ds" / "data" / ".tmp-part-torn.parquet.partial").write_bytes(b"PAR1 torn")
    again = Dataset.open(tmp_path / "ds")
    assert len(again) == 4
    assert validate_dataset(again) == 4


def test_derive_writes_new_version_with_lineage_and_leaves_source(tmp_path):
    rows = make_trajectories(10)
    src = Dataset.create(tmp_path / "src")
    src.append(rows)
    before = sorted(p.name for p in (tmp_path / "src" / "data").iterdir())
    out = derive([src], tmp_path / "out", rows[:4], operation="filter", sql="correct")
    assert len(out) == 4
    assert out.manifest.lineage[-1].operation == "filter"
    assert out.manifest.lineage[-1].parents[0].fingerprint == src.manifest.fingerprint
    assert sorted(p.name for p in (tmp_path / "src" / "data").iterdir()) == before
    with pytest.raises(DatasetError, match="same directory"):
        derive([src], tmp_path / "src", rows[:1], operation="filter")


def test_failed_derive_leaves_nothing(tmp_path):
    src = Dataset.create(tmp_path / "src")
    src.append(make_trajectories(3))
    bad = [make_trajectory(1), make_trajectory(1)]
    with pytest.raises(SchemaError):
        derive([src], tmp_path / "out", bad, operation="filter")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["src"]


def test_compact_merges_shards_and_keeps_rows(tmp_path):
    rows = make_trajectories(30)
    ds = Dataset.create(tmp_path / "ds")
    for i in range(0, 30, 5):
        ds.append(rows[i : i + 5])
    assert compact(ds) == (6, 1)
    again = Dataset.open(tmp_path / "ds")
    assert len(again) == 30 and len(list((tmp_path / "ds" / "data").glob("*.parquet"))) == 1
    assert sorted(again.trajectory_ids()) == sorted(r.trajectory_id for r in rows)
    assert again.manifest.lineage[-1].operation == "compact"


def test_compaction_interrupted_after_switch_does_not_duplicate(tmp_path):
    rows = make_trajectories(10)
    ds = Dataset.create(tmp_path / "ds")
    ds.append(rows[:5])
    ds.append(rows[5:])
    saved = {p.name: p.read_bytes() for p in (tmp_path / "ds" / "data").glob("part-*.parquet")}
    compact(ds)
    for name, data in saved.items():  # old shards "not yet deleted" when the process died
        (tmp_path / "ds" / "data" / name).write_bytes(data)
    again = Dataset.open(tmp_path / "ds")
    assert len(again) == 10 and validate_dataset(again) == 10


def test_rewrite_interrupted_before_switch_leaves_the_old_shards(tmp_path):
    rows = make_trajectories(10)
    ds = Dataset.create(tmp_path / "ds")
    ds.append(rows[:5])
    ds.append(rows[5:])
    # A rewrite committed its new shard, then died before the manifest switched to it.
    write_shard(ds.to_arrow(), tmp_path / "ds" / "data", shard_name(rewrite=True))
    again = Dataset.open(tmp_path / "ds")
    assert len(again) == 10 and validate_dataset(again) == 10
    assert sorted(p.name[:5] for p in (tmp_path / "ds" / "data").glob("*.parquet")) == ["part-", "part-"]


def test_write_shard_leaves_no_temporary_when_the_commit_fails(tmp_path):
    (tmp_path / "part-x.parquet" / "in-the-way").mkdir(parents=True)  # the rename cannot land
    with pytest.raises(OSError):
        write_shard(arrow_schema().empty_table(), tmp_path, "part-x.parquet")
    write_shard(arrow_schema().empty_table(), tmp_path, "part-y.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-x.parquet", "part-y.parquet"]
    assert read_shard(tmp_path / "part-y.parquet").num_rows == 0


def test_newer_schema_version_refused(tmp_path):
    ds = Dataset.create(tmp_path / "ds")
    ds.append(make_trajectories(2))
    manifest = json.loads((tmp_path / "ds" / "trajkit.json").read_text())
    manifest["schema_version"] = 7
    (tmp_path / "ds" / "trajkit.json").write_text(json.dumps(manifest))
    with pytest.raises(SchemaVersionError, match="upgrade trajkit"):
        Dataset.open(tmp_path / "ds")


def test_foreign_and_truncated_parquet_are_refused(tmp_path):
    ds = Dataset.create(tmp_path / "ds")
    ds.append(make_trajectories(2))
    shard = ds.shard_paths()[0]
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(DatasetError, match="not a readable Parquet"):
        Dataset.open(tmp_path / "ds").to_arrow()
    foreign = tmp_path / "foreign"
    Dataset.create(foreign)
    pq.write_table(pa.table({"x": [1]}), foreign / "data" / "part-x.parquet")
    with pytest.raises(SchemaError, match="without trajkit schema metadata"):
        Dataset.open(foreign)


WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {repo!r})
    from trajkit.store import Dataset
    from tests.factories import make_trajectory
    ds = Dataset.create({path!r}, exist_ok=True)
    i = 0
    while True:
        ds.append([make_trajectory(1000 * {round} + i + k) for k in range(20)])
        i += 20
        print(i, flush=True)
    """
)


@pytest.mark.parametrize("round_", range(3))
def test_sigkill_during_appends_leaves_exactly_committed_rows(tmp_path, round_):
    from tests.conftest import REPO

    path = tmp_path / "ds"
    script = WRITER.format(repo=str(REPO), path=str(path), round=round_)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    committed = 0
    deadline = time.time() + 60
    while committed < 60 + 20 * round_ and time.time() < deadline:
        committed = int(proc.stdout.readline())
    time.sleep(0.01 * (round_ + 1))  # land at varying points of the next append
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ds = Dataset.open(path)
    rows = validate_dataset(ds)
    # Every append the writer reported is there; at most the one in flight is extra, whole.
    assert rows >= committed and rows % 20 == 0
    assert len(ds.trajectory_ids()) == rows
    assert rows == len(ds)
    # Resume: appending the same ids again is refused, new ones go in.
    assert ds.append_new([make_trajectory(1000 * round_ + k) for k in range(20)]) == 0


def _table_with(rows, path, values):
    """An Arrow table of `rows` with the struct field at `path` replaced (vectorised writers)."""
    import pyarrow.compute as pc

    table = pa.Table.from_pylist([r.model_dump() for r in rows], schema=arrow_schema())
    top, field = path.split(".")
    column = table.column(top).combine_chunks()
    children = [pa.array(values, type=column.type.field(field).type) if f.name == field else pc.struct_field(column, f.name) for f in column.type]
    replaced = pa.StructArray.from_arrays(children, fields=list(column.type))
    return table.set_column(table.schema.get_field_index(top), top, replaced)


def test_vectorised_validation_catches_bad_json_and_nulls(tmp_path):
    ds = Dataset.create(tmp_path / "ds")
    rows = make_trajectories(4)
    with pytest.raises(SchemaError, match=r"row 2: field task.metadata is not JSON text"):
        ds.append(_table_with(rows, "task.metadata", ["{}", "{}", "{bad", "{}"]))
    with pytest.raises(SchemaError, match=r"required field task.question is null"):
        ds.append(_table_with(rows, "task.question", ["a", None, "c", "d"]))
    with pytest.raises(SchemaError, match=r"row 3: field outcome.status has value .done."):
        ds.append(_table_with(rows, "outcome.status", ["answered"] * 3 + ["done"]))
    assert len(Dataset.open(tmp_path / "ds")) == 0
    assert list((tmp_path / "ds" / "data").iterdir()) == []


def test_nested_required_null_inside_steps_is_caught(tmp_path):
    rows = make_trajectories(3)
    table = pa.Table.from_pylist([r.model_dump() for r in rows], schema=arrow_schema())
    data = table.to_pylist()
    data[1]["steps"][0]["train"] = None
    bad = pa.Table.from_pylist(data, schema=arrow_schema())
    with pytest.raises(SchemaError, match=r"row 1: required field steps.train is null"):
        Dataset.create(tmp_path / "ds").append(bad)
