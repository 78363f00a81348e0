"""verl, LLaMA-Factory and axolotl exports, loaded with `datasets` as their trainers load them."""

from __future__ import annotations

import json

import pytest

from trajkit.agent.prompts import load_prompt
from trajkit.exports.axolotl import export_axolotl
from trajkit.exports.llamafactory import alternates, export_llamafactory
from trajkit.exports.output import MissingDataError
from trajkit.exports.verl import export_verl


def test_verl_from_a_dataset_has_verls_columns(dataset, tmp_path):
    import datasets

    out = tmp_path / "verl"
    summary = export_verl(str(dataset), str(out))
    assert summary["prompts"] == 4  # distinct tasks, not trajectories
    train = datasets.load_dataset("parquet", data_files=str(out / "train.parquet"), split="train")
    features = train.features
    assert set(features) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert features["prompt"].feature["role"].dtype == "string"  # a list of {role, content}
    assert features["reward_model"]["ground_truth"].dtype == "string"
    assert features["extra_info"]["index"].dtype == "int64"
    row = train[0]
    assert row["prompt"][0] == {"role": "system", "content": load_prompt("student").text}
    assert row["prompt"][1]["content"].startswith("New task:\n")
    assert row["reward_model"] == {"style": "rule", "ground_truth": "1800"}
    assert row["ability"] == "qa" and row["data_source"] == "synthetic"
    assert len(train) == 3 and (out / "test.parquet").is_file()


def test_verl_from_a_task_set(tmp_path, seed_tasks_dir):
    import datasets

    out = tmp_path / "verl"
    summary = export_verl("seed:bamboogle", str(out))
    assert summary["read"] == "task set" and summary["prompts"] == 125
    loaded = datasets.load_dataset("parquet", data_files=str(out / "test.parquet"), split="train")
    assert len(loaded) == 125 and loaded[0]["data_source"] == "bamboogle"
    assert loaded[0]["reward_model"]["ground_truth"]


def test_verl_without_gold_answers_fails_cleanly(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"question": "Who wrote Hamlet?"}) + "\n")
    with pytest.raises(MissingDataError, match="gold answer"):
        export_verl(str(tasks), str(tmp_path / "verl"))
    assert not (tmp_path / "verl").exists()


def test_llamafactory_sharegpt_with_function_calls(dataset, tmp_path):
    import datasets

    out = tmp_path / "lf"
    summary = export_llamafactory(str(dataset), str(out))
    info = json.loads((out / "dataset_info.json").read_text())
    entry = info["trajkit_agent"]
    assert entry["formatting"] == "sharegpt" and entry["tags"]["function_tag"] == "function_call"
    assert entry["tags"]["observation_tag"] == "observation"
    loaded = datasets.load_dataset("json", data_files=str(out / entry["file_name"]), split="train")
    assert len(loaded) == summary["conversations"] == 4  # the incorrect ones are left out
    turn = loaded.features["conversations"].feature
    assert set(turn) == {"from", "value"}
    for row in loaded:
        turns = row["conversations"]
        assert alternates(turns)
        calls = [t for t in turns if t["from"] == "function_call"]
        assert calls, "every step of these trajectories runs code"
        thought, call = calls[0]["value"].split("\n</think>\n\n")
        assert thought.startswith("<think>\nI need step 0")
        parsed = json.loads(call)
        assert parsed["name"] == "python_interpreter" and "search(" in parsed["arguments"]["code"]
        assert json.loads(row["tools"])[0]["name"] == "python_interpreter"
        assert "final_answer(" in json.loads(calls[-1]["value"].split("</think>\n\n")[-1])["arguments"]["code"]


def test_axolotl_messages_carry_train_flags(dataset, tmp_path, monkeypatch):
    import datasets
    import yaml

    summary = export_axolotl(str(dataset), str(tmp_path / "ax"))
    out = (tmp_path / "ax").rename(tmp_path / "moved")  # relocatable: no absolute path inside
    assert str(tmp_path) not in (out / "axolotl.yaml").read_text()
    monkeypatch.chdir(out)  # axolotl resolves the paths from where it runs
    config = yaml.safe_load((out / "axolotl.yaml").read_text())
    section = config["datasets"][0]
    assert section["type"] == "chat_template" and section["message_field_training"] == "train"
    assert section["message_field_training_detail"] == "train_detail"
    loaded = datasets.load_dataset("json", data_files=section["data_files"], split="train")
    assert len(loaded) == summary["conversations"] == 4
    message = loaded.features["messages"].feature
    assert {"role", "content", "train"} <= set(message)
    assert message["train"].dtype == "bool"
    row = loaded[0]
    assert row["messages"][0]["role"] == "system" and row["messages"][0]["train"] is False
    trained = [m for m in row["messages"] if m["train"]]
    assert trained and all(m["role"] == "assistant" for m in trained)
    assert "tools" not in loaded.column_names  # would change the chat template's rendering


def test_axolotl_excluded_error_step_carries_no_loss(tmp_path):
    from tests.factories import make_trajectory
    from trajkit.store import Dataset

    ds = Dataset.create(tmp_path / "ds")
    ds.append([make_trajectory(0, n_steps=3, correct=True, error_at=1)])
    export_axolotl(str(ds.path), str(tmp_path / "ax"))
    row = json.loads((tmp_path / "ax" / "train.jsonl").read_text().splitlines()[0])
    flags = [m["train"] for m in row["messages"] if m["role"] == "assistant"]
    assert flags == [True, False, True]


def test_tokens_export_needs_captured_tokens(dataset, tmp_path):
    from trajkit.exports.tokens import export_tokens

    with pytest.raises(MissingDataError) as info:
        export_tokens(str(dataset), str(tmp_path / "tok"))
    assert "capture_tokens: true" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "tok").exists()


def test_tokens_export_rows(tmp_path):
    import datasets

    from tests.factories import make_trajectory
    from trajkit.exports.tokens import export_tokens
    from trajkit.store import Dataset

    traj = make_trajectory(0, n_steps=2)
    traj.steps[0].token_ids, traj.steps[0].logprobs = [5, 6, 7], [-0.1, -0.2, -0.3]
    ds = Dataset.create(tmp_path / "ds")
    ds.append([traj])
    summary = export_tokens(str(ds.path), str(tmp_path / "tok"))
    assert summary["steps"] == 1
    loaded = datasets.load_dataset("parquet", data_files=str(tmp_path / "tok" / "train.parquet"), split="train")
    row = loaded[0]
    assert row["completion_ids"] == [5, 6, 7] and row["step"] == 0 and row["reward"] == 1.0
    assert row["logprobs"] == pytest.approx([-0.1, -0.2, -0.3])
