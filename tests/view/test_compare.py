"""Step signatures and divergence: what counts as the same action, and why runs part."""

from tests.view.conftest import EXPECTED_DIVERGENCE, student_runs, teacher_runs
from trajkit.view.compare import divergence, pair_items, step_reason, step_signature


def _steps(trajectory):
    return [s.model_dump() for s in trajectory.steps]


def test_signature_ignores_wording_and_formatting():
    a = {"thought": "Let me search.", "code": "r = search('X')\nprint(r)",
         "tool_calls": [{"name": "python_interpreter", "arguments": '{"code": "..."}'},
                        {"name": "search", "arguments": '{"query": "Velmora  Founded"}'}]}
    b = {"thought": "Search it", "code": "print(search(\"x\"))",
         "tool_calls": [{"name": "search", "arguments": '{"query": "velmora founded"}'}]}
    assert step_signature(a) == step_signature(b) == "tools:search(query=velmora founded)"
    assert step_signature({"code": "print(6*7)", "observation": "42\n"}) == step_signature({"code": "x=42\nprint(x)", "observation": "42"})
    assert step_signature({"final_answer": " 1270 "}) == "answer:1270"
    assert step_signature({"error": {"type": "parse_error"}, "final_answer": "3"}) == "error:parse_error"
    assert step_signature({"code": "x = 1"}) == "code:x = 1"


def test_reason_is_what_the_compared_run_did():
    assert step_reason({"error": {"type": "timeout"}}) == "timeout"
    assert step_reason({"final_answer": "7"}) == "answered"
    assert step_reason({"code": "print(2)"}) == "different_action"


def test_divergence_of_the_known_student_runs():
    teacher = {t.task.task_id: t for t in teacher_runs()}
    for i, student in enumerate(student_runs()):
        found = divergence(_steps(teacher[student.task.task_id]), _steps(student))
        assert found == EXPECTED_DIVERGENCE[i], i


def test_divergence_when_one_run_stops():
    ref = [{"code": "a", "observation": "1"}, {"final_answer": "2"}]
    assert divergence(ref, ref[:1]) == (1, "ended")
    assert divergence(ref[:1], ref) == (1, "continued")
    assert divergence([], []) is None


def test_pair_items_use_the_first_correct_reference_sample():
    a = {0: [(0, False, [1, 2], ["x", "y"]), (1, True, [1, 3], ["x", "z"])], 5: [(2, True, [4], ["answered"])]}
    b = {0: [(7, True, [1, 3], ["x", "z"]), (8, False, [1, 2], ["x", "parse_error"])], 9: [(9, None, [], [])]}
    items = pair_items(a, b)
    assert items == [[0, 1, 7, 1, 1, -1, ""], [0, 1, 8, 1, 0, 1, "parse_error"]]
