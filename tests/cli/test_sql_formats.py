"""`trajkit sql -f jsonl` writes JSON Lines; `-f json` one JSON array."""

from __future__ import annotations

import json

from tests.factories import make_trajectories
from trajkit.store import Dataset


def test_jsonl_is_lines_and_json_is_an_array(trajkit, tmp_path):
    ds = Dataset.create(tmp_path / "ds")
    ds.append(make_trajectories(3))
    query = "SELECT trajectory_id, n_steps FROM trajectories ORDER BY 1"
    lines = trajkit("sql", str(ds.path), query, "-f", "jsonl")
    assert lines.returncode == 0, lines.stderr
    rows = [json.loads(line) for line in lines.stdout.splitlines()]
    array = trajkit("sql", str(ds.path), query, "-f", "json")
    assert array.returncode == 0, array.stderr
    assert json.loads(array.stdout) == rows and len(rows) == 3
