"""`trajkit build` end to end with a real sandbox and a scripted teacher (no model needed)."""

import os
import signal
import subprocess
import sys

from tests.build.conftest import write_recipe
from tests.conftest import REPO, wait_for_rows
from trajkit.build import build
from trajkit.query import sql
from trajkit.store import Dataset
from trajkit.validate import validate_dataset


def test_build_writes_graded_trajectories_with_provenance(tmp_path, task_file):
    recipe = write_recipe(tmp_path, task_file)
    dataset, stats = build(recipe, show_progress=False)
    assert len(dataset) == 48 and stats.done == 48
    assert validate_dataset(dataset) == 48
    first = next(dataset.trajectories())
    assert [s.code for s in first.steps] == ["x = 6 * 7\nprint(x)", "final_answer(x)"]
    assert first.steps[0].observation == "42"
    assert first.outcome.status == "answered" and first.outcome.final_answer == "42"
    assert first.provenance.kind == "teacher" and first.provenance.backend == "scripted"
    assert first.provenance.prompt_hash and first.provenance.tools[0].name == "python_interpreter"
    counts = sql([dataset.path], "SELECT correct, count(*) AS n FROM trajectories GROUP BY ALL ORDER BY correct").to_pylist()
    assert counts == [{"correct": False, "n": 16}, {"correct": True, "n": 32}]
    assert (dataset.path / "recipe.yaml").is_file()
    assert dataset.manifest.info["build"]["provenance"]["fingerprint"] == first.provenance.fingerprint


def test_rerun_resumes_without_duplicates(tmp_path, task_file):
    recipe = write_recipe(tmp_path, task_file)
    first, _ = build(recipe, limit=5, show_progress=False)
    assert len(first) == 10
    second, stats = build(recipe, show_progress=False)
    assert stats.skipped == 10 and stats.done == 38
    assert len(second) == 48 and len(second.trajectory_ids()) == 48


def test_shards_partition_and_merge(tmp_path, task_file, cli):
    recipe = write_recipe(tmp_path, task_file)
    parts = []
    for i in range(3):
        ds, _ = build(recipe, output=str(tmp_path / f"part{i}"), shard=f"{i}/3", show_progress=False)
        parts.append(ds)
    assert sum(len(p) for p in parts) == 48
    assert all(len(p) > 0 for p in parts)
    merged = cli("merge", *(str(p.path) for p in parts), "-o", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stderr
    whole, _ = build(recipe, output=str(tmp_path / "whole"), show_progress=False)
    assert Dataset.open(tmp_path / "merged").trajectory_ids() == whole.trajectory_ids()


def _committed(target) -> int:
    return len(Dataset.open(target)) if (target / "trajkit.json").exists() else 0


def test_kill_9_after_commits_then_resume_matches_uninterrupted(tmp_path, task_file):
    recipe = write_recipe(tmp_path, task_file, extra={"flush_every": 2, "concurrency": 2})
    reference, _ = build(recipe, output=str(tmp_path / "reference"), show_progress=False)
    target = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    interrupted = []  # rows committed when each kill left work undone
    for _attempt in range(4):
        before = _committed(target)
        if before == len(reference):
            break
        proc = subprocess.Popen(
            [sys.executable, "-m", "trajkit", "build", str(recipe), "-o", str(target)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        # kill only once this run has committed something of its own, so each kill lands mid-build
        wait_for_rows(target, at_least=before + 1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = Dataset.open(target)
        assert validate_dataset(partial) == len(partial) > before
        if len(partial) < len(reference):
            interrupted.append(len(partial))
    assert interrupted, "every run finished before it was killed: nothing was interrupted"
    done = subprocess.run([sys.executable, "-m", "trajkit", "build", str(recipe), "-o", str(target)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    final = Dataset.open(target)
    assert validate_dataset(final) == 48
    assert final.trajectory_ids() == reference.trajectory_ids()
