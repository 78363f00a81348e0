"""`trajkit export DS OUT --format tokens`: the tokens the model produced, step by step.

For RL and analysis tools that need the exact sampled tokens (off-policy corrections, logprob
checks): one row per step with captured tokens (`capture_tokens: true` at build time), with
`trajectory_id`, `task_id`, `split`, `step`, `completion_ids`, `logprobs`, `text` (the step's
raw output), `train`, `error_type`, `reward` (the trajectory's outcome score) and `model`.
Files: `<split>.parquet`.
"""

from __future__ import annotations

from trajkit.exports.output import ExportFolder, MissingDataError, by_split
from trajkit.exports.source import load_source


def _schema():
    import pyarrow as pa

    return pa.schema([
        ("trajectory_id", pa.string()), ("task_id", pa.string()), ("split", pa.string()), ("step", pa.int32()),
        ("completion_ids", pa.list_(pa.int64())), ("logprobs", pa.list_(pa.float32())), ("text", pa.string()),
        ("train", pa.bool_()), ("error_type", pa.string()), ("reward", pa.float64()), ("model", pa.string()),
    ])


def export_tokens(dataset: str, out: str, *, overwrite: bool = False) -> dict:
    source = load_source(dataset)
    rows = []
    for traj in source.trajectories:
        for step in traj.steps:
            if not step.token_ids:
                continue
            rows.append((traj.task.split, {
                "trajectory_id": traj.trajectory_id, "task_id": traj.task.task_id, "split": traj.task.split,
                "step": step.index, "completion_ids": step.token_ids, "logprobs": step.logprobs,
                "text": step.raw_output, "train": step.train,
                "error_type": step.error.type if step.error else None,
                "reward": traj.outcome.score, "model": traj.provenance.model,
            }))
    if not rows:
        raise MissingDataError(
            f"no step of the {len(source.trajectories)} trajectories has captured token ids",
            where=str(dataset),
            fix="build with capture_tokens: true in the recipe (backends local and llamacpp return token ids)",
        )
    splits = by_split(rows)
    with ExportFolder(out, overwrite=overwrite) as folder:
        for split, records in splits.items():
            folder.write_parquet(f"{split}.parquet", records, schema=_schema())
    return {"steps": len(rows), "splits": ", ".join(f"{k} ({len(v)})" for k, v in splits.items()),
            "files": folder.files}
