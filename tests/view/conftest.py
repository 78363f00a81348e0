"""Fixtures for the viewer and report tests: runs of the same tasks that leave each other at
known steps, a SAG run whose votes fixed one task and broke another, hostile model output, and a
real headless Chromium (the one the Argilla UI test uses)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.browser import start_chromium
from tests.conftest import REPO
from tests.factories import make_trajectory
from trajkit.schema import (
    Candidate,
    Outcome,
    Provenance,
    RetrievedDoc,
    Step,
    StepError,
    Task,
    ToolCall,
    Trajectory,
    Usage,
)
from trajkit.store import Dataset

ARTIFACTS = Path(os.environ.get("TRAJKIT_TEST_ARTIFACTS", REPO / "build" / "test-artifacts")) / "view"

HOSTILE_CODE = 'print("<script>window.__pwned=2</script>")\n# <img src=x onerror="window.__pwned=3">'
HOSTILE_QUESTION = "What does <script>window.__pwned=1</script> print in Velmora?"


def provenance(kind: str, model: str, sag_n: int = 1) -> Provenance:
    return Provenance(kind=kind, backend="local", model=model, max_steps=5, sag_n=sag_n).with_fingerprint()


TEACHER = provenance("teacher", "teacher-32b")
STUDENT = provenance("student", "student-135m")


def student_runs() -> list[Trajectory]:
    """The student on tasks 0-3, leaving the teacher's path at known steps:
    task 0 never, task 1 at step 1 (execution error), task 2 at step 0 (another search),
    task 3 at step 1 (answers one step early, wrongly)."""
    same = make_trajectory(0, n_steps=3, provenance=STUDENT)
    error = make_trajectory(1, n_steps=3, correct=False, error_at=1, provenance=STUDENT)
    other = make_trajectory(2, n_steps=3, correct=False, provenance=STUDENT)
    other.steps[0].tool_calls[0].arguments = json.dumps({"query": "Velmora2 population"})
    early = make_trajectory(3, n_steps=2, correct=False, provenance=STUDENT)
    early.steps[1].final_answer = "1799"
    return [same, error, other, early]


EXPECTED_DIVERGENCE = {0: None, 1: (1, "execution_error"), 2: (0, "different_action"), 3: (1, "answered")}


def teacher_runs() -> list[Trajectory]:
    runs = [make_trajectory(i, n_steps=3, provenance=TEACHER) for i in range(6)]
    runs.append(hostile_trajectory())
    return runs


def hostile_trajectory() -> Trajectory:
    """Model output that would run or render if the page ever interpreted it as HTML."""
    task = Task(task_id="hostile:1", source="synthetic", domain="qa", question=HOSTILE_QUESTION, gold_answer="<b>42</b>")
    step = Step(
        index=0,
        thought='<iframe src="javascript:window.__pwned=5"></iframe> I will print it.',
        code=HOSTILE_CODE,
        observation="<b>bold</b><img src=x onerror=window.__pwned=4>",
        raw_output="Thought: ...",
        tool_calls=[ToolCall(name="search", arguments=json.dumps({"query": "<script>x</script>"}), output="r",
                             retrieved=[RetrievedDoc(doc_id="d<1>", title="<img src=x onerror=window.__pwned=6>", score=1.0)])],
        error=StepError(type="execution_error", message="<script>window.__pwned=7</script>", exception="ValueError", line=1),
        candidates=[
            Candidate(index=0, raw_output="<script>window.__pwned=8</script>", parse_ok=False, exec_ok=False),
            Candidate(index=1, raw_output="x", code=HOSTILE_CODE, parse_ok=True, exec_ok=True, vote_key="output:<b>",
                      votes=1, selected=True, output="<b>bold</b>"),
        ],
    )
    final = Step(index=1, thought="Done.", code='final_answer("<script>alert(1)</script>")', raw_output="...",
                 final_answer="<script>alert(1)</script>")
    return Trajectory.new(
        task=task, provenance=TEACHER, steps=[step, final],
        outcome=Outcome(status="answered", final_answer="<script>alert(1)</script>", correct=False, grader="exact_match"),
        usage=Usage(total_tokens=10, steps=2),
    )


def sag_runs() -> tuple[list[Trajectory], list[Trajectory]]:
    """The same model greedy and with SAG (4 candidates) on tasks 0-3: voting fixes task 1 and
    breaks task 2; tasks 0 and 3 are unchanged."""
    greedy_model = provenance("student", "student-135m", sag_n=1)
    sag_model = provenance("student", "student-135m", sag_n=4)
    greedy = [make_trajectory(i, n_steps=2, correct=i in (0, 2), provenance=greedy_model) for i in range(4)]
    voted = []
    for i in range(4):
        t = make_trajectory(i, n_steps=2, correct=i in (0, 1), provenance=sag_model)
        for step in t.steps:
            answer = step.final_answer
            step.candidates = [
                Candidate(index=0, raw_output="Thought: hmm", parse_ok=False, exec_ok=False,
                          error=StepError(type="parse_error", message="no code block")),
                Candidate(index=1, raw_output="x", code=step.code, parse_ok=True, exec_ok=True, final_answer=answer,
                          vote_key=f"answer:{answer}" if answer else "output:a", votes=2, selected=True),
                Candidate(index=2, raw_output="x", code=step.code, parse_ok=True, exec_ok=True, final_answer=answer,
                          vote_key=f"answer:{answer}" if answer else "output:a", votes=2),
                Candidate(index=3, raw_output="x", code="print(1)", parse_ok=True, exec_ok=True, output="1",
                          vote_key="output:1", votes=1),
            ]
        voted.append(t)
    return greedy, voted


def make_dataset(path: Path, trajectories: list[Trajectory], name: str | None = None) -> Path:
    dataset = Dataset.create(path, name=name)
    if trajectories:
        dataset.append(trajectories)
    return path


@pytest.fixture
def teacher_student(tmp_path) -> tuple[Path, Path]:
    return (make_dataset(tmp_path / "teacher", teacher_runs()), make_dataset(tmp_path / "student", student_runs()))


@pytest.fixture
def sag_pair(tmp_path) -> tuple[Path, Path]:
    greedy, voted = sag_runs()
    return make_dataset(tmp_path / "eval-greedy", greedy), make_dataset(tmp_path / "eval-sag4", voted)


def newer_schema_dataset(path: Path) -> Path:
    """A dataset whose manifest says it was written by a future trajkit (schema v2)."""
    make_dataset(path, [make_trajectory(0)])
    manifest = json.loads((path / "trajkit.json").read_text())
    manifest["schema_version"] = 2
    (path / "trajkit.json").write_text(json.dumps(manifest))
    return path


# ----------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"), console_log=True)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    """Keep a screenshot of the current view as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def console_errors(driver) -> list[str]:
    """Severe console entries since the last call (clears the log)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
