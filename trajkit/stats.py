"""Summary statistics of datasets, computed in SQL over the trajkit views.

Used by `trajkit stats`, the Hub dataset card (and its charts) and experiment tracking
(`trajkit.tracking`).
"""

from __future__ import annotations

import math
from pathlib import Path

from trajkit.query import connect, run
from trajkit.store import Dataset

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a binomial proportion (good at small n and near 0 or 1);
    None when n is 0."""
    if n <= 0:
        return None
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if correct == 0 else max(0.0, centre - half)  # exact at the ends, not float noise
    high = 1.0 if correct == n else min(1.0, centre + half)
    return low, high


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value of two methods graded on the same tasks: `only_a` tasks
    solved by the first alone, `only_b` by the second alone (the discordant pairs; tasks both or
    neither solved carry no evidence). Under no difference each discordant task goes either way
    with probability 1/2, so this is the exact binomial test on min(only_a, only_b)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)

OVERVIEW_SQL = """
SELECT
    dataset,
    count(*) AS trajectories,
    count(DISTINCT task_id) AS tasks,
    sum(n_steps) AS steps,
    round(avg(n_steps), 2) AS mean_steps,
    round(avg(CASE WHEN status = 'answered' THEN 1 ELSE 0 END), 4) AS answered_rate,
    round(avg(CASE WHEN correct THEN 1.0 WHEN correct IS NULL THEN NULL ELSE 0.0 END), 4) AS accuracy,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    round(avg(total_tokens), 1) AS mean_tokens,
    round(sum(wall_time_s), 1) AS wall_time_s
FROM trajectories GROUP BY dataset ORDER BY dataset
"""

BY_STATUS_SQL = """
SELECT dataset, status, count(*) AS trajectories,
       round(count(*) / sum(count(*)) OVER (PARTITION BY dataset), 4) AS share
FROM trajectories GROUP BY dataset, status ORDER BY dataset, trajectories DESC
"""

BY_DOMAIN_SQL = """
SELECT dataset, domain, source, count(*) AS trajectories,
       round(avg(CASE WHEN correct THEN 1.0 WHEN correct IS NULL THEN NULL ELSE 0.0 END), 4) AS accuracy,
       round(avg(n_steps), 2) AS mean_steps
FROM trajectories GROUP BY dataset, domain, source ORDER BY dataset, domain, source
"""

STEPS_HISTOGRAM_SQL = """
SELECT dataset, n_steps, count(*) AS trajectories
FROM trajectories GROUP BY dataset, n_steps ORDER BY dataset, n_steps
"""

ERRORS_SQL = """
SELECT dataset, coalesce(error_type, 'none') AS error_type, count(*) AS steps,
       round(count(*) / sum(count(*)) OVER (PARTITION BY dataset), 4) AS share
FROM steps GROUP BY dataset, error_type ORDER BY dataset, steps DESC
"""

TOOLS_SQL = """
SELECT dataset, name AS tool, count(*) AS calls,
       count(DISTINCT trajectory_id) AS trajectories,
       round(avg(CASE WHEN error IS NULL THEN 0 ELSE 1 END), 4) AS error_rate,
       round(avg(latency_ms), 2) AS mean_latency_ms
FROM tool_calls GROUP BY dataset, name ORDER BY dataset, calls DESC
"""

SECTIONS = {
    "overview": OVERVIEW_SQL,
    "status": BY_STATUS_SQL,
    "domains": BY_DOMAIN_SQL,
    "steps_histogram": STEPS_HISTOGRAM_SQL,
    "errors": ERRORS_SQL,
    "tools": TOOLS_SQL,
}


def dataset_stats(datasets: list[str | Path | Dataset]) -> dict[str, list[dict]]:
    """Every section of the statistics, as lists of row dicts."""
    con = connect(datasets)
    try:
        return {name: run(con, query).to_pylist() for name, query in SECTIONS.items()}
    finally:
        con.close()


def drift_rows(datasets: list[str | Path | Dataset], tokenizer: str | None = None) -> list[dict]:
    """Token drift (`trajkit.drift`) of each dataset that has captured tokens; [] when none has."""
    from trajkit.drift import dataset_drift

    rows = []
    for item in datasets:
        dataset = item if isinstance(item, Dataset) else Dataset.open(item)
        report = dataset_drift(dataset, tokenizer_name=tokenizer)
        if report is None:
            continue
        row = report.row()
        kinds = [f"{k} {row[k]}" for k in ("rendered_text", "retokenized", "stop_boundary", "unaligned", "unrenderable") if row[k]]
        rows.append({
            "dataset": dataset.name,
            "trajectories drifting": f"{row['trajectories_drifting']}/{row['trajectories_checked']}",
            "steps drifting": f"{row['steps_drifting']}/{row['steps_checked']}",
            "kinds": ", ".join(kinds) or "-",
            "stop string only": row["stop_only"],
            "by step": row["by_step"],
            "first": row["first"],
        })
    return rows
