"""Local files (JSONL, JSON, CSV, Parquet) and Hugging Face datasets, with column mapping."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trajkit.errors import ConfigError, InputError
from trajkit.tasks.files import write_tasks
from trajkit.tasks.sources import load_tasks
from trajkit.tasks.spec import TaskSpec

RECORDS = [
    {"uid": "a1", "problem": "What is $1+1$?", "solution": "Clearly $\\boxed{2}$.", "level": "Level 1"},
    {"uid": "a2", "problem": "What is $\\frac{1}{2}+\\frac{1}{4}$?", "solution": "It is $\\boxed{\\frac{3}{4}}$.", "level": "Level 2"},
    {"uid": "a3", "problem": "No answer here?", "solution": "I do not know.", "level": "Level 3"},
]


def write_jsonl(path, rows, extra_lines=()):
    with open(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
        for line in extra_lines:
            handle.write(line + "\n")
    return path


def test_jsonl_with_column_mapping_and_boxed_extraction(tmp_path):
    path = write_jsonl(tmp_path / "algebra.jsonl", RECORDS, extra_lines=["{not json"])
    task_set = load_tasks({"source": str(path), "columns": {"id": "uid"}})
    tasks = {t.task_id: t for t in task_set}
    assert set(tasks) == {"algebra/train/a1", "algebra/train/a2"}
    assert tasks["algebra/train/a2"].gold_answer == "\\frac{3}{4}"
    assert tasks["algebra/train/a1"].domain == "math"  # guessed from the name
    assert json.loads(tasks["algebra/train/a1"].metadata) == {"level": 1, "original_id": "a1"}
    reasons = {d.reason for d in task_set.report.skipped}
    assert "no \\boxed{} answer in the solution" in reasons
    assert any(r.startswith("not JSON") for r in reasons)
    assert task_set.report.counts["read"] == 4


def test_same_records_in_every_format_give_the_same_tasks(tmp_path):
    rows = [
        {"question": "Who founded the Zoupuv Works?", "answer": "Tropav Yeitrildei", "note": "x"},
        {"question": "In what year was Krelye founded?", "answer": "1099", "note": "y"},
    ]
    (tmp_path / "jsonl").mkdir()
    write_jsonl(tmp_path / "jsonl" / "facts.jsonl", rows)
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "facts.json").write_text(json.dumps({"data": rows}))
    (tmp_path / "csv").mkdir()
    with open(tmp_path / "csv" / "facts.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["question", "answer", "note"])
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "parquet").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "parquet" / "facts.parquet")
    loaded = [load_tasks(str(tmp_path / kind)).tasks for kind in ("jsonl", "json", "csv", "parquet")]
    assert all(tasks == loaded[0] for tasks in loaded)
    ids = [t.task_id for t in loaded[0]]
    assert all(i.startswith("facts/train/q-") for i in ids)  # no id column: content hashes
    assert loaded[0][1].gold_answer == "1099" and loaded[0][0].domain == "qa"


def test_split_column_selects_and_split_option_labels(tmp_path):
    rows = [{"q": f"Question {i}?", "a": str(i), "split": "test" if i % 2 else "train"} for i in range(6)]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    test = load_tasks({"source": str(path), "columns": {"question": "q", "answer": "a"}, "split": "test"})
    assert [t.gold_answer for t in test] == ["1", "3", "5"] and {t.split for t in test} == {"test"}
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"question": "Why?", "answer": "because"}])
    assert load_tasks(str(plain), split="dev").tasks[0].split == "dev"


def test_answer_shapes(tmp_path):
    rows = [
        {"id": 1, "question": "q1?", "answer": 12.0},
        {"id": 2, "question": "q2?", "answer": 0.25},
        {"id": 3, "question": "q3?", "answer": True},
        {"id": 4, "question": "q4?", "answer": ["Bob Dylan", "Robert Zimmerman"]},
        {"id": 5, "question": "q5?", "answer": {"value": "Paris", "aliases": ["Paree"]}},
        {"id": 6, "question": "q6?", "answer": None},
        {"id": 7, "question": "", "answer": "x"},
        {"id": 8, "question": "q8?", "answer": "x", "answer_aliases": ["ex", "x"]},
    ]
    tasks = {t.task_id.rsplit("/", 1)[1]: t for t in load_tasks(str(write_jsonl(tmp_path / "s.jsonl", rows)))}
    assert tasks["1"].gold_answer == "12" and tasks["2"].gold_answer == "0.25"
    assert tasks["3"].gold_answer == "yes"
    assert (tasks["4"].gold_answer, tasks["4"].gold_aliases) == ("Bob Dylan", ["Robert Zimmerman"])
    assert (tasks["5"].gold_answer, tasks["5"].gold_aliases) == ("Paris", ["Paree"])
    assert tasks["8"].gold_aliases == ["ex"]
    assert set(tasks) == {"1", "2", "3", "4", "5", "8"}
    keep = load_tasks({"source": str(tmp_path / "s.jsonl"), "require_answer": False})
    assert any(t.gold_answer is None for t in keep)


def test_exported_tasks_round_trip(tmp_path):
    path = write_jsonl(tmp_path / "facts.jsonl", [{"question": f"Q{i}?", "answer": str(i)} for i in range(5)])
    tasks = load_tasks(str(path)).tasks
    out = write_tasks(tasks, tmp_path / "out" / "tasks.parquet")
    assert pq.read_schema(out).names == ["task_id", "source", "split", "domain", "question", "gold_answer", "gold_aliases", "metadata"]
    assert load_tasks(str(out)).tasks == tasks
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_mapping_errors_are_clear(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"prompt_text": "q?", "target_text": "a"}])
    with pytest.raises(InputError, match="no question column found"):
        load_tasks(str(path))
    with pytest.raises(InputError, match="'nope' .mapped to question. is not in the data"):
        load_tasks({"source": str(path), "columns": {"question": "nope"}})
    ok = load_tasks({"source": str(path), "columns": {"question": "prompt_text", "answer": "target_text"}})
    assert ok.tasks[0].gold_answer == "a"
    with pytest.raises(ConfigError, match="unknown task field"):
        TaskSpec.parse({"source": str(path), "columns": {"reasoning": "x"}})
    with pytest.raises(ConfigError, match="Extra inputs"):
        TaskSpec.parse({"source": str(path), "colums": {}})
    with pytest.raises(InputError, match="does not exist"):
        load_tasks(str(tmp_path / "missing.jsonl"))
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(InputError, match="not valid JSON"):
        load_tasks(str(bad))


def test_hf_dataset_saved_to_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"id": ["h1", "h2"], "question": ["Who?", "Where?"], "answer": ["Ann", "Oslo"], "type": ["bridge", "comparison"]}
            ),
            "validation": datasets.Dataset.from_dict(
                {"id": ["h3"], "question": ["When?"], "answer": ["1999"], "type": ["bridge"]}
            ),
        }
    )
    folder = tmp_path / "hotpot_qa"
    dd.save_to_disk(str(folder))
    validation = load_tasks(f"hf:{folder}:validation")
    assert [(t.task_id, t.gold_answer, t.split) for t in validation] == [("hotpot_qa/validation/h3", "1999", "validation")]
    everything = load_tasks(f"hf:{folder}")
    assert {t.split for t in everything} == {"train", "validation"}
    assert json.loads(everything.tasks[0].metadata)["type"] == "bridge"
    with pytest.raises(InputError, match="no split 'test'"):
        load_tasks(f"hf:{folder}:test")


def test_hf_parquet_folder_with_gsm8k_preset(tmp_path):
    pytest.importorskip("datasets")
    folder = tmp_path / "gsm8k"
    (folder / "data").mkdir(parents=True)
    rows = [
        {"question": "Ann has 3 bags of 24 apples. How many apples?", "answer": "3 * 24 = 72\n#### 72"},
        {"question": "A 1,000 m road is 4 times longer. How long?", "answer": "so 4,000\n#### 4,000"},
    ]
    pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "test-00000-of-00001.parquet")
    tasks = load_tasks(f"hf:{folder}:test").tasks
    assert [t.gold_answer for t in tasks] == ["72", "4000"]
    assert {t.domain for t in tasks} == {"math"} and {t.source for t in tasks} == {"gsm8k"}
