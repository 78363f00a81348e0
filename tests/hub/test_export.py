"""`trajkit export`: the Hub repository layout written to a local folder."""

from __future__ import annotations

import hashlib

import pyarrow.parquet as pq
import pytest

from tests.factories import make_trajectory
from tests.hub.conftest import sorted_rows
from trajkit.agent.tool_calls import tool_call_messages
from trajkit.errors import DatasetError, InputError, SchemaError
from trajkit.hub.layout import split_names
from trajkit.hub.repo_folder import export_dataset
from trajkit.schema import PARQUET_VERSION_KEY


def digest(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_export_writes_the_hub_layout(dataset, tmp_path):
    out = tmp_path / "export"
    layout = export_dataset(dataset, out)
    assert layout.files() == [
        "README.md",
        "assets/accuracy_by_domain.png",
        "assets/steps_histogram.png",
        "sft/test-00000-of-00001.parquet",
        "sft/train-00000-of-00001.parquet",
        "trajectories/test-00000-of-00001.parquet",
        "trajectories/train-00000-of-00001.parquet",
    ]
    assert layout.splits == {"train": 14, "test": 4}
    # the trajectories config is the stored rows, unchanged, with trajkit's schema metadata
    train = pq.read_table(out / "trajectories/train-00000-of-00001.parquet")
    test = pq.read_table(out / "trajectories/test-00000-of-00001.parquet")
    assert train.schema.metadata[PARQUET_VERSION_KEY] == b"1"
    import pyarrow as pa

    assert sorted_rows(pa.concat_tables([train, test])).equals(sorted_rows(dataset.to_arrow()))
    assert set(pa.compute.struct_field(test.column("task"), "split").to_pylist()) == {"test"}


def test_sft_config_holds_the_student_conversation_with_loss_flags(dataset, tmp_path):
    from trajkit.agent.prompts import load_prompt
    from trajkit.sft.convert import ExampleOptions, loss_turns, student_messages

    student_prompt = load_prompt("student").text
    out = tmp_path / "export"
    export_dataset(dataset, out)
    rows = pq.read_table(out / "sft/train-00000-of-00001.parquet").to_pylist()
    by_id = {t.trajectory_id: t for t in dataset.trajectories()}
    assert len(rows) == 14
    for row in rows:
        traj = by_id[row["trajectory_id"]]
        expected = student_messages(traj, student_prompt)
        trained = {turn.message_index for turn in loss_turns(traj, expected, traj.steps, ExampleOptions())}
        assert row["system_prompt_id"].startswith("student")
        assert [{"role": m["role"], "content": m["content"]} for m in row["messages"]] == expected
        assert [m["train"] for m in row["messages"]] == [i in trained for i in range(len(expected))]
        assert row["correct"] == traj.outcome.correct and row["final_answer"] == traj.outcome.final_answer


def test_sft_tool_calls_config_holds_the_openai_messages(dataset, tmp_path):
    import json

    out = tmp_path / "export"
    layout = export_dataset(dataset, out, configs=["trajectories", "sft", "sft_tool_calls"])
    assert "sft_tool_calls/train-00000-of-00001.parquet" in layout.files()
    rows = pq.read_table(out / "sft_tool_calls/train-00000-of-00001.parquet").to_pylist()
    by_id = {t.trajectory_id: t for t in dataset.trajectories()}
    assert len(rows) == 14
    for row in rows:
        expected = tool_call_messages(by_id[row["trajectory_id"]])
        assert json.loads(row["tools"]) == expected["tools"]
        assert row["correct"] == expected["correct"]
        assert len(row["messages"]) == len(expected["messages"])
        for got, want in zip(row["messages"], expected["messages"], strict=True):
            assert got["role"] == want["role"] and got["content"] == want["content"]
            assert got["tool_call_id"] == want.get("tool_call_id")
            if "tool_calls" in want:
                call = got["tool_calls"][0]
                assert call["function"]["name"] == "python_interpreter"
                # arguments as an object (chat-template convention), same content as the JSON text
                assert call["function"]["arguments"] == json.loads(want["tool_calls"][0]["function"]["arguments"])
            else:
                assert got["tool_calls"] is None
    card = (out / "README.md").read_text()
    assert "config_name: sft_tool_calls" in card and "`sft_tool_calls`" in card


def test_export_is_deterministic(dataset, tmp_path):
    export_dataset(dataset, tmp_path / "a")
    export_dataset(dataset, tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_exported_folder_loads_with_datasets_in_both_configs(dataset, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "export"
    export_dataset(dataset, out)
    trajectories = datasets.load_dataset(str(out), "trajectories", cache_dir=str(tmp_path / "cache"))
    sft = datasets.load_dataset(str(out), "sft", cache_dir=str(tmp_path / "cache"))
    assert {k: len(v) for k, v in trajectories.items()} == {"train": 14, "test": 4}
    assert {k: len(v) for k, v in sft.items()} == {"train": 14, "test": 4}
    first = trajectories["test"][0]
    assert first["steps"][0]["error"]["type"] == "execution_error"
    assert len(first["steps"][0]["candidates"]) == 3
    example = sft["train"][0]
    assert [m["role"] for m in example["messages"]][:4] == ["system", "user", "assistant", "user"]
    assert example["messages"][2]["content"].startswith("Thought:") and example["messages"][2]["train"] is True
    # the default config is trajectories
    default = datasets.load_dataset(str(out), split="test", cache_dir=str(tmp_path / "cache"))
    assert "steps" in default.column_names


def test_one_config_only(dataset, tmp_path):
    layout = export_dataset(dataset, tmp_path / "out", configs=["sft"])
    assert layout.configs == ["sft"]
    assert not any(f.startswith("trajectories/") for f in layout.files())
    card = (tmp_path / "out/README.md").read_text()
    assert "config_name: sft" in card and "config_name: trajectories" not in card


def test_unknown_config_is_an_input_error(dataset, tmp_path):
    with pytest.raises(InputError, match="unknown config 'chat'"):
        export_dataset(dataset, tmp_path / "out", configs=["chat"])
    assert not (tmp_path / "out").exists()


def test_split_names_are_made_valid_for_datasets(make_dataset, tmp_path):
    rows = [make_trajectory(i, split="dev-2024") for i in range(3)] + [make_trajectory(9, split="train")]
    layout = export_dataset(make_dataset(rows), tmp_path / "out")
    assert layout.splits == {"dev_2024": 3, "train": 1}
    assert "trajectories/dev_2024-00000-of-00001.parquet" in layout.files()
    assert "`dev-2024` → `dev_2024`" in (tmp_path / "out/README.md").read_text()
    with pytest.raises(InputError, match="both publish as split"):
        split_names(["dev-1", "dev_1"])


def test_shards_split_large_splits(dataset, tmp_path):
    from trajkit.hub.repo_folder import build_layout

    root = tmp_path / "root"
    root.mkdir()
    layout = build_layout(dataset, root, rows_per_shard=5)
    train = [f for f in layout.files() if f.startswith("trajectories/train-")]
    assert train == [f"trajectories/train-0000{i}-of-00003.parquet" for i in range(3)]
    assert [pq.read_metadata(root / f).num_rows for f in train] == [5, 5, 4]
    # rows keep the dataset's order within their split, across the dataset's two shards
    ids = [i for f in train for i in pq.read_table(root / f, columns=["trajectory_id"]).column(0).to_pylist()]
    assert ids == [t.trajectory_id for t in dataset.trajectories() if t.task.split == "train"]
    sft = [f for f in layout.files() if f.startswith("sft/train-")]
    assert [pq.read_metadata(root / f).num_rows for f in sft] == [5, 5, 4]


def test_compacting_a_dataset_does_not_change_the_published_files(dataset, tmp_path):
    from trajkit.store import Dataset, compact

    export_dataset(dataset, tmp_path / "before")
    compact(dataset)
    assert len(Dataset.open(dataset.path).manifest.shards) == 1
    export_dataset(dataset.path, tmp_path / "after")
    before, after = digest(tmp_path / "before"), digest(tmp_path / "after")
    assert {k: v for k, v in before.items() if k != "README.md"} == {k: v for k, v in after.items() if k != "README.md"}


def test_export_refuses_existing_output_and_invalid_data(dataset, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DatasetError, match="already exists"):
        export_dataset(dataset, out)
    # a shard with a value outside the schema's vocabulary
    shard = dataset.shard_paths()[0]
    table = pq.read_table(shard)
    import pyarrow as pa

    outcome = table.column("outcome").combine_chunks()
    statuses = pa.array(["bogus"] * len(table), pa.string())
    fields = [outcome.field(i) if outcome.type.field(i).name != "status" else statuses for i in range(outcome.type.num_fields)]
    bad = table.set_column(table.schema.get_field_index("outcome"), "outcome", pa.StructArray.from_arrays(fields, fields=list(outcome.type)))
    pq.write_table(bad, shard)
    with pytest.raises(SchemaError, match="outcome.status"):
        export_dataset(dataset.path, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out2")]
