"""DPO export: TRL's conversational preference format, per task and per SAG step."""

from __future__ import annotations

import json

import pytest

from trajkit.agent.prompts import load_prompt
from trajkit.exports.dpo import export_dpo
from trajkit.exports.output import MissingDataError


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_task_and_step_pairs_in_trl_conversational_format(dataset, tmp_path):
    out = tmp_path / "dpo"
    summary = export_dpo(str(dataset), str(out))
    assert sorted(p.name for p in out.iterdir()) == ["test.jsonl", "train.jsonl"]
    rows = _rows(out / "train.jsonl") + _rows(out / "test.jsonl")
    assert summary["pairs"] == len(rows)
    task_rows = [r for r in rows if r["kind"] == "task"]
    step_rows = [r for r in rows if r["kind"] == "step"]
    assert len(task_rows) == 4  # one correct and one incorrect trajectory per task
    # every step of the 4 correct trajectories (2+3+2+3 steps) has 2 failed candidates
    assert len(step_rows) == 2 * (2 + 3 + 2 + 3)
    student = load_prompt("student").text
    for row in rows:
        assert row["prompt"][0] == {"role": "system", "content": student}
        assert row["prompt"][-1]["role"] == "user"
        for side in ("chosen", "rejected"):
            assert row[side][0]["role"] == "assistant" and row[side][-1]["role"] == "assistant"
        assert row["chosen"] != row["rejected"]


def test_step_pairs_share_the_history_and_oppose_a_failed_candidate(dataset, tmp_path):
    out = tmp_path / "dpo"
    export_dpo(str(dataset), str(out), pairs="step")
    rows = _rows(out / "train.jsonl")
    second = [r for r in rows if r["step"] == 1]
    # the prompt of step 1 holds step 0's action and its observation
    assert [m["role"] for m in second[0]["prompt"]] == ["system", "user", "assistant", "user"]
    rejected = {r["rejected"][0]["content"] for r in rows}
    assert "I think the answer is 7" in rejected  # the unparseable candidate, verbatim
    assert any("print(1/0)" in text for text in rejected)  # the candidate that raised
    assert all(r["chosen"][0]["content"].startswith("Thought:") for r in rows)


def test_missing_pairs_is_one_line_and_writes_nothing(plain_dataset, tmp_path):
    out = tmp_path / "dpo"
    with pytest.raises(MissingDataError) as info:
        export_dpo(str(plain_dataset), str(out), pairs="task")
    message = str(info.value)
    assert "\n" not in message and "incorrect" in message and "samples_per_task" in message
    with pytest.raises(MissingDataError, match="agent.candidates"):
        export_dpo(str(plain_dataset), str(out), pairs="step")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dpo")] == []


def test_cli_export_format_dpo(dataset, tmp_path, cli):
    out = tmp_path / "dpo"
    result = cli("export", str(dataset), str(out), "--format", "dpo", "--pairs", "task")
    assert result.returncode == 0, result.stderr
    assert "task pairs: 4" in result.stdout
    again = cli("export", str(dataset), str(out), "--format", "dpo")
    assert again.returncode == 2 and "exists" in again.stderr + again.stdout
