"""A data lever for unseen question shapes: the teacher rewords the training questions.

A student that copies templates fails on wordings it never saw. This lever gives it more wordings
at no extra trajectory: each kept teacher trajectory gets a copy whose question the teacher
rewrote (task id and trajectory id `ID#reworded`); the steps stay as they are, since the same
plan answers the same question. A rewording is kept only where `rejection` finds nothing wrong:
every number and every name of the original is still there, no gold answer appeared, and it is a
single question that differs from the original. Rejected ones are retried with the next seed,
then left out (the trajectory keeps no copy).

These checks cannot see a rewording that changes the question's meaning ("What is 712 − 281 +
24?" -> "What is the sum of 712, 281, and 24?"). The stricter form of the lever checks each one by
the teacher's own solution: `reworded_tasks` gives the accepted rewordings as tasks (same gold),
the teacher solves them as an agent (`trajkit build`), and the paper's rule keeps the correct
trajectories, whose steps were written for the reworded question.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trajkit.schema import Sampling, Trajectory

ID_SUFFIX = "#reworded"
INSTRUCTION = (
    "Rewrite the question below in different words and with a different sentence structure. "
    "Keep every name and every number exactly as written. Do not answer it and do not explain. "
    "Reply with the rewritten question only.\n\nQuestion: {question}"
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@dataclass
class RewordSummary:
    originals: int = 0
    copies: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> attempts rejected for it
    examples: list[dict] = field(default_factory=list)  # original, rewording, kept or why not


def numbers(text: str) -> Counter:
    return Counter(match.replace(",", "") for match in _NUMBER.findall(text))


def names(text: str) -> set[str]:
    """Capitalised words that do not open a sentence: the entities of a synthetic question."""
    found = set()
    for match in _WORD.finditer(text):
        before = text[: match.start()].rstrip()
        if match.group()[0].isupper() and before and before[-1] not in ".?!:":
            found.add(match.group())
    return found


def cleaned(reply: str) -> str:
    """The first non-empty line, without a 'Question:' label or quotes around it."""
    line = next((line.strip() for line in reply.splitlines() if line.strip()), "")
    line = re.sub(r"^(rewritten question|question)\s*:\s*", "", line, flags=re.IGNORECASE)
    return line.strip().strip('"“”').strip()


def rejection(original: str, rewording: str, golds: list[str]) -> str | None:
    """Why the rewording cannot stand in for the original question, or None when it can."""
    if not rewording:
        return "empty"
    if _plain(rewording) == _plain(original):
        return "unchanged"
    if numbers(rewording) != numbers(original):
        return "numbers changed"
    if not names(original) <= set(_WORD.findall(rewording)):
        return "a name lost"
    leaked = [g for g in golds if g and g.lower() in rewording.lower() and g.lower() not in original.lower()]
    if leaked:
        return "gives the answer"
    if not rewording.endswith(("?", ".")) or len(rewording) > 2 * len(original) + 40:
        return "not a single question"
    return None


def _plain(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def reworded_copy(traj: Trajectory, rewording: str) -> Trajectory:
    task = traj.task.model_copy(update={"task_id": traj.task.task_id + ID_SUFFIX, "question": rewording})
    return traj.model_copy(update={"trajectory_id": traj.trajectory_id + ID_SUFFIX, "task": task})


async def _rewordings(trajectories: list[Trajectory], backend, seed: int, tries: int, summary: RewordSummary) -> list[str | None]:
    from trajkit.teachers import GenerationRequest

    async def one(traj: Trajectory) -> str | None:
        golds = [traj.task.gold_answer or "", *traj.task.gold_aliases]
        record = {"trajectory_id": traj.trajectory_id, "original": traj.task.question, "tries": []}
        summary.examples.append(record)
        for attempt in range(tries):
            sampling = Sampling(temperature=0.7, top_p=0.95, max_tokens=96, seed=seed + attempt)
            prompt = INSTRUCTION.format(question=traj.task.question)
            reply = await backend.generate(GenerationRequest([{"role": "user", "content": prompt}], sampling))
            rewording = cleaned(reply.text)
            reason = rejection(traj.task.question, rewording, golds)
            record["tries"].append({"rewording": rewording, "rejected": reason})
            if reason is None:
                return rewording
            summary.rejected[reason] += 1
        return None

    return await asyncio.gather(*(one(traj) for traj in trajectories))


def reworded_tasks(dataset: str | Path) -> list:
    """The tasks of the reworded copies in a dataset `reword` wrote (ids `ID#reworded`, golds
    and metadata of the original), in id order."""
    from trajkit.store import Dataset

    copies = [traj.task for traj in Dataset.open(dataset).trajectories() if traj.trajectory_id.endswith(ID_SUFFIX)]
    return sorted(copies, key=lambda task: task.task_id)


def reword(dataset: str | Path, out: str | Path, *, teacher: Mapping[str, Any], where: str | None,
           subsample: int | None, seed: int = 0, tries: int = 3) -> RewordSummary:
    """Write `out`: the trajectories of `dataset` that `where` keeps (`subsample` of them, drawn
    as `trajkit train` draws them with `seed`) and a reworded copy of each that passes.
    `teacher` is a teacher block (`trajkit.teachers.make_backend`)."""
    from trajkit.sft.data import load_training_data
    from trajkit.sft.prepare import subsampled
    from trajkit.store import Dataset, derive
    from trajkit.teachers import make_backend

    trajectories, _ = subsampled(load_training_data([str(dataset)], where).trajectories, subsample, seed)
    trajectories.sort(key=lambda traj: traj.trajectory_id)
    summary = RewordSummary(originals=len(trajectories))
    backend = make_backend(teacher, where="reword teacher")

    async def run() -> list[str | None]:
        try:
            return await _rewordings(trajectories, backend, seed, tries, summary)
        finally:
            await backend.aclose()

    rewordings = asyncio.run(run())
    copies = [reworded_copy(traj, text) for traj, text in zip(trajectories, rewordings, strict=True) if text]
    summary.copies = len(copies)
    derive([Dataset.open(dataset)], out, trajectories + copies, operation="reword", overwrite=True,
           params={"teacher": dict(teacher), "where": where, "subsample": subsample, "seed": seed, "tries": tries})
    return summary
