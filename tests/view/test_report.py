"""The evaluation report: intervals, SAG's effect, per-task drill-down into the viewer."""

import html
import json
import re

import pytest
import yaml

from tests.build.conftest import STEP_1, STEP_2
from trajkit.cli.report import (
    render_html,
    report_details,
    sag_effect,
    write_report,
)
from trajkit.evaluate import evaluate, metrics
from trajkit.stats import mcnemar_exact, wilson_interval


def test_wilson_interval():
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(0, 12)
    assert lo == 0.0 and hi == pytest.approx(0.2425, abs=1e-4)
    lo, hi = wilson_interval(6, 12)
    assert (lo, hi) == (pytest.approx(0.2538, abs=1e-4), pytest.approx(0.7462, abs=1e-4))
    lo, hi = wilson_interval(95, 100)
    assert lo == pytest.approx(0.8882, abs=1e-4) and hi == pytest.approx(0.9785, abs=1e-4)


def test_mcnemar_exact():
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(1, 1) == 1.0
    assert mcnemar_exact(6, 1) == pytest.approx(0.125)  # 8/128, twice: SAG +6 -1 is not significant
    assert mcnemar_exact(1, 6) == mcnemar_exact(6, 1)
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024) and mcnemar_exact(10, 0) < 0.05


def test_sag_effect_fixed_and_broken(sag_pair):
    details = report_details(list(sag_pair))
    [pair] = details["sag"]
    assert (pair["greedy"], pair["sag"], pair["sag_n"]) == ("eval-greedy", "eval-sag4", 4)
    [bench] = pair["benchmarks"]
    assert [i["task_id"] for i in bench["fixed"]] == ["synthetic:1"]
    assert [i["task_id"] for i in bench["broken"]] == ["synthetic:2"]
    assert (bench["tasks"], bench["both"], bench["neither"]) == (4, 1, 1)


def test_sag_effect_needs_the_same_model():
    runs = [{"run": "a", "model": "m1", "sag_n": 1}, {"run": "b", "model": "m2", "sag_n": 4}]
    tasks = [{"run": r, "benchmark": "x", "task_id": "t", "question": "q", "ids": ["i"], "correct": [True]} for r in "ab"]
    assert sag_effect(runs, tasks) == []


def test_html_report_with_drill_down(tmp_path, sag_pair):
    runs = [str(p) for p in sag_pair]
    paths = write_report(metrics(runs), tmp_path / "rep", runs=runs)
    page = paths["html"].read_text()
    assert paths["viewer"] == tmp_path / "rep" / "viewer" / "index.html" and paths["viewer"].is_file()
    assert "<script" not in page  # the report is static
    assert "[0.15, 0.85]" in page  # 2 of 4 correct in each run
    assert "1 task fixed by voting" in page and "1 task broken by voting" in page
    assert "net <strong>+0</strong> of 4 tasks" in page
    assert "exact McNemar p = 1)" in page  # one fixed, one broken: no evidence either way
    ids = set(re.findall(r'href="viewer/index\.html#view=traj&amp;id=(\w+)&amp;ds=eval-', page))
    assert len(ids) == 8  # every trajectory of both runs is one click away
    assert 'href="viewer/index.html#view=compare&amp;a=' in page
    assert "candidate #0 failed to parse or run at 100.0%" in page
    assert "| run |" in paths["markdown"].read_text()


def test_report_escapes_model_output(tmp_path, teacher_student):
    runs = [str(p) for p in teacher_student]
    page = render_html(metrics(runs), "<i>title</i>", report_details(runs))
    assert "<script>" not in page and "<i>title</i>" not in page
    assert html.escape("What does <script>window.__pwned=1</script> print in Velmora?") in page


def test_report_without_runs_still_renders(tmp_path, sag_pair):
    result = metrics([str(p) for p in sag_pair])
    paths = write_report(result, tmp_path / "rep")
    page = paths["html"].read_text()
    assert "eval-sag4" in page and "drill-down needs the runs" in page
    assert not (tmp_path / "rep" / "viewer").exists()


def _eval_recipe(tmp_path, candidates):
    tasks = tmp_path / "bench.jsonl"
    rows = [{"id": f"b{i}", "question": f"Six times seven, case {i}?", "answer": "42" if i < 4 else "40"} for i in range(6)]
    tasks.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / f"eval-{candidates}.yaml"
    path.write_text(yaml.safe_dump({
        "name": "t",
        "model": {"backend": "scripted", "responses": [STEP_1, STEP_2]},
        "benchmarks": [{"name": "arith", "tasks": {"source": str(tasks), "domain": "math"}}],
        "agent": {"max_steps": 3, "candidates": candidates},
        "tools": {"retriever": None},
        "output": str(tmp_path / f"run-sag{candidates}"),
    }))
    return path


def test_eval_report_cli_on_real_runs(tmp_path, cli):
    greedy, _ = evaluate(_eval_recipe(tmp_path, 1), show_progress=False)
    voted, _ = evaluate(_eval_recipe(tmp_path, 4), show_progress=False)
    result = cli("eval", "report", str(greedy.path), str(voted.path), "--out", str(tmp_path / "rep"))
    assert result.returncode == 0, result.stderr
    assert f"open {(tmp_path / 'rep' / 'report.html').as_uri()}" in result.stdout
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "run-sag1 → run-sag4" in page and "+0</span> fixed" in page
    assert (tmp_path / "rep" / "viewer" / "data" / "index.js").is_file()
    assert (tmp_path / "rep" / "report.md").is_file()
