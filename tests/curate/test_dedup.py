"""Exact and near-duplicate removal (real faiss; the real embedding model for the end-to-end test)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.curate.conftest import make_dataset
from tests.factories import make_trajectory
from trajkit.curate.dedup import Row, dedup, plan
from trajkit.errors import ConfigError
from trajkit.schema import Outcome
from trajkit.store import Dataset

QUESTIONS = [
    "What is the capital of France?",
    "what is the capital of FRANCE",  # same question once normalised
    "What is the capital of France?",
    "What is the capital city of France?",  # 0.96 to the first
    "Which city is the capital of France?",  # 0.97 to the one above, 0.94 to the first
    "Who wrote the novel Moby-Dick?",
    "Who is the author of the novel Moby-Dick?",  # 0.97
    "How many moons does Mars have?",
    "What is the capital of Germany?",  # 0.66: not a duplicate
]
ANSWERS = ["Paris", "paris.", "Lyon", "Paris", "Paris", "Melville", "Hawthorne", "2", "Berlin"]
STEPS = [3, 1, 2, 2, 2, 2, 2, 1, 1]
CORRECT = [True, True, False, True, True, True, False, True, True]


def trajectories():
    out = []
    for i, (question, answer, steps, correct) in enumerate(zip(QUESTIONS, ANSWERS, STEPS, CORRECT, strict=True)):
        traj = make_trajectory(i, n_steps=steps, correct=correct)
        traj.task.question = question
        traj.outcome = Outcome(status="answered", final_answer=answer, correct=correct, score=float(correct), grader="exact_match")
        out.append(traj)
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("dedup") / "src", trajectories(), name="dup-src")


def kept_questions(path) -> list[tuple[str, str]]:
    return [(t.task.question, t.outcome.final_answer) for t in Dataset.open(path).trajectories()]


def test_best_policy_removes_exact_and_near_duplicates(source, tmp_path):
    ids = [t.trajectory_id for t in trajectories()]
    report = dedup(source.path, tmp_path / "out", keep="best", threshold=0.95, report_path=tmp_path / "report.json")
    assert (report.total, report.kept, report.removed_exact, report.removed_near) == (9, 6, 1, 2)
    exact = [c for c in report.clusters if c.kind == "exact"]
    assert [(c.kept, c.removed) for c in exact] == [(ids[1], [ids[0]])]  # fewer steps wins among equals
    near = {c.kept: c for c in report.clusters if c.kind == "near"}
    assert near[ids[1]].removed == [ids[3]] and near[ids[1]].removed_questions == [QUESTIONS[3]]
    assert near[ids[5]].removed == [ids[6]] and 0.95 <= near[ids[5]].similarity <= 1.0
    # "Which city is ..." is 0.97 to a removed question but only 0.94 to the kept one: no chaining
    kept = kept_questions(tmp_path / "out")
    assert (QUESTIONS[4], "Paris") in kept and (QUESTIONS[2], "Lyon") in kept and (QUESTIONS[8], "Berlin") in kept
    assert len(kept) == 6
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["removed_near"] == 2 and len(written["clusters"]) == 3
    lineage = Dataset.open(tmp_path / "out").manifest.lineage[-1]
    assert lineage.operation == "dedup" and lineage.params["keep"] == "best" and lineage.params["removed_near"] == 2


def test_first_and_exact_only(source, tmp_path):
    ids = [t.trajectory_id for t in trajectories()]
    first = dedup(source.path, tmp_path / "first", keep="first", threshold=None)
    assert (first.removed_exact, first.removed_near, first.kept) == (1, 0, 8)
    assert first.clusters[0].kept == ids[0] and first.clusters[0].removed == [ids[1]]


def test_shortest_policy_and_transitive_chains_with_precomputed_vectors():
    def row(i, question, steps, tokens=100):
        return Row(i, f"t{i}", question, f"a{i}", True, 1.0, 0, steps, tokens, 10)

    rows = [row(0, "alpha", 5), row(1, "beta", 1), row(2, "gamma", 3), row(3, "delta", 2)]
    angle = np.deg2rad(16)  # cos 16 deg = 0.961; 32 deg = 0.848
    vectors = np.array(
        [[1, 0, 0], [np.cos(angle), np.sin(angle), 0], [np.cos(2 * angle), np.sin(2 * angle), 0], [0, 0, 1]],
        dtype=np.float32,
    )
    # beta is the shortest, so it leads and takes both neighbours
    shortest = plan(rows, keep="shortest", threshold=0.95, question_vectors=vectors)
    assert [(c.kept, sorted(c.removed)) for c in shortest.clusters] == [("t1", ["t0", "t2"])]
    # alpha leads with `first`: it takes beta; gamma is only similar to beta, so it stays
    first = plan(rows, keep="first", threshold=0.95, question_vectors=vectors)
    assert [(c.kept, c.removed) for c in first.clusters] == [("t0", ["t1"])] and first.kept == 3


def test_bad_options_fail_before_writing(source, tmp_path):
    with pytest.raises(ConfigError, match="keep policy"):
        dedup(source.path, tmp_path / "x", keep="longest")
    with pytest.raises(ConfigError, match="threshold"):
        dedup(source.path, tmp_path / "x", threshold=1.5)
    assert not (tmp_path / "x").exists()


def test_cli_reports_clusters(source, tmp_path):
    result = run_cli("dedup", str(source.path), str(tmp_path / "out"), "--keep", "best", "--report", str(tmp_path / "r.json"), env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    assert "exact duplicates: 1" in result.stdout and "near duplicates: 2" in result.stdout
    assert "What is the capital city of France?" in result.stdout
    assert (tmp_path / "r.json").is_file()
