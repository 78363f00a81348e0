"""Datasets for the export tests: graded trajectories of shared tasks, with SAG candidates."""

from __future__ import annotations

import pytest

from tests.factories import make_trajectory
from trajkit.schema import Candidate, StepError
from trajkit.store import Dataset


def with_failed_candidates(traj):
    """Give every step SAG candidates: the selected one ran, one failed to parse, one raised."""
    for step in traj.steps:
        step.candidates = [
            Candidate(index=0, raw_output=step.raw_output, thought=step.thought, code=step.code,
                      parse_ok=True, exec_ok=True, output=step.observation, selected=True, votes=2),
            Candidate(index=1, raw_output="I think the answer is 7", parse_ok=False,
                      error=StepError(type="parse_error", message="no code block found")),
            Candidate(index=2, raw_output="Thought: divide\nCode:\n```py\nprint(1/0)\n```", thought="divide",
                      code="print(1/0)", parse_ok=True, exec_ok=False,
                      error=StepError(type="execution_error", message="division by zero", exception="ZeroDivisionError")),
        ]
    return traj


def trajectories(*, candidates: bool = True, incorrect: bool = True):
    rows = []
    for i in range(4):
        split = "test" if i == 3 else "train"
        good = make_trajectory(i, n_steps=2 + i % 2, correct=True, split=split)
        rows.append(with_failed_candidates(good) if candidates else good)
        if incorrect:
            rows.append(make_trajectory(i, n_steps=2, correct=False, sample_index=1, split=split, error_at=0))
    return rows


@pytest.fixture
def dataset(tmp_path):
    ds = Dataset.create(tmp_path / "ds", name="graded")
    ds.append(trajectories())
    return ds.path


@pytest.fixture
def plain_dataset(tmp_path):
    """All correct, no SAG candidates: nothing to build preference pairs from."""
    ds = Dataset.create(tmp_path / "plain", name="plain")
    ds.append(trajectories(candidates=False, incorrect=False))
    return ds.path
