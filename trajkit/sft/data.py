"""The trajectories a recipe trains on: dataset directories (or `synthetic:N`) and a filter.

The data of one run are all agent trajectories or all CoT answers (`training_mode`): the two
are trained with different system prompts and evaluated in different modes, so a mix is an
error; pick one kind with the datasets or the filter and train one student per kind.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from trajkit.errors import ConfigError
from trajkit.schema import Provenance, Trajectory, stable_hash
from trajkit.sft.convert import Mode

_SYNTHETIC = re.compile(r"^synthetic:(\d+)(?::(\d+))?$")


@dataclass
class TrainingData:
    trajectories: list[Trajectory]
    sources: list[dict]  # {path, name, fingerprint, rows}
    where: str | None
    fingerprint: str  # of the sources and the filter
    mode: Mode = "agent"  # agent trajectories or CoT answers (`training_mode`)


def synthetic_spec(spec: str) -> tuple[int, int] | None:
    """`synthetic:N[:SEED]` -> (N, SEED); None for anything else."""
    match = _SYNTHETIC.match(spec.strip())
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def load_training_data(datasets: list[str], where: str | None, *, where_label: str = "dataset") -> TrainingData:
    """The trajectories of `datasets` for which the SQL predicate `where` holds."""
    from trajkit.query import select_rows
    from trajkit.store import Dataset

    scratch = None
    try:
        opened = []
        for position, spec in enumerate(datasets):
            synthetic = synthetic_spec(spec)
            if synthetic is not None:
                from trajkit.sft.synthetic import synthetic_trajectories

                scratch = scratch or Path(tempfile.mkdtemp(prefix="trajkit-sft-"))
                path = scratch / f"synthetic-{position}"
                dataset = Dataset.create(path, name=spec)
                dataset.append(synthetic_trajectories(*synthetic))
                opened.append(dataset)
            else:
                if not Path(spec).expanduser().exists():
                    raise ConfigError(
                        "no such dataset directory",
                        where=f"{where_label}: {spec}",
                        fix="give a trajkit dataset directory (trajkit build / import), or synthetic:N",
                    )
                opened.append(Dataset.open(Path(spec).expanduser()))
        if where:
            table = select_rows(opened, where)
            trajectories = [Trajectory.model_validate(row) for row in table.to_pylist()]
        else:
            trajectories = [traj for dataset in opened for traj in dataset.trajectories()]
        sources = [
            {"path": spec, "name": d.name, "fingerprint": _fingerprint(spec, d), "rows": len(d)}
            for spec, d in zip(datasets, opened, strict=True)
        ]
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    fingerprint = stable_hash([[s["fingerprint"] for s in sources], where])
    mode = training_mode(trajectories, where=f"{where_label}: {', '.join(datasets)}" + (" / filter" if where else ""))
    return TrainingData(trajectories, sources, where, fingerprint, mode)


def training_mode(trajectories: list[Trajectory], *, where: str = "dataset") -> Mode:
    """`cot` when every trajectory is a CoT answer, `agent` when none is; a mix is an error.

    Decided per provenance (`provenance_modes`).
    """
    groups = _provenance_groups(trajectories)
    cot = agent = 0
    templates: dict[bool, set[str]] = {True: set(), False: set()}
    for group in groups.values():
        is_cot = group.mode == "cot"
        templates[is_cot].add(group.provenance.prompt_template or "no prompt recorded")
        if is_cot:
            cot += group.count
        else:
            agent += group.count
    if cot and agent:
        raise ConfigError(
            f"the training data mix {agent} agent trajectories (prompt {', '.join(sorted(templates[False]))}) "
            f"and {cot} CoT answers (prompt {', '.join(sorted(templates[True]))}); one run trains one "
            "kind of student (its system prompt and its eval mode differ)",
            where=where,
            fix="train one student per kind: give only agent or only CoT datasets (trajkit build "
            "mode: cot), or select one kind with the filter, e.g. \"provenance.prompt_template LIKE 'cot/%'\"",
        )
    return "cot" if cot else "agent"


def provenance_modes(trajectories: Iterable[Trajectory]) -> dict[str, Mode]:
    """Provenance fingerprint -> `cot` or `agent`: what kind of student each group trains.

    Per `trajkit.agent.cot.is_cot_provenance`: made with the `cot` prompt, or (imported data)
    one step allowed and no code or tool call in any trajectory of the group. Streams: keeps
    one trajectory per group at most.
    """
    return {fingerprint: group.mode for fingerprint, group in _provenance_groups(trajectories).items()}


@dataclass
class _Group:
    provenance: Provenance
    count: int = 0
    acting: Trajectory | None = None  # a trajectory of the group that wrote code or called a tool

    @property
    def mode(self) -> Mode:
        from trajkit.agent.cot import is_cot_provenance

        return "cot" if is_cot_provenance(self.provenance, [self.acting] if self.acting else []) else "agent"


def _provenance_groups(trajectories: Iterable[Trajectory]) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for traj in trajectories:
        group = groups.setdefault(traj.provenance.fingerprint, _Group(traj.provenance))
        group.count += 1
        if group.acting is None and any(step.code or step.tool_calls for step in traj.steps):
            group.acting = traj
    return groups


def _fingerprint(spec: str, dataset) -> str:
    if synthetic_spec(spec) is not None:  # shard names are random; the content is not
        return stable_hash([spec, sorted(dataset.trajectory_ids())])
    return dataset.manifest.fingerprint
