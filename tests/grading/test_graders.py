"""Graders against a table of answer pairs shaped like the seed task files' answers."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.grading.answer_table import FACTUAL, MATH
from trajkit.errors import ConfigError
from trajkit.grading.graders import agrade, grade, resolve_grader
from trajkit.schema import Outcome, Task


def task(gold, *, domain="qa", aliases=(), metadata=None, question="What is it?"):
    return Task(
        task_id="t/1",
        source="test",
        domain=domain,
        question=question,
        gold_answer=gold,
        gold_aliases=list(aliases),
        metadata=json.dumps(metadata or {}),
    )


def test_the_table_is_big_enough_and_has_both_verdicts():
    pairs = MATH + [(g, a, e) for _, g, a, e in FACTUAL]
    assert len(pairs) >= 60
    assert sum(e for *_, e in pairs) >= 20 and sum(not e for *_, e in pairs) >= 20


@pytest.mark.parametrize(("gold", "answer", "expected"), MATH, ids=[f"{g}|{a}" for g, a, _ in MATH])
def test_math_equivalence_table(gold, answer, expected):
    result = grade(task(gold, domain="math"), answer)
    assert result.grader == "math_equiv"
    assert result.correct is expected, result.grader_detail
    assert result.score == (1.0 if expected else 0.0)


@pytest.mark.parametrize(
    ("grader", "gold", "answer", "expected"), FACTUAL, ids=[f"{r}:{g}|{a}" for r, g, a, _ in FACTUAL]
)
def test_factual_table(grader, gold, answer, expected):
    result = grade(task(gold), answer, grader)
    assert result.grader == grader
    assert result.correct is expected, result.grader_detail


def test_aliases_are_accepted():
    t = task("Kugritruth River", aliases=["the Kugritruth"])
    assert grade(t, "Kugritruth").correct is True
    assert grade(t, "Drimzoost").correct is False


def test_f1_score_and_detail():
    result = grade(task("President Richard Nixon"), "Richard Nixon", "f1")
    assert result.score == pytest.approx(0.8)
    assert result.detail["exact_match"] is False
    exact = grade(task("President Richard Nixon"), "Richard Nixon", "exact_match")
    assert exact.score == 0.0 and exact.detail["f1"] == pytest.approx(0.8)


def test_auto_picks_by_domain_and_task_choice():
    assert resolve_grader(task("1", domain="math")) == "math_equiv"
    assert resolve_grader(task("Paris", domain="qa")) == "exact_match"
    dated = task("2081-10-14", domain="math", metadata={"grader": "exact_match"})
    assert resolve_grader(dated) == "exact_match"
    # a date graded as math would be read as 2081 - 10 - 14 = 2057
    assert grade(dated, "2057").correct is False
    assert grade(dated, "October 14, 2081").correct is True


def test_missing_answer_and_missing_gold():
    no_answer = grade(task("5", domain="math"), None)
    assert (no_answer.correct, no_answer.score) == (False, 0.0)
    assert grade(task("5"), "   ").correct is False
    no_gold = grade(task(None), "5")
    assert no_gold.correct is None and no_gold.score is None
    assert "no gold" in no_gold.detail["reason"]


def test_unknown_grader_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown grader"):
        grade(task("5"), "5", "fuzzy")
    with pytest.raises(ConfigError):
        grade(task("5"), "5", "llm_judge:")


def test_grade_fills_outcome_fields():
    outcome = Outcome(status="answered", final_answer="\\frac{1}{2}")
    result = grade(task("0.5", domain="math"), outcome.final_answer)
    filled = result.apply(outcome)
    assert filled.correct is True and filled.grader == "math_equiv"
    assert json.loads(filled.grader_detail)["equivalent"] is True
    assert filled.status == "answered" and filled.final_answer == outcome.final_answer


def test_agrade_matches_grade_inside_an_event_loop():
    async def main():
        return await asyncio.gather(
            agrade(task("\\frac{1}{3}", domain="math"), "1/3"),
            agrade(task("\\frac{1}{3}", domain="math"), "0.33"),
            agrade(task("Denver"), "denver"),
        )

    results = asyncio.run(main())
    assert [r.correct for r in results] == [True, False, True]
