"""The experiment's numbers: per-task outcomes of each arm, accuracy per benchmark and task
category, and paired tests.

An arm is a method (a student, the teacher) with one run per seed; every run is a trajkit
dataset (a `trajkit eval` run: each task's `source` is its benchmark's name); a retrieval-augmented
task counts as the plain task it was made from (`trajkit.tasks.rag`). A column is a
benchmark (`synthetic-test`) or a benchmark and one task category (`synthetic-test/multi_hop`,
from the task metadata's `category`, which `trajkit tasks synth` writes).

- `Cell`: accuracy of the first seed's run with its 95% Wilson interval and n, and the mean and
  standard deviation of the seeds' accuracies when there are several;
- `Comparison`: two arms on the tasks both ran, first seed: the discordant counts and the exact
  McNemar p-value (`trajkit.stats.mcnemar_exact`), and the same test's result on each later seed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

from trajkit.errors import InputError
from trajkit.stats import mcnemar_exact, wilson_interval

OUTCOMES_SQL = """
SELECT source AS benchmark,
       coalesce(json_extract_string(task.metadata, '$.rag.task_id'), task_id) AS task_id,
       coalesce(json_extract_string(task.metadata, '$.category'), '') AS category,
       bool_or(coalesce(correct, false)) AS correct
FROM trajectories GROUP BY ALL
"""

Outcomes = dict[tuple[str, str], tuple[str, bool]]  # (benchmark, task_id) -> (category, correct)


@dataclass(frozen=True)
class Arm:
    label: str
    runs: list[Path]  # one per seed, the first is seed 0


@dataclass(frozen=True)
class Cell:
    n: int
    correct: int
    seed_accuracies: list[float] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.n) or (0.0, 1.0)

    def seeds_mean_sd(self) -> tuple[float, float] | None:
        if len(self.seed_accuracies) < 2:
            return None
        return statistics.mean(self.seed_accuracies), statistics.stdev(self.seed_accuracies)

    def text(self) -> str:
        if not self.n:
            return "—"
        low, high = self.interval()
        text = f"{100 * self.accuracy:.1f} [{100 * low:.0f}, {100 * high:.0f}] n={self.n}"
        spread = self.seeds_mean_sd()
        if spread:
            text += f"; {100 * spread[0]:.1f} ± {100 * spread[1]:.1f} ({len(self.seed_accuracies)} seeds)"
        return text


@dataclass(frozen=True)
class Comparison:
    first: str
    second: str
    column: str
    n: int
    first_correct: int
    second_correct: int
    only_first: int
    only_second: int
    # the same test on each later seed's runs: (difference in points, p-value)
    later_seeds: tuple[tuple[float, float], ...] = ()

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.only_first, self.only_second)

    @property
    def difference_points(self) -> float:
        return 100 * (self.first_correct - self.second_correct) / self.n if self.n else 0.0

    def text(self) -> str:
        if not self.n:
            return "—"
        text = f"{self.difference_points:+.1f} ({self.only_first}/{self.only_second}) p={self.p_value:.3g}"
        if self.later_seeds:
            text += "; later seeds: " + ", ".join(f"{d:+.1f} p={p:.2g}" for d, p in self.later_seeds)
        return text


def parse_arm(spec: str) -> Arm:
    """'LABEL=RUN[,RUN...]' (one run per seed) -> Arm, each run checked to be a dataset."""
    label, sep, paths = spec.partition("=")
    if not sep or not label or not paths:
        raise InputError(f"bad arm {spec!r}", fix="write LABEL=RUN_DIR[,RUN_DIR...], one run per seed")
    runs = [Path(path) for path in paths.split(",") if path]
    for run in runs:
        if not (run / "trajkit.json").is_file():
            raise InputError("not a trajkit dataset (no trajkit.json)", where=str(run),
                             fix="run the experiment step that writes it first")
    return Arm(label, runs)


def outcomes(run: Path) -> Outcomes:
    from trajkit.query import connect
    from trajkit.query import run as query

    con = connect([run])
    try:
        rows = query(con, OUTCOMES_SQL).to_pylist()
    finally:
        con.close()
    return {(row["benchmark"], row["task_id"]): (row["category"], bool(row["correct"])) for row in rows}


def column_keys(key: tuple[str, str], category: str) -> list[str]:
    benchmark = key[0]
    return [benchmark] + ([f"{benchmark}/{category}"] if category else [])


def tally(found: Outcomes) -> dict[str, tuple[int, int]]:
    """column -> (n, correct)."""
    counts: dict[str, list[int]] = {}
    for key, (category, correct) in found.items():
        for column in column_keys(key, category):
            n, right = counts.setdefault(column, [0, 0])
            counts[column] = [n + 1, right + int(correct)]
    return {column: (n, right) for column, (n, right) in counts.items()}


def cells(arm_outcomes: list[Outcomes]) -> dict[str, Cell]:
    """column -> Cell of one arm: the first seed's counts, every seed's accuracy."""
    per_seed = [tally(found) for found in arm_outcomes]
    table = {}
    for column, (n, right) in per_seed[0].items():
        accuracies = [seed[column][1] / seed[column][0] for seed in per_seed if seed.get(column, (0, 0))[0]]
        table[column] = Cell(n, right, accuracies)
    return table


def compare(first: str, second: str, a: Outcomes, b: Outcomes) -> list[Comparison]:
    """`first` vs `second` on every column, over the tasks both ran."""
    counts: dict[str, list[int]] = {}
    for key in a.keys() & b.keys():
        category, right_a = a[key]
        right_b = b[key][1]
        for column in column_keys(key, category):
            row = counts.setdefault(column, [0, 0, 0, 0, 0])
            row[0] += 1
            row[1] += right_a
            row[2] += right_b
            row[3] += right_a and not right_b
            row[4] += right_b and not right_a
    return [Comparison(first, second, column, *row) for column, row in sorted(counts.items())]


def compare_seeds(first: str, second: str, a: list[Outcomes], b: list[Outcomes]) -> list[Comparison]:
    """`compare` on the first seed's runs, each comparison carrying the same test on every later
    seed (seed i against seed i; an arm with one run, such as the teacher, against each)."""
    per_seed = [compare(first, second, a[min(i, len(a) - 1)], b[min(i, len(b) - 1)])
                for i in range(max(len(a), len(b)))]
    later = [{c.column: c for c in seed} for seed in per_seed[1:]]
    return [replace(c, later_seeds=tuple((seed[c.column].difference_points, seed[c.column].p_value)
                                         for seed in later if c.column in seed))
            for c in per_seed[0]]


def ordered_columns(tables: list[dict[str, Cell]], benchmarks: list[str] | None = None) -> list[str]:
    """Benchmarks (in the given order, else sorted), each followed by its categories."""
    keys = {key for table in tables for key in table}
    found = sorted({key.split("/")[0] for key in keys})
    order = [b for b in (benchmarks or []) if b in found] + [b for b in found if b not in (benchmarks or [])]
    from trajkit.tasks.synth_shapes import CATEGORIES

    rank = {name: i for i, name in enumerate(CATEGORIES)}
    columns = []
    for benchmark in order:
        found_categories = [key for key in keys if key.startswith(benchmark + "/")]
        columns += [benchmark] + sorted(found_categories, key=lambda key: (rank.get(key.split("/", 1)[1], 99), key))
    return columns
