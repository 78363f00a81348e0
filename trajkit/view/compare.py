"""Comparing two trajectories of the same task, step by step.

Two runs (teacher vs student, base vs trained, greedy vs SAG) are aligned by step index. A step
is summarised by its *action signature*: what it did, in a form that ignores wording and
formatting —

- a step with a typed error: the error type (`error:parse_error`);
- a step that answered: the normalised answer (`answer:1270`);
- a step that called tools other than the interpreter (search, ...): the calls with their
  normalised arguments (`tools:search(feilvouldor)`);
- any other step: what its code printed (`output:42`), or its normalised code when it printed
  nothing.

The two runs *diverge* at the first index where the signatures differ, or where one run has a
step and the other has none. The reason is read off the compared run's step there (its error
type, `answered`, `different_action`) or says which run ended (`ended`, `continued`).

The viewer's JavaScript (`static/viewer.js`, `divergence()`) mirrors `divergence` here over
the interned signature ids this module puts in the page data; tests check both agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from trajkit.tools.spec import PYTHON_INTERPRETER

# Reasons, besides the error types of the schema (parse_error, execution_error, ...).
ENDED = "ended"  # the compared run stopped (no step here) while the reference went on
CONTINUED = "continued"  # the reference stopped here; the compared run went on
ANSWERED = "answered"  # the compared run answered (a different answer, or earlier)
DIFFERENT_ACTION = "different_action"  # searched / computed something else

_SPACE = re.compile(r"\s+")


def _norm(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        text = json.dumps(text, sort_keys=True, ensure_ascii=False)
    return _SPACE.sub(" ", text).strip().lower()


def _norm_arguments(arguments: Any) -> str:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return _norm(arguments)
    if isinstance(value, dict):
        return ",".join(f"{k}={_norm(value[k])}" for k in sorted(value))
    return _norm(value)


def step_signature(step: dict) -> str:
    """The action signature of one step (a stored step as a dict)."""
    error = step.get("error") or {}
    if error.get("type"):
        return f"error:{error['type']}"
    if step.get("final_answer") is not None:
        return f"answer:{_norm(step['final_answer'])}"
    calls = [
        f"{_norm(call.get('name'))}({_norm_arguments(call.get('arguments'))})"
        for call in step.get("tool_calls") or []
        if call.get("name") and call.get("name") != PYTHON_INTERPRETER
    ]
    if calls:
        return "tools:" + ";".join(calls)
    observation = _norm(step.get("observation"))
    if observation:
        return f"output:{observation}"
    return f"code:{_norm(step.get('code'))}"


def step_reason(step: dict) -> str:
    """Why a run that does `step` where the reference did something else has diverged."""
    error = step.get("error") or {}
    if error.get("type"):
        return str(error["type"])
    if step.get("final_answer") is not None:
        return ANSWERED
    return DIFFERENT_ACTION


def divergence(reference: Sequence[dict], other: Sequence[dict]) -> tuple[int, str] | None:
    """(index, reason) of the first step where `other` leaves `reference`; None if it never does."""
    return divergence_of_signatures(
        [step_signature(s) for s in reference],
        [step_signature(s) for s in other],
        [step_reason(s) for s in other],
    )


def divergence_of_signatures(
    ref_sigs: Sequence[Any], other_sigs: Sequence[Any], other_reasons: Sequence[str]
) -> tuple[int, str] | None:
    """`divergence` over precomputed signatures and the compared run's `step_reason`s."""
    for index in range(max(len(ref_sigs), len(other_sigs))):
        if index >= len(other_sigs):
            return index, ENDED
        if index >= len(ref_sigs):
            return index, CONTINUED
        if ref_sigs[index] != other_sigs[index]:
            return index, other_reasons[index]
    return None


class Interner:
    """Small integer ids for signatures, shared by every dataset of one page."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, signature: str) -> int:
        found = self.ids.get(signature)
        if found is None:
            found = self.ids[signature] = len(self.ids)
        return found


Run = tuple[int, "bool | None", Sequence[int], Sequence[str]]  # row, correct, signature ids, reasons


def pair_items(tasks_a: dict[int, list[Run]], tasks_b: dict[int, list[Run]]) -> list[list]:
    """Divergence of every trajectory of run B from run A's reference path, per shared task.

    `tasks_x` maps a task number to that run's trajectories on it, in sample order, as
    (row, correct, signature ids, step reasons). A's reference path is its first correct
    trajectory on the task, else its first one. Each item is
    [task, a_row, b_row, a_correct (1/0/-1), b_correct, step (-1: never diverged), reason].
    """
    items: list[list] = []
    for task, a_runs in tasks_a.items():
        b_runs = tasks_b.get(task)
        if not b_runs:
            continue
        a_row, a_correct, a_sigs, _ = next((r for r in a_runs if r[1] is True), a_runs[0])
        for b_row, b_correct, b_sigs, b_reasons in b_runs:
            found = divergence_of_signatures(a_sigs, b_sigs, b_reasons)
            step, reason = found if found else (-1, "")
            items.append([task, a_row, b_row, _tri(a_correct), _tri(b_correct), step, reason])
    return items


def _tri(value: bool | None) -> int:
    return -1 if value is None else int(bool(value))
