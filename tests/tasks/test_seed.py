"""The paper's task files load completely, with every known defect repaired or skipped and reported."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from trajkit.errors import InputError
from trajkit.tasks.sources import load_tasks

EXPECTED_FILES = {
    ("qa", "train", "hotpotqa"): 1000,
    ("qa", "test", "hotpotqa"): 500,
    ("qa", "test", "musique"): 500,
    ("qa", "test", "2wikimultihopqa"): 500,
    ("qa", "test", "bamboogle"): 125,
    ("math", "train", "math"): 1000,
    ("math", "train", "math_medium"): 1000,
    ("math", "test", "math"): 500,
    ("math", "test", "gsm_hard"): 500,
    ("math", "test", "aime"): 90,
    ("math", "test", "olymath"): 200,
}


@pytest.fixture(scope="module")
def everything(seed_tasks_dir):
    # seed_tasks_dir (conftest) is the folder the loader reads by default: the packaged files
    return load_tasks("seed:*")


def by(task_set, source, split):
    return [t for t in task_set.tasks if t.source == source and t.split == split]


def test_every_file_loads(everything):
    counts = Counter((t.domain, t.split, t.source) for t in everything.tasks)
    assert everything.report.counts["files"] == 11
    assert everything.report.counts["read"] == sum(EXPECTED_FILES.values())
    for key, size in EXPECTED_FILES.items():
        lost = size - counts[key]
        assert 0 <= lost <= 2, (key, counts[key])
    assert len({t.task_id for t in everything.tasks}) == len(everything.tasks)


def test_null_and_empty_answers_are_skipped_and_reported(everything):
    skipped = {(d.reason, d.record) for d in everything.report.skipped}
    assert ("answer is null", "124") in skipped and ("answer is null", "519") in skipped
    assert ("answer is empty", "174") in skipped and ("answer is empty", "499") in skipped
    assert len(by(everything, "math_medium", "train")) == 998
    assert any("2 records skipped (answer is null)" in w for w in everything.report.warnings)
    assert all(t.gold_answer for t in everything.tasks)


def test_float_answers_become_text(everything):
    gsm = {t.task_id: t for t in by(everything, "gsm_hard", "test")}
    assert gsm["gsm_hard/test/1309"].gold_answer == "13138980"
    assert len(gsm) == 500
    assert all("." not in t.gold_answer or not t.gold_answer.endswith(".0") for t in gsm.values())
    repaired = everything.report.counts
    assert repaired["repaired: float answer written as an integer"] + repaired["repaired: float answer written as text"] == 500


def test_duplicated_question_and_malformed_id_in_musique(everything):
    musique = by(everything, "musique", "test")
    assert len(musique) == 499
    questions = Counter(t.question for t in musique)
    assert max(questions.values()) == 1
    ids = {t.task_id for t in musique}
    assert "musique/test/1__804367_160713_77246" in ids
    assert all(" " not in i for i in ids)
    reasons = {d.reason for d in everything.report.skipped}
    assert "duplicate question" in reasons
    assert everything.report.counts["repaired: malformed id cleaned"] == 1


def test_levels_are_integers_whatever_the_file_wrote(everything):
    train = json.loads(by(everything, "math", "train")[0].metadata)
    test = json.loads(by(everything, "math", "test")[0].metadata)
    assert isinstance(train["level"], int) and train["level"] in (4, 5)
    assert isinstance(test["level"], int)
    hotpot = json.loads(by(everything, "hotpotqa", "train")[0].metadata)
    assert hotpot["level"] == "hard"


def test_copied_metadata_is_reported_not_trusted(everything):
    warnings = "\n".join(everything.report.warnings)
    assert "aime_90_20250504.json: file metadata names dataset 'MATH'" in warnings
    assert "gsm_hard_500_20250507.json: file metadata names dataset 'MATH'" in warnings
    assert "math_medium_1000_20250430.json: metadata says" in warnings
    aime = by(everything, "aime", "test")[0]
    assert aime.domain == "math" and json.loads(aime.metadata)["dataset_name"] == "AIME"


def test_split_and_domain_come_from_the_folders(everything):
    musique = json.loads(by(everything, "musique", "test")[0].metadata)
    assert musique["original_split"] == "validation"
    assert {t.domain for t in everything.tasks if t.source in ("hotpotqa", "bamboogle")} == {"qa"}
    assert {t.domain for t in everything.tasks if t.source in ("math", "gsm_hard")} == {"math"}


def test_selecting_files(everything):
    assert {(t.source, t.split) for t in load_tasks("seed:math_500")} == {("math", "test")}
    qa = load_tasks("seed:qa/*", split="test")
    assert {t.source for t in qa} == {"hotpotqa", "musique", "2wikimultihopqa", "bamboogle"}
    assert {t.split for t in qa} == {"test"}
    both = load_tasks("seed:hotpotqa")
    assert Counter(t.split for t in both) == {"train": 1000, "test": 500}
    with pytest.raises(InputError, match="no seed task file matches"):
        load_tasks("seed:nosuchset")


def test_filters_limit_and_shuffle(everything):
    # 568 level-5 examples, two of which have an empty answer
    hard = load_tasks({"source": "seed:math", "split": "train", "filters": {"level": 5}})
    assert len(hard) == 566 and {json.loads(t.metadata)["level"] for t in hard} == {5}
    algebra = load_tasks({"source": "seed:math", "filters": {"type": ["Algebra", "Geometry"]}})
    assert {json.loads(t.metadata)["type"] for t in algebra} == {"Algebra", "Geometry"}
    first = load_tasks({"source": "seed:bamboogle", "limit": 10, "shuffle_seed": 7})
    again = load_tasks({"source": "seed:bamboogle", "limit": 10, "shuffle_seed": 7})
    plain = load_tasks({"source": "seed:bamboogle", "limit": 10})
    assert [t.task_id for t in first] == [t.task_id for t in again] != [t.task_id for t in plain]
    assert first.report.counts["loaded"] == 10


def test_a_seed_file_given_by_path_gets_the_same_treatment(seed_tasks_dir):
    path = seed_tasks_dir / "math" / "train" / "math_medium_1000_20250430.json"
    task_set = load_tasks(str(path))
    assert len(task_set) == 998 and task_set.report.counts["skipped: answer is null"] == 2
    assert {t.split for t in task_set} == {"train"}
    whole_tree = load_tasks(str(seed_tasks_dir), split="test")
    assert len(whole_tree) == 500 + 499 + 500 + 125 + 500 + 500 + 90 + 200
