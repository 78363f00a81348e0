"""Readable terminal renderings of trajectories and tables (rich)."""

from __future__ import annotations

from typing import Any

from trajkit.schema import Step, Trajectory


def table(title: str | None, rows: list[dict[str, Any]], *, wide: str = "auto"):
    """Row dicts (all rows share the keys of the first) laid out to fit the terminal
    (`trajkit.cli.tables`: a table, one metric per line, or one block per row)."""
    from trajkit.cli.tables import FitTable

    return FitTable(title, rows, wide=wide)


def trajectory(traj: Trajectory):
    """A rich renderable of one trajectory: header, task, each step, outcome."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    parts = [
        Text.assemble(
            ("trajectory ", "dim"), (traj.trajectory_id, "bold"),
            ("  task ", "dim"), traj.task.task_id,
            ("  ", ""), (f"{traj.provenance.kind}:{traj.provenance.model}", "cyan"),
            ("  sample ", "dim"), str(traj.sample_index),
        ),
        Panel(traj.task.question, title=f"question ({traj.task.source}/{traj.task.domain})", title_align="left"),
    ]
    parts += [_step(step) for step in traj.steps]
    parts.append(_outcome(traj))
    return Group(*parts)


def _step(step: Step):
    from rich.console import Group
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.text import Text

    body = []
    if step.prefix:
        body.append(Text.assemble(("first-thought prefix: ", "magenta"), step.prefix))
    if step.thought:
        body.append(Text.assemble(("Thought: ", "bold"), step.thought))
    if step.code:
        body.append(Syntax(step.code, "python", theme="ansi_dark", line_numbers=False, word_wrap=True))
    if not step.thought and not step.code and step.raw_output:
        body.append(Text(step.raw_output))
    for call in step.tool_calls:
        if call.retrieved:
            titles = ", ".join(f"{d.title or d.doc_id}" for d in call.retrieved)
            body.append(Text.assemble((f"{call.name} → ", "blue"), titles))
    if step.observation:
        body.append(Text.assemble(("Observation: ", "green"), step.observation))
    if step.error:
        body.append(Text.assemble((f"{step.error.type}: ", "bold red"), step.error.message))
    if step.candidates:
        chosen = [c.index for c in step.candidates if c.selected]
        body.append(Text(f"{len(step.candidates)} candidates, selected {chosen}", style="dim"))
    tokens = f"{step.completion_tokens} tok" if step.completion_tokens is not None else ""
    train = "" if step.train else " (no loss)"
    return Panel(Group(*body), title=f"step {step.index}{train}", subtitle=tokens, title_align="left")


def _outcome(traj: Trajectory):
    from rich.text import Text

    outcome = traj.outcome
    verdict = {True: ("correct", "bold green"), False: ("wrong", "bold red")}.get(
        outcome.correct, ("ungraded", "yellow")
    )
    return Text.assemble(
        ("outcome ", "dim"), (outcome.status, "bold"),
        ("  answer ", "dim"), str(outcome.final_answer),
        ("  gold ", "dim"), str(traj.task.gold_answer),
        ("  ", ""), verdict,
        ("  tokens ", "dim"), str(traj.usage.total_tokens),
        ("  steps ", "dim"), str(len(traj.steps)),
    )
