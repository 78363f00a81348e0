"""Math checks run in a worker process under a hard deadline, from any thread."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from trajkit.grading.graders import grade
from trajkit.grading.math_equivalence import MathChecker, strip_boxed
from trajkit.schema import Task

PATHOLOGICAL = ("10^{10^{10}}", "1")  # sympy tries to evaluate a 10-billion-digit number


@pytest.fixture
def checker():
    with MathChecker(timeout_s=1.0) as c:
        yield c


def test_pathological_answer_times_out_cleanly_and_the_worker_lives_on(checker):
    start = time.monotonic()
    verdict = checker.check(*PATHOLOGICAL)
    assert verdict.equivalent is False and verdict.timed_out is True
    assert time.monotonic() - start < 60  # bounded: without the deadline this runs for ages
    assert checker.check("\\frac{1}{2}", "0.5").equivalent is True
    assert checker.restarts == 0  # the soft deadline stopped it; no kill was needed


def test_hard_deadline_kills_a_worker_that_does_not_answer():
    with MathChecker(timeout_s=1.0, soft_deadline=False) as checker:
        verdict = checker.check(*PATHOLOGICAL)
        assert verdict.timed_out is True and verdict.how == "hard_timeout"
        assert checker.restarts == 1
        # a fresh worker takes over
        assert checker.check("(6,31,-1)", "(6, 31, -1)").equivalent is True
        assert checker.check("3 \\sqrt{2}", "\\sqrt{18}").equivalent is True


def test_checks_work_off_the_main_thread(checker):
    pairs = [("\\frac{1}{3}", "1/3", True), ("116", "117", False), (PATHOLOGICAL[0], "1", False)] * 2
    with ThreadPoolExecutor(max_workers=3) as pool:
        verdicts = list(pool.map(lambda p: checker.check(p[0], p[1]), pairs))
    assert [v.equivalent for v in verdicts] == [p[2] for p in pairs]
    assert sum(v.timed_out for v in verdicts) == 2


def test_grade_reports_the_timeout_in_the_detail():
    task = Task(task_id="m/1", source="t", domain="math", question="Compute it.", gold_answer="1")
    result = grade(task, "10^{10^{10}}", math_timeout_s=1.0)
    assert result.correct is False
    assert json.loads(result.grader_detail)["timed_out"] is True


def test_identical_answers_skip_the_worker():
    checker = MathChecker()
    try:
        assert checker.check("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})").how == "identical"
        assert checker._process is None
        assert checker.check("12", "1 2").how != "identical"  # spaces between digits count
    finally:
        checker.close()


def test_strip_boxed_takes_the_last_balanced_box():
    assert strip_boxed("so \\boxed{1} then \\boxed{\\frac{1}{2}}.") == "\\frac{1}{2}"
    assert strip_boxed("no box") == "no box"
