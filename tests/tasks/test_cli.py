"""`trajkit tasks preview|export|synth` and `trajkit grade`, run as a user runs them."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.factories import make_provenance
from trajkit.schema import Outcome, Task, Trajectory
from trajkit.store import Dataset


def test_preview_shows_counts_samples_and_defects(cli, seed_tasks_dir):
    result = cli("tasks", "preview", "seed:musique,math_medium", "--samples", "3")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "musique" in out and "math_medium" in out
    assert "duplicate question" in out and "malformed id cleaned" in out and "answer is null" in out
    assert "tasks loaded: 1497, skipped: 3, repaired: 1" in out


def test_preview_with_mapping_and_filters(cli, tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [{"prompt": f"What is {i} + {i}?", "target": str(2 * i), "level": i % 2} for i in range(8)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = cli("tasks", "preview", str(path), "-c", "question=prompt", "-c", "answer=target", "-f", "level=1", "--domain", "math")
    assert result.returncode == 0, result.stderr
    assert "tasks loaded: 4" in result.stdout


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("latin1.jsonl", b'{"question": "Caf\xe9 owner?", "answer": "1"}\n'),
        ("latin1.csv", b"question,answer\nCaf\xe9 owner?,1\n"),
        ("latin1.json", b'[{"question": "Caf\xe9 owner?", "answer": "1"}]'),
    ],
)
def test_preview_of_a_file_that_is_not_utf8_is_one_line(cli, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    result = cli("tasks", "preview", str(path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "not UTF-8" in lines[0] and "re-encode" in lines[0]


def test_utf8_with_bom_and_crlf_loads(cli, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("question,answer\r\nCafé owner?,1\r\n".encode("utf-8-sig"))
    result = cli("tasks", "preview", str(path))
    assert result.returncode == 0, result.stderr
    assert "tasks loaded: 1" in result.stdout


def test_export_writes_task_parquet_atomically(cli, tmp_path, seed_tasks_dir):
    out = tmp_path / "bamboogle.parquet"
    result = cli("tasks", "export", "seed:bamboogle", str(out))
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    assert table.num_rows == 125 and table.column_names[:3] == ["task_id", "source", "split"]
    again = cli("tasks", "export", "seed:bamboogle", str(out))
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    bad = cli("tasks", "export", str(tmp_path / "missing.jsonl"), str(tmp_path / "never.parquet"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "never.parquet").exists()


def test_synth_writes_tasks_and_corpus(cli, tmp_path):
    out = tmp_path / "synth"
    result = cli("tasks", "synth", "--n", "40", "--seed", "0", str(out))
    assert result.returncode == 0, result.stderr
    assert "train: 32, test: 8" in " ".join(result.stdout.split())
    names = sorted(p.name for p in out.iterdir())
    assert names == ["corpus.parquet", "synth.json", "tasks.parquet"]
    preview = cli("tasks", "preview", f"synthetic:{out}", "--split", "test")
    assert "tasks loaded: 8" in preview.stdout
    occupied = cli("tasks", "synth", "--n", "40", str(out))
    assert occupied.returncode == 2 and "--overwrite" in occupied.stderr
    bad = cli("tasks", "synth", "--n", "10", "--max-hops", "7", str(tmp_path / "other"))
    assert bad.returncode == 2 and not (tmp_path / "other").exists()


# ------------------------------------------------------------------------- grade


def _trajectory(i, question, gold, answer, *, domain, correct, grader="exact_match"):
    task = Task(task_id=f"g/{i}", source="g", domain=domain, question=question, gold_answer=gold)
    outcome = Outcome(
        status="answered" if answer is not None else "max_steps",
        final_answer=answer,
        correct=correct,
        score=float(correct),
        grader=grader,
    )
    return Trajectory.new(task=task, provenance=make_provenance(), outcome=outcome)


@pytest.fixture
def graded_by_exact_match(tmp_path):
    ds = Dataset.create(tmp_path / "run")
    ds.append(
        [
            _trajectory(0, "Half of one?", "\\frac{1}{2}", "0.5", domain="math", correct=False),
            _trajectory(1, "What is 2^10?", "1024", "1,024", domain="math", correct=False),
            _trajectory(2, "116 or 117?", "116", "117", domain="math", correct=False),
            _trajectory(3, "Where was he born?", "Denver", "denver.", domain="qa", correct=True),
            _trajectory(4, "Who?", "President Richard Nixon", "Richard Nixon", domain="qa", correct=False),
            _trajectory(5, "Ran out of steps?", "7", None, domain="math", correct=False),
        ]
    )
    return ds


def test_grade_makes_a_new_version_with_lineage(cli, tmp_path, graded_by_exact_match):
    out = tmp_path / "regraded"
    result = cli("grade", str(graded_by_exact_match.path), str(out))
    assert result.returncode == 0, result.stderr
    assert "graded: 6, correct: 3, changed: 2" in " ".join(result.stdout.split())
    new = Dataset.open(out)
    outcomes = {t.task.task_id: t.outcome for t in new.trajectories()}
    assert [outcomes[f"g/{i}"].correct for i in range(6)] == [True, True, False, True, False, False]
    assert outcomes["g/0"].grader == "math_equiv" and outcomes["g/3"].grader == "exact_match"
    assert json.loads(outcomes["g/5"].grader_detail)["reason"] == "no answer"
    lineage = new.manifest.lineage[-1]
    assert lineage.operation == "grade" and lineage.params == {"grader": "auto"}
    assert lineage.parents[0].fingerprint == graded_by_exact_match.manifest.fingerprint
    # the source is untouched
    before = {t.task.task_id: t.outcome.correct for t in Dataset.open(graded_by_exact_match.path).trajectories()}
    assert before["g/0"] is False

    f1 = cli("grade", str(graded_by_exact_match.path), str(tmp_path / "f1"), "--grader", "f1")
    assert f1.returncode == 0, f1.stderr
    by_f1 = {t.task.task_id: t.outcome for t in Dataset.open(tmp_path / "f1").trajectories()}
    assert by_f1["g/4"].correct is True and by_f1["g/4"].score == pytest.approx(0.8)


def test_grade_with_an_llm_judge_over_http_pays_once(cli, tmp_path, graded_by_exact_match):
    from trajkit.teachers.scripted_server import ScriptedServer

    cache = tmp_path / "judge.sqlite"
    reply = '{"rationale": "close enough", "verdict": "correct"}'
    with ScriptedServer([reply], model="judge-1") as server:
        args = ["--grader", "llm_judge:judge-1", "--judge-base-url", server.base_url, "--judge-cache", str(cache)]
        first = cli("grade", str(graded_by_exact_match.path), str(tmp_path / "j1"), *args)
        second = cli("grade", str(graded_by_exact_match.path), str(tmp_path / "j2"), *args)
        calls = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    assert first.returncode == 0, first.stderr
    assert "judge calls: 5" in first.stdout and "judge calls: 0" in second.stdout
    assert len(calls) == 5  # five answers; the sixth trajectory has none
    judged = {t.task.task_id: t.outcome for t in Dataset.open(tmp_path / "j2").trajectories()}
    assert judged["g/2"].correct is True and judged["g/2"].grader == "llm_judge:judge-1"
    detail = json.loads(judged["g/2"].grader_detail)
    assert detail["cached"] is True and detail["prompt_id"] == "qa-judge-v1"
    assert Dataset.open(tmp_path / "j2").manifest.lineage[-1].params["judge_prompt_id"] == "qa-judge-v1"


def test_grade_bad_input_leaves_nothing(cli, tmp_path, graded_by_exact_match):
    bad = cli("grade", str(graded_by_exact_match.path), str(tmp_path / "x"), "--grader", "fuzzy")
    assert bad.returncode == 2 and "unknown grader" in bad.stderr and not (tmp_path / "x").exists()
    missing = cli("grade", str(tmp_path / "nope"), str(tmp_path / "y"))
    assert missing.returncode == 2 and "no such dataset" in missing.stderr
    assert not (tmp_path / "y").exists()
