"""Grading a final answer against a task's gold answer.

Graders (the names stored in `Outcome.grader`):

- `exact_match`: normalised exact match against the gold answer and its aliases
  (`trajkit.grading.text_match`); score 1.0 or 0.0; token F1 is kept in the detail.
- `f1`: token F1; score is the F1, correct when it reaches `f1_threshold`.
- `math_equiv`: equivalence through math-verify in a worker process with a hard deadline
  (`trajkit.grading.math_equivalence`); a check that runs out of time counts as not correct and says so
  in the detail (`timed_out`).
- `llm_judge:<model>`: an LLM judge (`trajkit.grading.llm_judge`); verdict, rationale, prompt id and
  hash are kept in the detail; correct is None when the reply held no verdict.

`auto` uses the task's own choice when its metadata names one (`{"grader": ...}`, set by the
synthetic generator for answers such as dates), else `math_equiv` for the math domain and
`exact_match` for everything else.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from trajkit.errors import ConfigError
from trajkit.schema import Outcome, Task

GRADERS = ("exact_match", "f1", "math_equiv", "llm_judge:<model>")
F1_THRESHOLD = 0.8
MATH_DOMAINS = {"math"}


@dataclass(frozen=True)
class Grade:
    """The grading fields of an `Outcome`."""

    correct: bool | None
    score: float | None
    grader: str
    grader_detail: str  # JSON text

    def outcome_fields(self) -> dict[str, Any]:
        return {
            "correct": self.correct,
            "score": self.score,
            "grader": self.grader,
            "grader_detail": self.grader_detail,
        }

    def apply(self, outcome: Outcome) -> Outcome:
        return outcome.model_copy(update=self.outcome_fields())

    @property
    def detail(self) -> dict[str, Any]:
        return json.loads(self.grader_detail)


def check_grader_name(grader: str) -> str:
    """Validate a grader name given by a user; returns it unchanged."""
    if grader in ("auto", "exact_match", "f1", "math_equiv"):
        return grader
    if grader.startswith("llm_judge:") and grader.removeprefix("llm_judge:").strip():
        return grader
    raise ConfigError(
        f"unknown grader {grader!r}",
        where="grader",
        fix="use auto, exact_match, f1, math_equiv or llm_judge:<model>",
    )


def resolve_grader(task: Task, grader: str = "auto") -> str:
    """The concrete grader `grade` will use for this task."""
    check_grader_name(grader)
    if grader != "auto":
        return grader
    chosen = _task_metadata(task).get("grader")
    if isinstance(chosen, str) and chosen != "auto":
        return check_grader_name(chosen)
    return "math_equiv" if task.domain in MATH_DOMAINS else "exact_match"


def grade(
    task: Task,
    answer: str | None,
    grader: str = "auto",
    *,
    judge: Any = None,
    math_timeout_s: float | None = None,
    f1_threshold: float = F1_THRESHOLD,
) -> Grade:
    """Grade `answer` for `task`. `judge` (an `LLMJudge`) is needed for `llm_judge:*`."""
    name = resolve_grader(task, grader)
    early = _ungradable(task, answer, name)
    if early is not None:
        return early
    assert answer is not None and task.gold_answer is not None
    if name == "exact_match":
        return _exact_match(task, answer)
    if name == "f1":
        return _f1(task, answer, f1_threshold)
    if name == "math_equiv":
        return _math_equiv(task, answer, math_timeout_s)
    return _judge_result(name, _judge_for(name, judge).judge(*_judge_args(task, answer)))


async def agrade(
    task: Task,
    answer: str | None,
    grader: str = "auto",
    *,
    judge: Any = None,
    math_timeout_s: float | None = None,
    f1_threshold: float = F1_THRESHOLD,
) -> Grade:
    """`grade` for event loops: math checks run in a thread, the judge is awaited."""
    name = resolve_grader(task, grader)
    if name.startswith("llm_judge:"):
        early = _ungradable(task, answer, name)
        if early is not None:
            return early
        assert answer is not None
        verdict = await _judge_for(name, judge).ajudge(*_judge_args(task, answer))
        return _judge_result(name, verdict)
    return await asyncio.to_thread(
        grade, task, answer, name, math_timeout_s=math_timeout_s, f1_threshold=f1_threshold
    )


# --------------------------------------------------------------------------- graders


def accepted_answers(task: Task) -> list[str]:
    golds = [task.gold_answer] if task.gold_answer is not None else []
    return golds + [a for a in task.gold_aliases if a not in golds]


def _ungradable(task: Task, answer: str | None, name: str) -> Grade | None:
    if task.gold_answer is None or not task.gold_answer.strip():
        return Grade(None, None, name, _json({"reason": "the task has no gold answer"}))
    if answer is None or not str(answer).strip():
        return Grade(False, 0.0, name, _json({"reason": "no answer"}))
    return None


def _exact_match(task: Task, answer: str) -> Grade:
    from trajkit.grading.text_match import exact_match, normalize_answer, token_f1

    golds = accepted_answers(task)
    correct = exact_match(answer, golds)
    detail = {
        "normalized_answer": normalize_answer(answer),
        "normalized_golds": [normalize_answer(g) for g in golds],
        "f1": round(token_f1(answer, golds), 4),
    }
    return Grade(correct, 1.0 if correct else 0.0, "exact_match", _json(detail))


def _f1(task: Task, answer: str, threshold: float) -> Grade:
    from trajkit.grading.text_match import exact_match, token_f1

    golds = accepted_answers(task)
    score = round(token_f1(answer, golds), 4)
    exact = exact_match(answer, golds)
    if exact:
        score = 1.0  # a number with its unit, a date in another form: same answer
    detail = {"f1": score, "exact_match": exact, "threshold": threshold}
    return Grade(score >= threshold, score, "f1", _json(detail))


def _math_equiv(task: Task, answer: str, timeout_s: float | None) -> Grade:
    from trajkit.grading.math_equivalence import math_equivalent

    verdicts = [math_equivalent(gold, answer, timeout_s=timeout_s) for gold in accepted_answers(task)[:4]]
    best = next((v for v in verdicts if v.equivalent), verdicts[0])
    detail = best.detail()
    if any(v.timed_out for v in verdicts) and not best.equivalent:
        detail["timed_out"] = True
    return Grade(best.equivalent, 1.0 if best.equivalent else 0.0, "math_equiv", _json(detail))


def _judge_for(name: str, judge: Any):
    from trajkit.grading.llm_judge import LLMJudge

    model = name.removeprefix("llm_judge:")
    if judge is None:
        raise ConfigError(
            f"grader {name} needs a judge model connection",
            where="grader",
            fix="pass judge=LLMJudge(...) or judge_from_backend(backend) (CLI: --judge-base-url)",
        )
    if not isinstance(judge, LLMJudge):
        return LLMJudge(judge, model)
    if judge.model != model:
        raise ConfigError(
            f"the judge given uses model {judge.model!r}, not {model!r}",
            where="grader",
            fix=f"ask for grader llm_judge:{judge.model} or pass a judge for {model}",
        )
    return judge


def _judge_args(task: Task, answer: str) -> tuple[str, str, str, list[str]]:
    assert task.gold_answer is not None
    return task.question, task.gold_answer, answer, list(task.gold_aliases)


def _judge_result(name: str, verdict) -> Grade:
    score = None if verdict.correct is None else float(verdict.correct)
    return Grade(verdict.correct, score, name, _json(verdict.detail()))


def _task_metadata(task: Task) -> dict:
    try:
        value = json.loads(task.metadata or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _json(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
