"""Trajectory -> Argilla record rendering (no server needed)."""

from __future__ import annotations

from tests.factories import make_trajectory
from trajkit.curate.records import (
    MAX_MESSAGE_CHARS,
    record_fields,
    record_metadata,
    record_suggestions,
    steps_chat,
)
from trajkit.schema import Outcome, Step, StepError


def test_fields_hold_question_answers_and_steps():
    traj = make_trajectory(2, n_steps=2)
    fields = record_fields(traj)
    assert fields["question"] == traj.task.question
    assert fields["gold_answer"] == traj.task.gold_answer
    assert fields["final_answer"] == traj.outcome.final_answer
    chat = fields["steps"]
    assert [m["role"] for m in chat] == ["assistant", "user", "assistant", "system"]
    assert "**Thought:** I need step 0" in chat[0]["content"]
    assert "```python\nr = search('Velmora2')" in chat[0]["content"]
    assert "`search(" in chat[1]["content"] and "→ Velmora2" in chat[1]["content"]
    assert "Velmora2 was founded in 1802." in chat[1]["content"]
    assert "graded **correct** by `exact_match`" in chat[-1]["content"]


def test_missing_answers_are_left_out_and_empty_runs_still_render():
    traj = make_trajectory(1, n_steps=1)
    traj.task.gold_answer = None
    traj.outcome = Outcome(status="teacher_error")
    traj.steps = []
    fields = record_fields(traj)
    assert "gold_answer" not in fields and "final_answer" not in fields
    assert [m["role"] for m in fields["steps"]] == ["system"]
    assert "no steps" in fields["steps"][0]["content"]


def test_errors_unparsed_output_and_backticks_are_rendered_safely():
    traj = make_trajectory(3, n_steps=1)
    traj.steps = [
        Step(index=0, raw_output="I will just guess ```", error=StepError(type="parse_error", message="no code block")),
        Step(index=1, thought="t", code="print('```')", observation="```\n" + "x" * (MAX_MESSAGE_CHARS * 2)),
    ]
    chat = steps_chat(traj)
    assert "**Raw output** (not parsed)" in chat[0]["content"] and "````\nI will just guess ```\n````" in chat[0]["content"]
    assert "**parse_error:**" in chat[1]["content"]
    assert "````python\nprint('```')\n````" in chat[2]["content"]
    assert len(chat[3]["content"]) < MAX_MESSAGE_CHARS + 100 and "more characters not shown" in chat[3]["content"]


def test_metadata_for_filtering():
    traj = make_trajectory(4, n_steps=3, correct=False, error_at=1)
    meta = record_metadata(traj)
    assert meta == {
        "correct": "false",
        "domain": "qa",
        "source": "synthetic",
        "status": "answered",
        "teacher": traj.provenance.model,
        "error_types": ["execution_error"],
        "n_steps": 3,
        "tokens": 360,
    }
    assert record_metadata(make_trajectory(5, correct=None))["correct"] == "unknown"
    assert record_metadata(make_trajectory(6))["error_types"] == ["none"]


def test_grader_verdicts_become_suggestions():
    right = record_suggestions(make_trajectory(1, correct=True))
    assert right == [{"question_name": "verdict", "value": "accept", "score": 1.0, "agent": "exact_match"}]
    wrong = {s["question_name"]: s for s in record_suggestions(make_trajectory(2, correct=False, error_at=0))}
    assert wrong["verdict"]["value"] == "reject" and wrong["verdict"]["score"] == 1.0
    assert wrong["error_tags"]["value"] == ["wrong_answer", "bad_code"]
    assert record_suggestions(make_trajectory(3, correct=None)) == []
