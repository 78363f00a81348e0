"""`trajkit show DATASET ID_PREFIX`: a unique start of an id is enough; an ambiguous one is one line."""

from __future__ import annotations

import os

from tests.factories import make_trajectories
from trajkit.store import Dataset


def test_show_takes_a_unique_prefix_and_refuses_an_ambiguous_one(trajkit, tmp_path):
    ds = Dataset.create(tmp_path / "ds")
    ds.append(make_trajectories(12))
    ids = sorted(ds.trajectory_ids())
    unique = next(i[:n] for i in ids for n in range(1, len(i)) if sum(j.startswith(i[:n]) for j in ids) == 1)
    result = trajkit("show", str(ds.path), unique, columns=120)
    assert result.returncode == 0, result.stderr
    full = next(i for i in ids if i.startswith(unique))
    assert full in result.stdout
    shared = min((os.path.commonprefix([a, b]) for a, b in zip(ids, ids[1:], strict=False)), key=len)
    count = sum(i.startswith(shared) for i in ids)
    result = trajkit("show", str(ds.path), shared)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert f"{count} trajectory ids start with {shared!r}" in lines[0]
