import json

import pytest

from tests.factories import make_provenance, make_trajectories, make_trajectory
from trajkit.errors import QueryError
from trajkit.query import connect, drop_where, filter_dataset, select_rows, sql, sql_polars
from trajkit.stats import dataset_stats
from trajkit.store import Dataset
from trajkit.validate import validate_dataset


@pytest.fixture
def two_runs(tmp_path):
    teacher = Dataset.create(tmp_path / "teacher")
    teacher.append(make_trajectories(12, seed=1))
    student = Dataset.create(tmp_path / "student")
    prov = make_provenance(model="student-135m", kind="student")
    student.append([make_trajectory(i, n_steps=2, correct=i % 2 == 0, provenance=prov, candidates=3) for i in range(6)])
    return teacher, student


def test_views_unnest_with_keys(two_runs):
    teacher, _ = two_runs
    expected_steps = sum(len(t.steps) for t in teacher.trajectories())
    steps = sql([teacher.path], "SELECT trajectory_id, task_id, step_index FROM steps")
    assert steps.num_rows == expected_steps
    assert set(steps.column("task_id").to_pylist()) == {t.task.task_id for t in teacher.trajectories()}
    calls = sql([teacher.path], "SELECT count(*) AS n FROM tool_calls").to_pylist()[0]["n"]
    assert calls == sum(len(s.tool_calls) for t in teacher.trajectories() for s in t.steps)


def test_several_datasets_query_together(two_runs):
    teacher, student = two_runs
    rows = sql(
        [teacher.path, student.path],
        "SELECT dataset, kind, count(*) AS n FROM trajectories GROUP BY ALL ORDER BY dataset",
    ).to_pylist()
    assert rows == [
        {"dataset": "student", "kind": "student", "n": 6},
        {"dataset": "teacher", "kind": "teacher", "n": 12},
    ]
    cands = sql([teacher.path, student.path], "SELECT count(*) AS n, sum(selected::int) AS s FROM candidates")
    assert cands.to_pylist() == [{"n": 6 * 2 * 3, "s": 6 * 2}]


def test_polars_api_and_joins(two_runs):
    teacher, _ = two_runs
    frame = sql_polars(
        [teacher.path],
        "SELECT t.source, c.name, count(*) AS calls FROM tool_calls c JOIN trajectories t USING (trajectory_id) GROUP BY ALL",
    )
    assert frame.columns == ["source", "name", "calls"]
    assert frame["calls"].sum() > 0


def test_filter_keeps_matching_rows_with_lineage(two_runs, tmp_path):
    teacher, _ = two_runs
    out = filter_dataset(teacher.path, tmp_path / "correct", "correct AND n_steps >= 2")
    expected = {t.trajectory_id for t in teacher.trajectories() if t.outcome.correct and len(t.steps) >= 2}
    assert out.trajectory_ids() == expected
    assert out.manifest.lineage[-1].sql == "correct AND n_steps >= 2"
    originals = {t.trajectory_id: t for t in teacher.trajectories()}
    assert all(t == originals[t.trajectory_id] for t in out.trajectories())


def test_filter_with_step_subquery(two_runs, tmp_path):
    teacher, _ = two_runs
    ds = Dataset.create(tmp_path / "errs")
    ds.append([make_trajectory(i, n_steps=3, error_at=1 if i < 3 else None) for i in range(8)])
    rows = select_rows([ds], "trajectory_id NOT IN (SELECT trajectory_id FROM steps WHERE error_type IS NOT NULL)")
    assert rows.num_rows == 5


def test_bad_sql_is_a_query_error(two_runs):
    teacher, _ = two_runs
    with pytest.raises(QueryError, match="Candidate bindings: .*their columns: trajkit sql --help"):
        sql([teacher.path], "SELECT no_such_column FROM trajectories")
    with pytest.raises(QueryError):
        sql([teacher.path], "SELEC 1")


def test_empty_dataset_has_views(tmp_path):
    ds = Dataset.create(tmp_path / "empty")
    assert sql([ds.path], "SELECT count(*) AS n FROM steps").to_pylist() == [{"n": 0}]
    assert dataset_stats([ds.path])["overview"] == []


def test_stats_sections(two_runs):
    teacher, student = two_runs
    stats = dataset_stats([teacher.path, student.path])
    overview = {row["dataset"]: row for row in stats["overview"]}
    assert overview["student"]["accuracy"] == 0.5
    assert overview["teacher"]["trajectories"] == 12
    assert sum(r["trajectories"] for r in stats["steps_histogram"] if r["dataset"] == "teacher") == 12
    assert {r["tool"] for r in stats["tools"]} == {"search"}


def test_connection_exposes_raw_rows(two_runs):
    teacher, _ = two_runs
    con = connect([teacher.path])
    meta = con.sql("SELECT task.metadata FROM raw LIMIT 1").fetchall()[0][0]
    assert "i" in json.loads(meta)


def test_drop_where_interrupted_after_switch_keeps_dropped_rows_out(tmp_path):
    rows = [make_trajectory(i, correct=i % 2 == 0) for i in range(10)]
    ds = Dataset.create(tmp_path / "ds")
    ds.append(rows[:5])
    ds.append(rows[5:])
    saved = {p.name: p.read_bytes() for p in (tmp_path / "ds" / "data").glob("part-*.parquet")}
    assert drop_where(ds, "NOT correct", operation="retry_failed") == 5
    for name, data in saved.items():  # the old shards survived a crash before cleanup
        (tmp_path / "ds" / "data" / name).write_bytes(data)
    again = Dataset.open(tmp_path / "ds")
    assert len(again) == 5 and validate_dataset(again) == 5
    assert all(t.outcome.correct for t in again.trajectories())
