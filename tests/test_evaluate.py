"""`trajkit eval`: student runs in the same schema, SAG metrics, CoT baseline and reports."""

import json

import yaml

from tests.build.conftest import STEP_1, STEP_2
from trajkit.agent.cot import extract_cot_answer
from trajkit.cli.report import write_report
from trajkit.evaluate import evaluate, metrics, model_config
from trajkit.query import sql


def _tasks(tmp_path):
    path = tmp_path / "bench.jsonl"
    rows = [{"id": f"b{i}", "question": f"Six times seven, case {i}?", "answer": "42" if i < 4 else "40"} for i in range(6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _recipe(tmp_path, *, mode="agent", responses=(STEP_1, STEP_2), candidates=1):
    path = tmp_path / f"eval-{mode}-{candidates}.yaml"
    path.write_text(yaml.safe_dump({
        "name": "t",
        "model": {"backend": "scripted", "responses": list(responses)},
        "benchmarks": [{"name": "arith", "tasks": {"source": str(_tasks(tmp_path)), "domain": "math"}}],
        "mode": mode,
        "agent": {"max_steps": 3, "candidates": candidates},
        "tools": {"retriever": None},
        "output": str(tmp_path / f"run-{mode}-{candidates}"),
    }))
    return path


def test_agent_eval_writes_student_run_and_metrics(tmp_path):
    dataset, stats = evaluate(_recipe(tmp_path), show_progress=False)
    assert len(dataset) == 6 and stats.done == 6
    first = next(dataset.trajectories())
    assert first.provenance.kind == "student" and first.provenance.prompt_template.startswith("student")
    assert first.task.source == "arith"
    rows = metrics([dataset.path])["per_benchmark"]
    assert rows[0]["benchmark"] == "arith" and rows[0]["accuracy"] == round(4 / 6, 4)
    assert rows[0]["parse_error_rate"] == 0.0 and rows[0]["mean_steps"] == 2.0


def test_sag_run_stores_candidates_and_resumes(tmp_path):
    recipe = _recipe(tmp_path, candidates=4)
    dataset, _ = evaluate(recipe, show_progress=False)
    cands = sql([dataset.path], "SELECT count(*) AS n, sum(selected::int) AS chosen FROM candidates").to_pylist()[0]
    assert cands == {"n": 6 * 2 * 4, "chosen": 6 * 2}
    assert next(dataset.trajectories()).provenance.sag_n == 4
    again, stats = evaluate(recipe, show_progress=False)
    assert stats.skipped == 6 and stats.done == 0 and len(again) == 6


def test_cot_baseline_and_report(tmp_path):
    cot = _recipe(tmp_path, mode="cot", responses=["Six times seven is 42.\nFinal answer: 42"])
    run, _ = evaluate(cot, show_progress=False)
    first = next(run.trajectories())
    assert first.outcome.final_answer == "42" and first.steps[0].code is None
    agent, _ = evaluate(_recipe(tmp_path), show_progress=False)
    result = metrics([run.path, agent.path])
    assert {r["run"] for r in result["overall"]} == {run.name, agent.name}
    paths = write_report(result, tmp_path / "report")
    html = paths["html"].read_text()
    assert "<svg" in html and "arith" in html  # the charts are inline SVG
    assert "| run |" in paths["markdown"].read_text()


def test_cot_answer_extraction_and_model_option(tmp_path):
    assert extract_cot_answer("blah\nFinal answer: 1820.") == "1820"
    assert extract_cot_answer("just 7") == "just 7"
    assert model_config("embedded", {}) == {"backend": "local"}
    assert model_config("http://127.0.0.1:8000/v1#qwen", {})["backend"] == "openai"
    assert model_config(str(tmp_path), {})["model"] == str(tmp_path.resolve())


def test_eval_report_cli(tmp_path, cli):
    run, _ = evaluate(_recipe(tmp_path), show_progress=False)
    result = cli("eval", "report", str(run.path), "--out", str(tmp_path / "rep"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "rep" / "report.html").is_file()
    bad = cli("eval", "report", str(tmp_path / "nope"))
    assert bad.returncode == 2 and "no such dataset" in bad.stderr
