"""The experiment report: Wilson intervals, the method x benchmark table, the goals checked on
the same tasks, and its files — over real datasets written by the store."""

from __future__ import annotations

import json

import pytest

from tests.factories import make_provenance, make_trajectory
from trajkit.errors import InputError
from trajkit.experiment import Cell, bar_values, main, report
from trajkit.stats import wilson_interval as wilson
from trajkit.store import Dataset


def dataset(path, outcomes: list[bool], *, domains=("qa", "math"), kind="student", model="m"):
    """One trajectory per task i with the given correctness, alternating domains."""
    provenance = make_provenance(model=model, kind=kind)
    rows = [make_trajectory(i, correct=ok, domain=domains[i % len(domains)], split="test",
                            provenance=provenance)
            for i, ok in enumerate(outcomes)]
    store = Dataset.create(path)
    store.append(rows)
    return path


@pytest.mark.parametrize("correct, n, low, high", [
    (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0), (62, 100, 0.5222, 0.7088),
])
def test_wilson_interval_matches_known_values(correct, n, low, high):
    got = wilson(correct, n)
    assert got == pytest.approx((low, high), abs=5e-4)


def test_cell_text_has_percent_interval_and_n():
    assert Cell(n=100, correct=62).text() == "62.0 [52, 71] n=100"
    assert Cell(0, 0).text() == "—"


def test_report_table_goals_and_files(tmp_path):
    # 10 tasks: the teacher solves 8; the agent student solves 7 of the same (0.875 of the
    # teacher), with SAG 8; the CoT student 2.
    teacher = dataset(tmp_path / "teacher-test", [True] * 8 + [False] * 2, kind="teacher")
    agent = dataset(tmp_path / "eval-agent", [True] * 7 + [False] * 3)
    sag = dataset(tmp_path / "eval-agent-sag", [True] * 8 + [False] * 2)
    cot = dataset(tmp_path / "eval-cot", [True] * 2 + [False] * 8)
    roles = {"agent": "agent", "agent_sag": "agent+sag", "cot": "cot", "teacher_test": "teacher"}
    paths = report(
        tmp_path / "report",
        [f"teacher={teacher}", f"cot={cot}", f"agent={agent}", f"agent+sag={sag}"],
        train_specs=[f"teacher train={teacher}"], roles=roles,
        rename={"synthetic": "synthetic-test"}, wall_s=90,
    )
    text = paths["markdown"].read_text()
    assert "| agent | 70.0 [40, 89] n=10 |" in text
    assert "synthetic-test/math" in text and "synthetic-test/qa" in text
    assert "Kept by the paper's rule" in text and "teacher train 8" in text
    goals = json.loads(paths["json"].read_text())["goals"]
    by_name = {g["name"].split(" (")[0]: g for g in goals}
    assert by_name["agent-distilled student, greedy, synthetic test"]["met"] is True  # 0.70
    ratio = next(g for g in goals if g["name"].startswith("student / teacher"))
    assert ratio["value"] == pytest.approx(0.875) and ratio["met"] is True
    assert by_name["agent-distilled minus CoT-distilled, points"]["value"] == pytest.approx(50)
    assert by_name["SAG minus greedy"]["value"] == pytest.approx(10)
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_goals_that_are_missed_say_so(tmp_path):
    agent = dataset(tmp_path / "eval-agent", [True] * 3 + [False] * 7)
    cot = dataset(tmp_path / "eval-cot", [True] * 2 + [False] * 8)
    paths = report(tmp_path / "r", [f"agent={agent}", f"cot={cot}"],
                   roles={"agent": "agent", "cot": "cot"}, rename={"synthetic": "synthetic-test"})
    text = paths["markdown"].read_text()
    assert "(goal >= 0.65): **NOT met**" in text
    assert "(goal >= 35): **NOT met**" in text


def test_a_run_that_is_not_a_dataset_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(InputError, match="not a trajkit dataset"):
        report(tmp_path / "r", [f"x={tmp_path / 'missing'}"])
    assert main(["report", str(tmp_path / "r"), "no-equals-sign"]) == 2
    assert "LABEL=RUN_DIR" in capsys.readouterr().err
    assert not (tmp_path / "r" / "RESULTS.md").exists()


def test_a_method_not_run_on_a_benchmark_gets_no_bar_and_no_error_bar():
    import math

    heights, (below, above) = bar_values([Cell(n=10, correct=5), Cell(n=0, correct=0)])
    low, high = wilson(5, 10)
    assert heights[0] == pytest.approx(50.0)
    assert below[0] == pytest.approx(100 * (0.5 - low)) and above[0] == pytest.approx(100 * (high - 0.5))
    assert math.isnan(heights[1]) and math.isnan(below[1]) and math.isnan(above[1])
