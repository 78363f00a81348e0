"""The experiment's shipped teacher runs: a re-run is checked against its shipped run trajectory by
trajectory (same task and sample, correctness not significantly different), and the shipped runs
are the teacher's work on exactly the tasks `make experiment` generates."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import make_trajectory
from trajkit.experiment.__main__ import main
from trajkit.experiment.shipped import check, stale_tasks
from trajkit.schema import Step
from trajkit.store import Dataset

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "experiment-data" / "teacher-runs"
TEACHER_RUNS = ["teacher", "teacher-ftp", "teacher-cot", "teacher-cot-rag", "eval-teacher"]


def teacher_run(path, correct: list[bool], text: str = "Thought: look it up"):
    rows = []
    for i, ok in enumerate(correct):
        traj = make_trajectory(i, n_steps=1, correct=ok)
        step = Step(index=0, thought=text, raw_output=text)
        rows.append(traj.model_copy(update={"steps": [step]}))
    Dataset.create(path).append(rows)
    return path


def test_a_rerun_identical_to_its_shipped_run_is_consistent(tmp_path):
    shipped = teacher_run(tmp_path / "shipped", [True, False] * 10)
    rerun = teacher_run(tmp_path / "rerun", [True, False] * 10)
    found = check(shipped, rerun)
    assert (found.paired, found.same_text, found.same_answer, found.shipped_correct) == (20, 20, 20, 10)
    assert found.consistent and found.line().startswith("rerun: consistent; 20 paired trajectories")


def test_other_text_with_the_same_correctness_is_reported_not_refused(tmp_path):
    shipped = teacher_run(tmp_path / "shipped", [True] * 6)
    rerun = teacher_run(tmp_path / "rerun", [True] * 6, text="Thought: search first")
    found = check(shipped, rerun)
    assert found.same_text == 0 and found.consistent


def test_a_rerun_that_solves_significantly_fewer_tasks_fails_the_check(tmp_path, capsys):
    shipped = teacher_run(tmp_path / "shipped", [True] * 12)
    rerun = teacher_run(tmp_path / "rerun", [False] * 8 + [True] * 4)
    found = check(shipped, rerun)
    assert (found.only_shipped, found.only_rerun) == (8, 0)
    assert found.p_value == pytest.approx(2 / 2**8)
    assert not found.consistent
    assert main(["check-teacher", str(shipped), str(rerun)]) == 1
    assert "DIFFERS (p < 0.05)" in capsys.readouterr().out


def test_a_rerun_missing_trajectories_fails_the_check(tmp_path, capsys):
    shipped = teacher_run(tmp_path / "shipped", [True] * 5)
    rerun = teacher_run(tmp_path / "rerun", [True] * 3)
    assert (check(shipped, rerun).missing, check(rerun, shipped).extra) == (2, 2)
    assert main(["check-teacher", str(shipped), str(rerun)]) == 1
    assert "DIFFERENT TRAJECTORIES (2 missing from the re-run, 0 extra)" in capsys.readouterr().out
    assert main(["check-teacher", str(shipped), str(tmp_path / "nowhere")]) == 2
    assert "not a trajkit dataset" in capsys.readouterr().err


def synth_command() -> list[str]:
    """The `trajkit tasks synth` command of scripts/experiment.sh (one source of the task knobs)."""
    script = (ROOT / "scripts" / "experiment.sh").read_text(encoding="utf-8")
    found = re.search(r'\$TK tasks synth "\$OUT/tasks"((?:[^\n]*\\\n)*[^\n]*)', script)
    assert found, "scripts/experiment.sh has no `$TK tasks synth \"$OUT/tasks\"` line"
    return shlex.split(found.group(1).replace("\\\n", " "))


@pytest.fixture(scope="module")
def experiment_tasks(tmp_path_factory):
    tasks = tmp_path_factory.mktemp("experiment") / "tasks"
    subprocess.run([sys.executable, "-m", "trajkit", "tasks", "synth", str(tasks), *synth_command()],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "trajkit.experiment", "prepare", str(tasks)], check=True, capture_output=True)
    return tasks


def test_the_shipped_teacher_runs_are_on_the_tasks_make_experiment_generates(experiment_tasks):
    runs = [SHIPPED / name for name in TEACHER_RUNS]
    assert all((run / "trajkit.json").is_file() for run in runs), f"missing shipped runs under {SHIPPED}"
    assert stale_tasks(experiment_tasks, runs) == []
    sizes = {name: Dataset.open(SHIPPED / name).manifest.rows for name in TEACHER_RUNS}
    assert sizes == {"teacher": 159, "teacher-ftp": 159, "teacher-cot": 160, "teacher-cot-rag": 160, "eval-teacher": 191}


def test_a_shipped_run_on_other_tasks_is_refused(experiment_tasks, tmp_path, capsys):
    other = teacher_run(tmp_path / "other", [True, True])
    problems = stale_tasks(experiment_tasks, [other])
    assert len(problems) == 2 and "is not among the generated tasks" in problems[0]
    assert main(["check-tasks", str(experiment_tasks), str(other)]) == 2
    assert "2 tasks differ" in capsys.readouterr().err


def test_make_experiment_refuses_an_unknown_teacher_mode_before_any_work():
    env = {**os.environ, "TEACHER": "rerun", "TRAJKIT_CPU_LOCKED": "1"}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "experiment.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: TEACHER=rerun — use TEACHER=shipped (the default) or TEACHER=run"
