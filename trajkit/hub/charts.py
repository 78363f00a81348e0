"""Chart images for the dataset card (matplotlib, Agg backend, imported lazily).

Each chart is a PNG written from the statistics sections of `trajkit.stats`. The images carry
no timestamp or version metadata, so the same statistics give the same bytes (re-pushes
upload nothing). Without matplotlib (the `hub` extra) no chart is drawn and the card simply
has none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

WIDTH, HEIGHT, DPI = 6.4, 3.6, 100
STEPS_HISTOGRAM = "steps_histogram.png"
ACCURACY_BY_DOMAIN = "accuracy_by_domain.png"
CHART_FILES = (STEPS_HISTOGRAM, ACCURACY_BY_DOMAIN)  # every chart trajkit may publish
CORRECT, INCORRECT, UNGRADED = "#2a9d8f", "#e76f51", "#9e9e9e"


@dataclass(frozen=True)
class Chart:
    path: str  # repo-relative
    title: str
    alt: str


def matplotlib_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def draw_charts(stats: dict[str, list[dict]], steps_by_outcome: list[dict], root: Path, assets_dir: str) -> list[Chart]:
    """Draw every chart the data supports into `root/assets_dir`; returns what was drawn."""
    if not matplotlib_available():
        log.warning("matplotlib is not installed: the dataset card will have no charts (pip install 'trajkit[hub]')")
        return []
    import matplotlib

    matplotlib.use("Agg", force=True)
    charts = []
    (root / assets_dir).mkdir(parents=True, exist_ok=True)
    if steps_by_outcome:
        chart = Chart(f"{assets_dir}/{STEPS_HISTOGRAM}", "Steps per trajectory", "Histogram of steps per trajectory, by outcome")
        _steps_histogram(steps_by_outcome, root / chart.path)
        charts.append(chart)
    graded = [row for row in stats.get("domains", []) if row.get("accuracy") is not None]
    if graded:
        chart = Chart(f"{assets_dir}/{ACCURACY_BY_DOMAIN}", "Accuracy by source and domain", "Bar chart of the share of correct trajectories per source and domain")
        _accuracy_by_domain(graded, root / chart.path)
        charts.append(chart)
    return charts


def _figure():
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    axes.spines[["top", "right"]].set_visible(False)
    return plt, figure, axes


def _save(plt, figure, path: Path) -> None:
    figure.tight_layout()
    # No "Software"/date metadata: identical inputs must give identical bytes.
    figure.savefig(path, format="png", metadata={"Software": None})
    plt.close(figure)


def _steps_histogram(rows: list[dict], path: Path) -> None:
    """rows: {n_steps, outcome ('correct'|'incorrect'|'ungraded'), trajectories}."""
    plt, figure, axes = _figure()
    present = [row["n_steps"] for row in rows]
    steps = list(range(min(present), max(present) + 1))
    bottom = [0] * len(steps)
    for outcome, color in (("correct", CORRECT), ("incorrect", INCORRECT), ("ungraded", UNGRADED)):
        counts = {row["n_steps"]: row["trajectories"] for row in rows if row["outcome"] == outcome}
        if not counts:
            continue
        heights = [counts.get(s, 0) for s in steps]
        axes.bar(steps, heights, bottom=bottom, color=color, label=outcome)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("steps")
    axes.set_ylabel("trajectories")
    axes.set_title("Steps per trajectory")
    axes.legend(frameon=False)
    _save(plt, figure, path)


def _accuracy_by_domain(rows: list[dict], path: Path) -> None:
    plt, figure, axes = _figure()
    labels = [f"{row['source']}\n{row['domain']}" for row in rows]
    values = [row["accuracy"] for row in rows]
    bars = axes.bar(labels, values, color=CORRECT)
    for bar, row in zip(bars, rows, strict=True):
        axes.annotate(
            f"{row['accuracy']:.0%}\nn={row['trajectories']}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axes.set_ylim(0, 1.15)
    axes.set_ylabel("share correct")
    axes.set_title("Accuracy by source and domain")
    _save(plt, figure, path)
