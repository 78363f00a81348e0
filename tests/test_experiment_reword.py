"""The rewording lever: which teacher rewordings may stand in for a question, and the dataset it
writes (originals plus checked copies) through a real OpenAI-compatible HTTP server."""

from __future__ import annotations

import json

from tests.factories import make_trajectory
from trajkit.curate.presets import PRESETS
from trajkit.experiment.__main__ import main
from trajkit.experiment.reword import ID_SUFFIX, cleaned, names, rejection, reword
from trajkit.schema import Trajectory
from trajkit.sft.data import load_training_data
from trajkit.store import Dataset
from trajkit.teachers.scripted_server import ScriptedServer

QUESTION = "In what year was the city of Velmora founded, and who is Arlen Dace?"


def test_names_are_capitalised_words_inside_a_sentence():
    assert names(QUESTION) == {"Velmora", "Arlen", "Dace"}
    assert names("What is 3 × 4? Then add 5.") == set()  # sentence openers are not names


def test_cleaned_takes_the_first_line_without_label_or_quotes():
    assert cleaned('\n  Rewritten question: "When was Velmora founded?"\nIt was 1820.') == "When was Velmora founded?"


def test_a_rewording_must_keep_names_and_numbers_and_not_answer():
    golds = ["1820"]
    good = "Who is Arlen Dace, and when was Velmora, the city, founded?"
    assert rejection(QUESTION, good, golds) is None
    assert rejection(QUESTION, QUESTION.upper(), golds) == "unchanged"
    assert rejection(QUESTION, "When was Velmora founded, and who is Arlen?", golds) == "a name lost"
    assert rejection(QUESTION, "Velmora was founded in 1820; who is Arlen Dace?", golds) == "numbers changed"
    assert rejection("What is 1,200 × 3?", "Multiply 1200 by 3.", []) is None  # thousands separators
    assert rejection("What is 12 × 3?", "Multiply 12 by 4.", []) == "numbers changed"
    assert rejection("Who founded the Orvane Guild?", "The Orvane Guild was founded by Mira Tosk. Who?",
                     ["Mira Tosk"]) == "gives the answer"
    assert rejection(QUESTION, "", golds) == "empty"
    assert rejection(QUESTION, "Who is Arlen Dace and when was Velmora founded", golds) == "not a single question"


def _dataset(path, questions: list[str]) -> Dataset:
    rows = []
    for i, question in enumerate(questions):
        traj = make_trajectory(i, correct=i != 2)  # the third fails: the paper's rule drops it
        task = traj.task.model_copy(update={"question": question})
        rows.append(Trajectory.new(task=task, provenance=traj.provenance, outcome=traj.outcome, steps=traj.steps,
                                   sample_index=0, usage=traj.usage))
    store = Dataset.create(path)
    store.append(rows)
    return store


def test_reword_writes_originals_and_checked_copies(tmp_path):
    questions = ["What is 12 × 34?", "What is 56 × 78?", "What is 9 × 9?"]
    source = _dataset(tmp_path / "teacher", questions)
    # one scripted reply for every request: a valid rewording of the first question only
    with ScriptedServer(["Rewritten question: Compute the product of 12 and 34."]) as server:
        teacher = {"backend": "openai", "base_url": server.base_url, "model": "scripted"}
        done = reword(source.path, tmp_path / "out", teacher=teacher, where=PRESETS["paper"].where,
                      subsample=None, seed=5, tries=2)
        seeds = sorted(request["body"]["seed"] for request in server.requests)
    assert (done.originals, done.copies) == (2, 1)
    assert done.rejected == {"numbers changed": 2}  # the second question, both tries
    assert seeds == [5, 5, 6]  # each try samples with the next seed
    written = {t.trajectory_id: t for t in Dataset.open(tmp_path / "out").trajectories()}
    originals = {t.trajectory_id: t for t in source.trajectories() if t.outcome.correct}
    assert set(written) == set(originals) | {tid + ID_SUFFIX for tid, t in originals.items() if "12" in t.task.question}
    copy = next(t for tid, t in written.items() if tid.endswith(ID_SUFFIX))
    original = originals[copy.trajectory_id.removesuffix(ID_SUFFIX)]
    assert copy.task.question == "Compute the product of 12 and 34."
    assert copy.task.task_id == original.task.task_id + ID_SUFFIX
    assert copy.steps == original.steps and copy.outcome == original.outcome
    # trajkit train keeps both under the paper's rule, so the copy is trained on
    kept = load_training_data([str(tmp_path / "out")], PRESETS["paper"].where).trajectories
    assert len(kept) == 3


def test_reword_draws_the_subsample_trajkit_train_draws(tmp_path):
    from trajkit.sft.prepare import subsampled

    source = _dataset(tmp_path / "teacher", [f"What is {i} × 7?" for i in range(2, 9)])
    with ScriptedServer(["no"]) as server:  # every rewording rejected: only the draw is written
        teacher = {"backend": "openai", "base_url": server.base_url, "model": "scripted"}
        reword(source.path, tmp_path / "out", teacher=teacher, where=PRESETS["paper"].where, subsample=3, seed=4, tries=1)
    drawn, _ = subsampled(load_training_data([str(source.path)], PRESETS["paper"].where).trajectories, 3, 4)
    assert {t.trajectory_id for t in Dataset.open(tmp_path / "out").trajectories()} == {t.trajectory_id for t in drawn}


def test_cli_reports_a_missing_dataset_in_one_line(tmp_path, capsys):
    assert main(["reword", str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nope" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_writes_the_dataset_and_the_log_of_every_try(tmp_path, capsys):
    source = _dataset(tmp_path / "teacher", ["What is 12 × 34?", "What is 5 × 6?"])
    with ScriptedServer(["Compute the product of 12 and 34."]) as server:
        code = main(["reword", str(source.path), str(tmp_path / "out"), "--base-url", server.base_url,
                     "--model", "scripted", "--tries", "2"])
    assert code == 0
    assert "reworded 1 of 2 questions (tries rejected: numbers changed 2)" in capsys.readouterr().out
    log = [json.loads(line) for line in (tmp_path / "out.rewordings.jsonl").read_text().splitlines()]
    by_question = {entry["original"]: [t["rejected"] for t in entry["tries"]] for entry in log}
    assert by_question == {"What is 12 × 34?": [None], "What is 5 × 6?": ["numbers changed", "numbers changed"]}
    assert len(Dataset.open(tmp_path / "out")) == 3
    # the accepted rewordings as tasks, for the teacher to solve (the stricter form of the lever)
    import pyarrow.parquet as pq

    tasks = pq.read_table(tmp_path / "out.tasks.parquet").to_pylist()
    assert [(t["question"], t["gold_answer"], t["task_id"].endswith(ID_SUFFIX)) for t in tasks] == [
        ("Compute the product of 12 and 34.", "1800", True)]
