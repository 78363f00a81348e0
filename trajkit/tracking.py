"""Experiment tracking (`--report-to trackio|wandb`) for `trajkit build`, `eval` and `train`.

Off by default. A run's config carries the dataset's fingerprint (and the provenance / data
fingerprints), so a tracked run points at exactly the data it made or used. What is logged:

- build: trajectories, answered and correct rates, teacher errors, step error rates by type,
  tokens, rates (traj/s, tokens/s), wall time;
- eval: accuracy and the rest of the overall metrics, per benchmark as `BENCH/metric`;
- train: the loss curve (one point per logged step) and the final training metrics.

`trackio` is local-first: it writes into `$TRACKIO_DIR` (default `~/.cache/huggingface/trackio`);
`trackio show` opens the dashboard. `wandb` logs through W&B where it is installed and set up
(`WANDB_MODE=offline` keeps it local). The libraries are imported only when a run starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from trajkit.errors import ConfigError, require

CHOICES = ("none", "trackio", "wandb")
PROJECT = "trajkit"
REPORT_TO_HELP = "log metrics to an experiment tracker: trackio (local folder, $TRACKIO_DIR) or wandb; default none"


class Tracker(Protocol):
    def log(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def finish(self) -> None: ...


class _Trackio:
    def __init__(self, project: str, name: str, config: dict):
        self._trackio = require("trackio", "tracking", "--report-to trackio")
        self._run = self._trackio.init(project=project, name=name, config=config, embed=False,
                                       auto_log_cpu=False, auto_log_gpu=False)

    def log(self, metrics: dict[str, float], step: int | None = None) -> None:
        self._trackio.log(metrics, step=step)

    def finish(self) -> None:
        self._trackio.finish()


class _Wandb:
    def __init__(self, project: str, name: str, config: dict):
        import wandb

        self._wandb = wandb
        self._run = self._wandb.init(project=project, name=name, config=config, reinit=True)

    def log(self, metrics: dict[str, float], step: int | None = None) -> None:
        self._run.log(metrics, step=step)

    def finish(self) -> None:
        self._run.finish()


def check(report_to: str | None) -> str:
    """The tracker's name, checked (known, its library installed) before any long work."""
    kind = (report_to or "none").lower()
    if kind not in CHOICES:
        raise ConfigError(f"unknown tracker {report_to!r}", where="--report-to", fix=f"use one of: {', '.join(CHOICES)}")
    if kind != "none":
        import importlib.util

        if importlib.util.find_spec(kind) is None:
            from trajkit.errors import MissingExtraError

            if kind == "trackio":
                raise MissingExtraError(kind, "tracking", f"--report-to {kind}")
            raise ConfigError("--report-to wandb needs the Python package 'wandb', which is not installed",
                              fix="pip install wandb (and wandb login, or WANDB_MODE=offline)")
    return kind


def start(report_to: str | None, *, name: str, config: dict, project: str = PROJECT) -> Tracker | None:
    """A started run, or None when tracking is off."""
    kind = check(report_to)
    if kind == "none":
        return None
    return (_Trackio if kind == "trackio" else _Wandb)(project, name, config)


def numbers(row: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric values of a row (bools and None left out), keys prefixed."""
    return {f"{prefix}{k}": float(v) for k, v in row.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and v is not None}


def dataset_config(dataset, **extra: Any) -> dict:
    """The run config of a dataset: its fingerprint first."""
    manifest = dataset.manifest
    return {
        "dataset": str(dataset.path),
        "dataset_name": dataset.name,
        "dataset_fingerprint": manifest.fingerprint,
        "provenance_fingerprints": sorted(manifest.provenance_fingerprints),
        "rows": len(dataset),
        **extra,
    }


def build_metrics(dataset, run_summary: dict) -> dict[str, float]:
    """What a finished build logs: the dataset's overview, its error rates, the run's rates."""
    from trajkit.stats import dataset_stats

    stats = dataset_stats([dataset])
    metrics = numbers(stats["overview"][0]) if stats["overview"] else {}
    for row in stats["errors"]:
        metrics[f"error_rate/{row['error_type']}"] = float(row["share"])
    for key in ("traj/s", "tokens/s", "wall"):
        value = str(run_summary.get(key, "")).rstrip("s")
        try:
            metrics[f"run/{key.replace('/', '_per_')}"] = float(value)
        except ValueError:
            pass
    for key in ("trajectories", "teacher errors"):
        if isinstance(run_summary.get(key), int):
            metrics[f"run/{key.replace(' ', '_')}"] = float(run_summary[key])
    return metrics


def report_build(report_to: str | None, dataset, run_summary: dict) -> None:
    tracker = start(report_to, name=f"build-{dataset.name}", config=dataset_config(dataset, command="build"))
    if tracker is not None:
        tracker.log(build_metrics(dataset, run_summary))
        tracker.finish()


def report_eval(report_to: str | None, dataset, result: dict) -> None:
    tracker = start(report_to, name=f"eval-{dataset.name}", config=dataset_config(dataset, command="eval"))
    if tracker is None:
        return
    metrics: dict[str, float] = {}
    for row in result.get("overall", []):
        metrics.update(numbers(row))
    for row in result.get("per_benchmark", []):
        bench = row.get("benchmark") or row.get("source") or "benchmark"
        metrics.update(numbers(row, prefix=f"{bench}/"))
    tracker.log(metrics)
    tracker.finish()


def report_train(report_to: str | None, result, recipe_name: str) -> None:
    config = {"command": "train", "recipe": recipe_name, "data_fingerprint": result.data_fingerprint,
              "examples_fingerprint": result.examples_fingerprint, "output_dir": str(result.output_dir)}
    tracker = start(report_to, name=f"train-{result.output_dir.name}", config=config)
    if tracker is None:
        return
    for point in _curve(result.loss_curve):
        tracker.log(numbers(point, prefix="train/"), step=int(point["step"]))
    final = {k: v for k, v in (result.metrics or {}).items() if k != "step_times"}
    tracker.log(numbers(final, prefix="final/"))
    tracker.finish()


def _curve(points: Iterable[dict]) -> Iterable[dict]:
    return (p for p in points or [] if "step" in p)
