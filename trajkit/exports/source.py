"""What an export reads: a dataset's trajectories and the student's system prompt for them.

Exports render conversations with the same functions `trajkit train` trains on
(`trajkit.sft.convert.student_messages`, the student prompt chosen by
`trajkit.sft.convert.system_prompt_name`), so every format carries the text the student sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trajkit.schema import Trajectory


@dataclass
class ExportSource:
    path: Path
    name: str
    fingerprint: str
    trajectories: list[Trajectory]


def load_source(path: str | Path) -> ExportSource:
    from trajkit.store import Dataset

    dataset = Dataset.open(Path(path))
    return ExportSource(Path(path), dataset.name, dataset.manifest.fingerprint, list(dataset.trajectories()))


def student_prompt(trajectories: list[Trajectory], *, where: str = "dataset") -> tuple[str, str]:
    """(system prompt text, mode) a student trained on `trajectories` is prompted with."""
    from trajkit.agent.prompts import load_prompt
    from trajkit.sft.convert import AUTO, system_prompt_name
    from trajkit.sft.data import training_mode

    mode = training_mode(trajectories, where=where)
    return load_prompt(system_prompt_name(AUTO, mode)).text, mode
