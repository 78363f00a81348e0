"""`capture_tokens: true`: a real build on the embedded model stores every step's completion token
ids and logprobs, leaves the fingerprint alone, and `trajkit stats` reports the drift."""

from __future__ import annotations

import pytest

from tests.build.conftest import write_recipe

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_local_build_captures_tokens_and_stats_report_drift(tmp_path, task_file, cli):
    from trajkit.build import build
    from trajkit.drift import dataset_drift

    teacher = {"backend": "local", "max_wait_ms": 50}
    extra = {"samples_per_task": 1, "agent": {"max_steps": 2, "force_final_answer": True}, "capture_tokens": True}
    recipe = write_recipe(tmp_path, task_file, teacher=teacher, extra=extra)
    dataset, _ = build(recipe, limit=3)
    trajectories = list(dataset.trajectories())
    steps = [s for t in trajectories for s in t.steps if s.error is None or s.error.type != "teacher_error"]
    assert steps and all(s.token_ids and len(s.token_ids) == len(s.logprobs) for s in steps)
    assert all(v <= 0 for s in steps for v in s.logprobs)
    report = dataset_drift(dataset)
    assert report is not None and report.steps == len(steps) and report.trajectories == len(trajectories)
    result = cli("stats", str(dataset.path))
    assert result.returncode == 0 and "Token drift" in result.stdout

    # the switch is not part of the identity: the same recipe without it resumes the dataset
    plain = write_recipe(tmp_path, task_file, teacher=teacher, extra={**extra, "capture_tokens": False}, name="plain.yaml")
    again, run = build(plain, limit=3)
    assert len(again) == len(trajectories) and run.done == 0 and run.skipped == len(trajectories)
