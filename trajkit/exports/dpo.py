"""`trajkit export DS OUT --format dpo`: preference pairs in TRL's conversational format.

Each row is `{"prompt": [messages], "chosen": [messages], "rejected": [messages]}` (TRL's
conversational preference format, read by `DPOTrainer` as it is) plus `kind`, `task_id`,
`chosen_id`, `rejected_id`, `step`.

- `task` pairs: for a task with both a correct and an incorrect trajectory, the prompt is the
  student's system prompt and the task; chosen and rejected are the rest of the two
  conversations (every assistant action and observation), rendered as `trajkit train` renders
  them (`trajkit.sft.convert.student_messages`). Each correct trajectory is paired with one
  incorrect trajectory of its task, in turn.
- `step` pairs, from self-consistent action generation: the prompt is the shared history up to
  a step; chosen is the candidate that ran and was selected; rejected is a candidate of the same
  step that failed to parse or to run.

Files: `<split>.jsonl` per task split.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from trajkit.agent.format import step_assistant_text
from trajkit.exports.output import ExportFolder, MissingDataError, by_split
from trajkit.exports.source import load_source, student_prompt
from trajkit.schema import Candidate, Step, Trajectory

Pairs = Literal["task", "step", "both"]
_TASK_FIX = ("build several graded samples per task at a temperature above 0 "
             "(recipe: samples_per_task: 4, sampling.temperature: 0.7)")
_STEP_FIX = "build with self-consistent action generation (recipe: agent.candidates: 4)"


def task_pairs(trajectories: list[Trajectory], system_prompt: str, mode: str = "agent") -> Iterator[tuple[str, dict]]:
    """(split, row) for each correct trajectory paired with an incorrect one of its task."""
    from trajkit.sft.convert import student_messages

    by_task: dict[str, tuple[list[Trajectory], list[Trajectory]]] = {}
    for traj in trajectories:
        good, bad = by_task.setdefault(traj.task.task_id, ([], []))
        if traj.outcome.correct is True:
            good.append(traj)
        elif traj.outcome.correct is False:
            bad.append(traj)
    for task_id, (good, bad) in by_task.items():
        if not good or not bad:
            continue
        for n, chosen in enumerate(good):
            rejected = bad[n % len(bad)]
            chosen_messages = student_messages(chosen, system_prompt, mode=mode)
            rejected_messages = student_messages(rejected, system_prompt, mode=mode)
            prompt = chosen_messages[:2]
            yield chosen.task.split, {
                "prompt": prompt,
                "chosen": _completion(chosen_messages[2:]),
                "rejected": _completion(rejected_messages[2:]),
                "kind": "task",
                "task_id": task_id,
                "chosen_id": chosen.trajectory_id,
                "rejected_id": rejected.trajectory_id,
                "step": None,
            }


def _completion(messages: list[dict]) -> list[dict]:
    """A completion ends with the model's last action (a trailing observation is dropped)."""
    while messages and messages[-1]["role"] != "assistant":
        messages = messages[:-1]
    return messages


def step_pairs(trajectories: list[Trajectory], system_prompt: str) -> Iterator[tuple[str, dict]]:
    """(split, row) for each SAG step with a selected candidate that ran and one that failed."""
    from trajkit.agent.format import conversation

    for traj in trajectories:
        for position, step in enumerate(traj.steps):
            chosen = next((c for c in step.candidates if c.selected and c.parse_ok and c.exec_ok), None)
            if chosen is None:
                continue
            prompt = conversation(system_prompt, traj.task.question, traj.steps[:position])
            for failed in (c for c in step.candidates if not (c.parse_ok and c.exec_ok)):
                yield traj.task.split, {
                    "prompt": prompt,
                    "chosen": [{"role": "assistant", "content": candidate_text(chosen, step)}],
                    "rejected": [{"role": "assistant", "content": candidate_text(failed, step)}],
                    "kind": "step",
                    "task_id": traj.task.task_id,
                    "chosen_id": f"{traj.trajectory_id}/{step.index}/{chosen.index}",
                    "rejected_id": f"{traj.trajectory_id}/{step.index}/{failed.index}",
                    "step": step.index,
                }


def candidate_text(candidate: Candidate, step: Step) -> str:
    """A candidate's assistant turn, rendered as a stored step's turn is."""
    as_step = Step(index=step.index, thought=candidate.thought, code=candidate.code, raw_output=candidate.raw_output)
    return step_assistant_text(as_step)


def missing_pairs(trajectories: list[Trajectory], pairs: Pairs) -> str | None:
    """One line on what the data lack for `pairs`, or None."""
    graded = [t for t in trajectories if t.outcome.correct is not None]
    correct = sum(t.outcome.correct is True for t in graded)
    steps = [s for t in trajectories for s in t.steps]
    with_candidates = [s for s in steps if s.candidates]
    failing = sum(any(not (c.parse_ok and c.exec_ok) for c in s.candidates) for s in with_candidates)
    task_why = (f"no task has both a correct and an incorrect trajectory ({correct} correct, "
                f"{len(graded) - correct} incorrect, {len(trajectories) - len(graded)} ungraded); {_TASK_FIX}")
    if not with_candidates:
        step_why = f"no step has SAG candidates; {_STEP_FIX}"
    else:
        step_why = (f"{len(with_candidates)} steps have SAG candidates but {'none' if not failing else failing} "
                    "has a selected candidate that ran next to one that failed to parse or run; "
                    "sample candidates more widely (agent.candidate_temperature) or build more tasks")
    return {"task": task_why, "step": step_why, "both": f"{task_why}; and {step_why}"}[pairs]


def export_dpo(dataset: str, out: str, *, pairs: Pairs = "both", overwrite: bool = False) -> dict:
    source = load_source(dataset)
    system_prompt, mode = student_prompt(source.trajectories, where=str(dataset))
    rows: list[tuple[str, dict]] = []
    if pairs in ("task", "both"):
        rows += list(task_pairs(source.trajectories, system_prompt, mode))
    if pairs in ("step", "both"):
        rows += list(step_pairs(source.trajectories, system_prompt))
    if not rows:
        raise MissingDataError(missing_pairs(source.trajectories, pairs), where=str(dataset))
    splits = by_split(rows)
    with ExportFolder(out, overwrite=overwrite) as folder:
        for split, records in splits.items():
            folder.write_jsonl(f"{split}.jsonl", records)
    kinds = {kind: sum(r["kind"] == kind for _, r in rows) for kind in ("task", "step")}
    return {"pairs": len(rows), "task pairs": kinds["task"], "step pairs": kinds["step"],
            "splits": ", ".join(f"{k} ({len(v)})" for k, v in splits.items()), "files": folder.files}
