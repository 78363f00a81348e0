"""The importer for the paper's reference-code run logs (format: shared/notes/seed-formats.md)."""

import json

import pytest

from trajkit.errors import InputError
from trajkit.importers import import_file
from trajkit.importers.reference import import_reference_logs
from trajkit.store import Dataset
from trajkit.validate import validate_dataset


def _msg(role, text):
    return {"role": role, "content": [{"type": "text", "text": text}]}


def _call(n, code, label="Calling tools:\n"):
    """A tool-call turn as the reference code writes it: a label, then a Python repr (not JSON)."""
    return label + repr([{"id": f"call_{n}", "type": "function", "function": {"name": "python_interpreter", "arguments": code}}])


SYSTEM = "You are an expert assistant who can solve any task using code blobs."
ASSISTANT_1 = "Thought: I will search for the founding year.\nCode:\n```py\nr = wikipedia_search('Velmora')\nprint(r)\n```<end_code>"
ASSISTANT_BAD = "Thought: I think the answer is 1820, I will just say it."
ASSISTANT_2 = "Thought: Compute the difference.\nCode:\n```py\nx = 1820 - yr\n```<end_code>"
ASSISTANT_3 = "Thought: Now answer.\nCode:\n```py\nfinal_answer(1820 - 1790)\n```<end_code>"


def good_record(log_as_string=False, role_style="plain"):
    assistant = "assistant" if role_style == "plain" else "MessageRole.ASSISTANT"
    messages = [
        _msg("system", SYSTEM),
        _msg("user", "New task:\nHow many years between X and Y?"),
        _msg(assistant, ASSISTANT_1),
        _msg("tool-call", _call(0, "r = wikipedia_search('Velmora')\nprint(r)")),
        _msg("tool-response", "Call id: call_0\nObservation:\nExecution logs:\nVelmora was founded in 1790.\nLast output from code snippet:\nNone"),
        _msg(assistant, ASSISTANT_BAD),
        _msg("tool-response", "Call id: call_1\nError:\nError in code parsing:\nYour code snippet is invalid, because the regex pattern ```(?:py|python)?\\n(.*?)\\n``` was not found in it.\nMake sure to include code with the correct pattern.\nNow let's retry: take care not to repeat previous errors! If you have retried several times, try a completely different approach.\n"),
        _msg(assistant, ASSISTANT_2),
        _msg("tool-call", _call(2, "x = 1820 - yr")),
        _msg("tool-response", "Call id: call_2\nError:\nCode execution failed at line 'x = 1820 - yr' due to: InterpreterError: The variable `yr` is not defined.\nNow let's retry: take care not to repeat previous errors! If you have retried several times, try a completely different approach.\n"),
        _msg(assistant, ASSISTANT_3),
        _msg("tool-call", _call(3, "final_answer(1820 - 1790)")),
        _msg("tool-response", "Call id: call_3\nObservation:\nExecution logs:\nLast output from code snippet:\n30"),
    ]
    log = {
        "messages": messages,
        "original_memory": {"system_prompt": {"system_prompt": SYSTEM}, "steps": [{}, {}, {}, {}]},
        "metadata": {"task": "How many years between X and Y?", "total_steps": 4, "success": False,
                     "final_answer": 30, "performance": {"total_duration": "12.5", "average_step_duration": 3.1}},
    }
    return {
        "model_id": "Qwen/Qwen2.5-32B-Instruct",
        "question": "How many years between X and Y?",
        "generated_answer": 30,
        "true_answer": "30",
        "log_data": json.dumps(log) if log_as_string else log,
        "cost": 0,
        "score": "1" if role_style != "plain" else 1,
    }


FAILED = {"model_id": "Qwen/Qwen2.5-32B-Instruct", "question": "What is the capital of Z?", "error": "Context length exceeded", "log_data": None, "cost": 0}


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "run.jsonl"
    lines = [good_record(), good_record(log_as_string=True, role_style="enum") | {"question": "Other q?"}, FAILED]
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return path


def test_steps_and_typed_errors(log_file):
    first = next(import_reference_logs(log_file, source="hotpotqa"))
    assert [s.error.type if s.error else None for s in first.steps] == [None, "parse_error", "execution_error", None]
    s0, s1, s2, s3 = first.steps
    assert s0.code == "r = wikipedia_search('Velmora')\nprint(r)"
    assert s0.observation == "Velmora was founded in 1790.\nNone"
    assert s0.thought == "I will search for the founding year."
    assert s1.code is None and s1.tool_calls == []
    assert "regex pattern" in s1.error.message and "Now let's retry" not in s1.error.message
    assert s2.error.exception == "InterpreterError" and "yr" in s2.error.message
    assert s3.final_answer == "30"
    assert first.outcome.status == "answered" and first.outcome.final_answer == "30" and first.outcome.correct is True
    assert first.provenance.kind == "import" and first.provenance.model == "Qwen/Qwen2.5-32B-Instruct"
    assert first.task.gold_answer == "30" and first.task.source == "hotpotqa"
    assert first.usage.wall_time_s == 12.5
    assert json.loads(s0.tool_calls[0].arguments) == {"code": s0.code}


def test_string_log_data_enum_roles_and_failed_runs(log_file):
    rows = list(import_reference_logs(log_file))
    assert len(rows) == 3
    assert [s.error.type if s.error else None for s in rows[1].steps] == [None, "parse_error", "execution_error", None]
    assert rows[1].outcome.correct is True  # score "1" as a string
    assert rows[2].outcome.status == "imported_error" and rows[2].steps == []
    assert "Context length" in rows[2].outcome.grader_detail


def test_import_writes_a_valid_dataset_with_lineage(log_file, tmp_path):
    ds = import_file(log_file, tmp_path / "imported", format="reference", source_name="hotpotqa")
    assert validate_dataset(Dataset.open(ds.path)) == 3
    assert ds.manifest.lineage[-1].operation == "import"
    assert len({t.trajectory_id for t in ds.trajectories()}) == 3


def test_same_question_twice_becomes_two_samples(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(good_record()) + "\n" + json.dumps(good_record()) + "\n")
    rows = list(import_reference_logs(path))
    assert [r.sample_index for r in rows] == [0, 1]
    assert rows[0].task.task_id == rows[1].task.task_id


def test_bad_lines_name_their_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good_record()) + "\n" + '{"question": "q", "log_data": "{broken"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: log_data is a string but not JSON"):
        list(import_reference_logs(path))


def test_tool_call_turn_with_or_without_its_label_gives_the_same_steps(tmp_path):
    labelled = good_record()
    bare = json.loads(json.dumps(labelled))
    for message in bare["log_data"]["messages"]:
        if message["role"] == "tool-call":
            text = message["content"][0]["text"]
            message["content"][0]["text"] = text.removeprefix("Calling tools:\n")
    assert labelled != bare
    path = tmp_path / "two.jsonl"
    path.write_text(json.dumps(labelled) + "\n" + json.dumps(bare | {"question": "Other q?"}) + "\n")
    first, second = import_reference_logs(path)
    for steps in (first.steps, second.steps):
        assert [s.error.type if s.error else None for s in steps] == [None, "parse_error", "execution_error", None]
        assert [len(s.tool_calls) for s in steps] == [1, 0, 1, 1]
    assert [s.code for s in first.steps] == [s.code for s in second.steps]
