"""Decontamination against the seed evaluation files (real task loaders, faiss, embedding model)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.curate.conftest import make_dataset
from tests.factories import make_provenance
from trajkit.curate.decontaminate import decontaminate, load_eval_questions
from trajkit.schema import Outcome, Task, Trajectory
from trajkit.store import Dataset

BAMBOOGLE = {
    "citibank": "Who was president of the United States in the year that Citibank was founded?",
    "uranus": "What rocket was the first spacecraft that ever approached Uranus launched on?",
    "sound_of_music": "In what year was the company that was founded as Sound of Music added to the S&P 500?",
    "earthquake": "How many people died in the second most powerful earthquake ever recorded?",
    "hanover": "When did the last king from Britain's House of Hanover die?",
}
INJECTED = {
    "verbatim": (BAMBOOGLE["hanover"], "exact"),
    "case and punctuation": ("who was president of the united states in the year that citibank was founded", "exact"),
    "wrapped in a prompt": (f"Question: {BAMBOOGLE['sound_of_music']} Answer briefly.", "ngram"),
    "paraphrase": ("Which rocket launched the first spacecraft to approach Uranus?", "embedding"),
    "reordered paraphrase": ("In the year Citibank was founded, who was the US president?", "embedding"),
}
HARD_PARAPHRASE = "What was the death toll of the second strongest earthquake on record?"  # cosine 0.87


def as_trajectories(tasks: list[Task]) -> list[Trajectory]:
    provenance = make_provenance()
    return [
        Trajectory.new(task=task, provenance=provenance, outcome=Outcome(status="answered", final_answer="x"))
        for task in tasks
    ]


def injected_tasks() -> list[Task]:
    questions = [q for q, _ in INJECTED.values()] + [HARD_PARAPHRASE]
    return [Task(task_id=f"leak:{i}", source="leaky", question=q) for i, q in enumerate(questions)]


@pytest.fixture(scope="module")
def qa_train(seed_tasks_dir, tmp_path_factory):
    from trajkit.tasks.sources import load_tasks

    hotpot = load_tasks("seed:qa/train/hotpotqa", limit=150).tasks
    return make_dataset(tmp_path_factory.mktemp("decon") / "qa-train", as_trajectories(hotpot + injected_tasks()))


def test_removes_exact_ngram_and_paraphrase_overlaps_with_bamboogle(qa_train, tmp_path):
    report = decontaminate(qa_train.path, ["seed:bamboogle"], tmp_path / "clean", report_path=tmp_path / "report.json")
    methods = {m.question: m.method for m in report.matches}
    assert methods == {question: method for question, method in INJECTED.values()}  # no hotpotqa question removed
    assert (report.total, report.removed, report.kept) == (156, 5, 151)
    assert report.eval_questions == 125 and report.by_eval_source == {"bamboogle": 5}
    assert report.by_method == {"exact": 2, "ngram": 1, "embedding": 2}
    paraphrase = next(m for m in report.matches if m.method == "embedding" and "rocket" in m.question)
    assert paraphrase.eval_question == BAMBOOGLE["uranus"] and paraphrase.similarity >= 0.9
    clean = Dataset.open(tmp_path / "clean")
    assert len(clean) == 151 and HARD_PARAPHRASE in {t.task.question for t in clean.trajectories()}
    assert clean.manifest.lineage[-1].operation == "decontaminate"
    assert json.loads((tmp_path / "report.json").read_text())["removed"] == 5


def test_a_lower_embedding_threshold_catches_the_harder_paraphrase(qa_train, tmp_path):
    report = decontaminate(qa_train.path, ["seed:bamboogle"], tmp_path / "clean", embedding_threshold=0.85)
    assert HARD_PARAPHRASE in {m.question for m in report.matches} and report.removed == 6


def test_seed_qa_train_is_clean_against_every_qa_test_file(seed_tasks_dir, tmp_path):
    from trajkit.tasks.sources import load_tasks

    train = make_dataset(tmp_path / "train", as_trajectories(load_tasks("seed:qa/train/*").tasks))
    report = decontaminate(train.path, ["seed:qa/test/*"], tmp_path / "clean", embedding_threshold=None)
    assert report.eval_questions > 1500 and report.removed == 0 and len(Dataset.open(tmp_path / "clean")) == 1000


def test_seed_math_train_overlaps_math_500(seed_tasks_dir, tmp_path):
    """The MATH training file holds near-copies of MATH-500 test problems: n-grams find them."""
    from trajkit.tasks.sources import load_tasks

    train = make_dataset(tmp_path / "train", as_trajectories(load_tasks("seed:math/train/*").tasks))
    report = decontaminate(train.path, ["seed:math_500"], tmp_path / "clean", embedding_threshold=None)
    assert report.removed >= 5 and set(report.by_method) <= {"exact", "ngram"}
    assert report.by_eval_source == {"math": report.removed}  # MATH-500 tasks name their source "math"
    for match in report.matches:
        assert match.ngram_overlap >= 0.5
    assert len(Dataset.open(tmp_path / "clean")) == len(train) - report.removed


def test_eval_set_can_be_a_trajkit_dataset_and_the_cli_reports(qa_train, tmp_path):
    from trajkit.tasks.sources import load_tasks

    evaluation = make_dataset(tmp_path / "eval-run", as_trajectories(load_tasks("seed:bamboogle").tasks))
    assert len(load_eval_questions([str(evaluation.path)])) == 125
    result = run_cli(
        "decontaminate", str(qa_train.path), str(tmp_path / "clean"), "--against", str(evaluation.path),
        "--no-embeddings", env={"COLUMNS": "250"},
    )
    assert result.returncode == 0, result.stderr
    assert "removed: 3" in result.stdout and "by exact: 2" in result.stdout and "by ngram: 1" in result.stdout
    missing = run_cli("decontaminate", str(qa_train.path), str(tmp_path / "x"), "--against", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and not (tmp_path / "x").exists()
