"""Self-consistent action generation: vote among candidate actions.

Each candidate is parsed and run on its own fork of the trajectory's interpreter, so a losing
candidate can never leave variables behind. Candidates that fail to parse or raise are dropped.
The rest vote with what they produced: a candidate that called `final_answer` votes with its
answer, any other with its observation. The largest group wins; ties go to the group whose
first member came first (deterministic). The winner's interpreter state continues.

This fixes two flaws of the reference code: it voted on printed output only (three different
`final_answer` values all counted as one group) and ran every candidate in one shared
interpreter.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from trajkit.schema import Candidate, StepError
from trajkit.tools.protocol import ExecResult, Interpreter


@dataclass
class CandidateRun:
    """One candidate action and what running it gave."""

    index: int
    raw_output: str
    thought: str | None
    code: str | None
    parse_ok: bool
    exec_ok: bool
    observation: str | None
    final_answer: Any  # JSON value, when the code called final_answer
    answered: bool
    error: StepError | None = None
    result: ExecResult | None = None  # what running its code gave (None: it did not parse)
    interpreter: Interpreter | None = None  # the fork it ran on (self-consistent actions only)


def vote_key(run: CandidateRun) -> str | None:
    """What a candidate votes with; None when it cannot vote (parse or execution failed)."""
    if not (run.parse_ok and run.exec_ok):
        return None
    if run.answered:
        return "answer:" + json.dumps(run.final_answer, sort_keys=True, ensure_ascii=False)
    return "output:" + (run.observation or "").strip()


def choose(runs: list[CandidateRun]) -> tuple[CandidateRun, dict[str, int]]:
    """The winning candidate and the vote counts.

    When no candidate can vote, the first candidate wins (its error is then what the
    trajectory records, as it would be without SAG).
    """
    keys = {run.index: vote_key(run) for run in runs}
    counts = Counter(key for key in keys.values() if key is not None)
    if not counts:
        return runs[0], {}
    first_seen = {}
    for run in runs:
        key = keys[run.index]
        if key is not None and key not in first_seen:
            first_seen[key] = run.index
    winner_key = max(counts, key=lambda k: (counts[k], -first_seen[k]))
    winner = next(run for run in runs if keys[run.index] == winner_key)
    return winner, dict(counts)


def to_candidates(runs: list[CandidateRun], winner: CandidateRun, counts: dict[str, int]) -> list[Candidate]:
    """The stored record of every candidate, with its verdict."""
    stored = []
    for run in runs:
        key = vote_key(run)
        stored.append(
            Candidate(
                index=run.index,
                raw_output=run.raw_output,
                thought=run.thought,
                code=run.code,
                parse_ok=run.parse_ok,
                exec_ok=run.exec_ok,
                output=run.observation,
                final_answer=None if not run.answered else _answer_text(run.final_answer),
                vote_key=key,
                votes=counts.get(key, 0) if key else 0,
                selected=run is winner,
                error=run.error,
            )
        )
    return stored


def _answer_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
