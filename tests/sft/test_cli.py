"""`trajkit train` (checks, dry run) and `trajkit sft export`, run as a user would."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import yaml

from tests.factories import make_trajectory
from trajkit.store import Dataset


def _dataset(tmp_path, trajectories, name="data"):
    dataset = Dataset.create(tmp_path / name)
    dataset.append(trajectories)
    return dataset.path


def _recipe(tmp_path, **fields):
    body = {"model": "embedded", "output_dir": str(tmp_path / "out"), **fields}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_empty_mask_stops_the_run_before_any_output(tmp_path, cli):
    untrainable = make_trajectory(3, n_steps=2)
    for step in untrainable.steps:
        step.train = False
    data = _dataset(tmp_path, [make_trajectory(1), untrainable])
    result = cli("train", str(_recipe(tmp_path, dataset=str(data))))
    assert result.returncode == 2, result.stderr
    assert f"trajectory {untrainable.trajectory_id}" in result.stderr
    assert "empty loss mask" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_train_refuses_an_existing_output_and_bad_recipes(tmp_path, cli):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    result = cli("train", str(_recipe(tmp_path, dataset="synthetic:4")))
    assert result.returncode == 2 and "output directory exists" in result.stderr
    assert (tmp_path / "out" / "keep.txt").exists()

    result = cli("train", str(_recipe(tmp_path, dataset=str(tmp_path / "missing"))), "--dry-run")
    assert result.returncode == 2 and "no such dataset directory" in result.stderr

    result = cli("train", str(_recipe(tmp_path, dataset="synthetic:4", lora={"rank": 8})), "--dry-run")
    assert result.returncode == 2 and "lora.rank: unknown key" in result.stderr


def test_dry_run_converts_and_reports(tmp_path, cli):
    data = _dataset(tmp_path, [make_trajectory(i, correct=i % 3 != 0) for i in range(9)])
    recipe = _recipe(tmp_path, dataset=str(data), filter="n_steps >= 1")
    result = cli("train", str(recipe), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "examples: 6" in result.stdout and "failed dropped: 3" in result.stdout
    assert not (tmp_path / "out").exists()
    result = cli("train", str(recipe), "--dry-run", "--set", "examples.failed=keep")
    assert "examples: 9" in result.stdout


def test_sft_export_tokens_and_messages(tmp_path, cli):
    long = make_trajectory(8, n_steps=6)
    for step in long.steps[:-1]:
        step.observation = "Velmora archive entry. " * 40
    data = _dataset(tmp_path, [make_trajectory(i) for i in range(4)] + [long])

    out = tmp_path / "tokens.parquet"
    result = cli("sft", "export", str(data), str(out), "--format", "tokens", "--max-length", "700")
    assert result.returncode == 0, result.stderr
    assert "truncated: 1" in result.stdout
    table = pq.read_table(out)
    assert {"input_ids", "assistant_masks", "trajectory_id"} <= set(table.column_names)
    rows = table.to_pylist()
    assert len(rows) == 5 and all(len(r["input_ids"]) <= 700 for r in rows)
    assert all(len(r["input_ids"]) == len(r["assistant_masks"]) and any(r["assistant_masks"]) for r in rows)

    out = tmp_path / "messages.jsonl"
    result = cli("sft", "export", str(data), str(out), "-f", "messages", "--preset", "correct")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 5
    first = records[0]
    assert first["messages"][0]["role"] == "system" and "final_answer(x)" in first["messages"][0]["content"]
    assert first["messages"][1]["content"].startswith("New task:\n")
    assert first["messages"][-1]["role"] == "assistant" and first["messages"][-1]["train"] is True
    assert {t["function"]["name"] for t in first["tools"]} == {"search", "final_answer"}


def test_sft_export_bad_arguments(tmp_path, cli):
    data = _dataset(tmp_path, [make_trajectory(1)])
    result = cli("sft", "export", str(data), str(tmp_path / "x.csv"))
    assert result.returncode == 2 and ".jsonl or .parquet" in result.stderr
    result = cli("sft", "export", str(data), str(tmp_path / "x.jsonl"), "--format", "chatml")
    assert result.returncode == 2 and "unknown format" in result.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_plain_script_entry_point(tmp_path):
    """`python -m trajkit.sft.train` (what accelerate launch / torchrun run) checks like the CLI."""
    import subprocess
    import sys

    recipe = _recipe(tmp_path, dataset="synthetic:6")
    ok = subprocess.run([sys.executable, "-m", "trajkit.sft.train", str(recipe), "--dry-run"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "examples:" in ok.stderr
    bad = subprocess.run([sys.executable, "-m", "trajkit.sft.train", str(recipe), "--dry-run",
                          "--set", "training.batch_size=0"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--set training.batch_size" in bad.stderr
