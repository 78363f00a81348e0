"""The trajectories a recipe trains on: dataset directories (or `synthetic:N`) and a filter."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from trajkit.errors import ConfigError
from trajkit.schema import Trajectory, stable_hash

_SYNTHETIC = re.compile(r"^synthetic:(\d+)(?::(\d+))?$")


@dataclass
class TrainingData:
    trajectories: list[Trajectory]
    sources: list[dict]  # {path, name, fingerprint, rows}
    where: str | None
    fingerprint: str  # of the sources and the filter


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
    return TrainingData(trajectories, sources, where, fingerprint)


def _fingerprint(spec: str, dataset) -> str:
    if synthetic_spec(spec) is not None:  # shard names are random; the content is not
        return stable_hash([spec, sorted(dataset.trajectory_ids())])
    return dataset.manifest.fingerprint
