"""The distillation experiment's report: the paper's table in miniature, from finished runs.

    python -m trajkit.experiment report OUT_DIR LABEL=RUN_DIR [LABEL=RUN_DIR ...]
        [--role ROLE=LABEL] [--rename SOURCE=BENCHMARK] [--train LABEL=RUN_DIR]
        [--timings TSV] [--wall-s S] [--notes-file FILE]

`make experiment` (`scripts/experiment.sh`) runs it at the end of the experiment.

Each run is a trajkit dataset (a teacher build or a `trajkit eval` run). The report gives, per
method, accuracy on each benchmark (split by domain where a benchmark mixes domains) with a 95%
Wilson confidence interval and n; the goals of the experiment, checked on the same tasks; and a
chart. It writes `RESULTS.md`, `results.json` and `accuracy.png` into OUT_DIR.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from trajkit.errors import InputError
from trajkit.stats import wilson_interval

CELLS_SQL = """
SELECT dataset, source AS benchmark, domain, count(*) AS n,
       sum(CASE WHEN correct THEN 1 ELSE 0 END) AS correct
FROM trajectories GROUP BY ALL ORDER BY ALL
"""


@dataclass(frozen=True)
class Cell:
    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.n) or (0.0, 1.0)

    def text(self) -> str:
        if not self.n:
            return "—"
        low, high = self.interval()
        return f"{100 * self.accuracy:.1f} [{100 * low:.0f}, {100 * high:.0f}] n={self.n}"


def parse_runs(specs: list[str]) -> list[tuple[str, Path]]:
    runs = []
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise InputError(f"bad run {spec!r}", fix="write LABEL=RUN_DIR, e.g. 'agent student=experiment-out/eval-agent'")
        if not (Path(path) / "trajkit.json").is_file():
            raise InputError("not a trajkit dataset (no trajkit.json)", where=path,
                             fix="run the experiment step that writes it first")
        runs.append((label, Path(path)))
    return runs


def collect(runs: list[tuple[str, Path]], rename: dict[str, str] | None = None) -> dict[str, dict[str, Cell]]:
    """label -> column -> Cell, columns being 'benchmark' and 'benchmark/domain'. `rename` maps a
    task source to a benchmark name (a teacher build's 'synthetic' is eval's 'synthetic-test')."""
    rename = rename or {}
    from trajkit.query import connect, run

    table: dict[str, dict[str, Cell]] = {}
    for label, path in runs:
        con = connect([path])
        try:
            rows = run(con, CELLS_SQL).to_pylist()
        finally:
            con.close()
        columns: dict[str, list[int]] = {}
        for row in rows:
            benchmark = rename.get(row["benchmark"], row["benchmark"])
            for key in (benchmark, f"{benchmark}/{row['domain']}"):
                n, correct = columns.get(key, [0, 0])
                columns[key] = [n + row["n"], correct + row["correct"]]
        table[label] = {key: Cell(int(n), int(correct)) for key, (n, correct) in columns.items()}
    return table


def columns_of(table: dict[str, dict[str, Cell]]) -> list[str]:
    """Benchmarks, each followed by its domains when it has more than one."""
    keys = {key for cells in table.values() for key in cells}
    benchmarks = sorted({key.split("/")[0] for key in keys})
    ordered = []
    for benchmark in benchmarks:
        domains = sorted(key for key in keys if key.startswith(benchmark + "/"))
        ordered += [benchmark] + (domains if len(domains) > 1 else [])
    return ordered


def markdown(table: dict[str, dict[str, Cell]], columns: list[str]) -> str:
    head = "| method | " + " | ".join(columns) + " |"
    rule = "|---|" + "|".join("---" for _ in columns) + "|"
    body = [
        f"| {label} | " + " | ".join(cells.get(c, Cell(0, 0)).text() for c in columns) + " |"
        for label, cells in table.items()
    ]
    return "\n".join([head, rule, *body])


@dataclass(frozen=True)
class Goal:
    name: str
    value: float | None
    target: str
    met: bool | None


def same_tasks_accuracy(student: Path, teacher: Path, sources: list[str]) -> tuple[float, float, int] | None:
    """Student and teacher accuracy on the tasks both ran (matched by task id); the student's
    tasks are those of the given sources."""
    from trajkit.query import connect, run

    listed = ", ".join("'" + source.replace("'", "''") + "'" for source in sources)
    con = connect([student, teacher])
    try:
        rows = run(con, f"""
            WITH s AS (SELECT task_id, any_value(correct) AS c FROM trajectories
                       WHERE dataset = '{student.name}' AND source IN ({listed}) GROUP BY task_id),
                 t AS (SELECT task_id, any_value(correct) AS c FROM trajectories
                       WHERE dataset = '{teacher.name}' GROUP BY task_id)
            SELECT avg(s.c::int) AS student, avg(t.c::int) AS teacher, count(*) AS n
            FROM s JOIN t USING (task_id)""").to_pylist()
    finally:
        con.close()
    row = rows[0] if rows else None
    if not row or not row["n"]:
        return None
    return float(row["student"]), float(row["teacher"]), int(row["n"])


def goals(table, runs: dict[str, Path], roles: dict[str, str], rename: dict[str, str] | None = None,
          benchmark: str = "synthetic-test") -> list[Goal]:
    """The issue's goals, from the runs named by role: agent, agent_sag, cot, teacher_test."""
    def acc(role: str) -> float | None:
        label = roles.get(role)
        cell = table.get(label, {}).get(benchmark) if label else None
        return cell.accuracy if cell and cell.n else None

    found = []
    agent, sag, cot = acc("agent"), acc("agent_sag"), acc("cot")
    found.append(Goal("agent-distilled student, greedy, synthetic test", agent, ">= 0.65",
                      None if agent is None else agent >= 0.65))
    if "agent" in roles and "teacher_test" in roles:
        sources = [benchmark] + [s for s, b in (rename or {}).items() if b == benchmark]
        matched = same_tasks_accuracy(runs[roles["agent"]], runs[roles["teacher_test"]], sources)
        if matched:
            student, teacher, n = matched
            ratio = student / teacher if teacher else None
            found.append(Goal(f"student / teacher accuracy on the same {n} test tasks "
                              f"({student:.3f} / {teacher:.3f})", ratio, ">= 0.80",
                              None if ratio is None else ratio >= 0.8))
    if agent is not None and cot is not None:
        found.append(Goal("agent-distilled minus CoT-distilled, points", 100 * (agent - cot), ">= 35",
                          100 * (agent - cot) >= 35))
    if agent is not None and sag is not None:
        found.append(Goal("SAG minus greedy (agent-distilled), points", 100 * (sag - agent), ">= 3",
                          100 * (sag - agent) >= 3))
    return found


def bar_values(cells: list[Cell]) -> tuple[list[float], list[list[float]]]:
    """Bar heights in % and their (below, above) error bars; a method not run on a benchmark
    (n = 0) gets no bar and no error bar (NaN), not an interval of [0, 100]."""
    nan = float("nan")
    heights = [100 * c.accuracy if c.n else nan for c in cells]
    below = [max(0.0, 100 * (c.accuracy - c.interval()[0])) if c.n else nan for c in cells]
    above = [max(0.0, 100 * (c.interval()[1] - c.accuracy)) if c.n else nan for c in cells]
    return heights, [below, above]


def chart(table: dict[str, dict[str, Cell]], columns: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benchmarks = [c for c in columns if "/" not in c]
    labels = list(table)
    fig, axis = plt.subplots(figsize=(max(7, 1.6 * len(labels)), 4.2))
    width = 0.8 / max(len(benchmarks), 1)
    for i, benchmark in enumerate(benchmarks):
        heights, errors = bar_values([table[label].get(benchmark, Cell(0, 0)) for label in labels])
        xs = [x + i * width for x in range(len(labels))]
        axis.bar(xs, heights, width, yerr=errors, capsize=3, label=benchmark)
    axis.set_xticks([x + width * (len(benchmarks) - 1) / 2 for x in range(len(labels))], labels,
                    rotation=20, ha="right", fontsize=8)
    axis.set_ylabel("accuracy, % (95% CI)")
    axis.set_ylim(0, 100)
    axis.legend(fontsize=8)
    axis.set_title("agent distillation vs CoT distillation (SmolLM2-135M students)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def kept_counts(runs: list[tuple[str, Path]]) -> dict[str, int]:
    """How many trajectories of each run the paper's rejection-sampling rule keeps."""
    from trajkit.curate.presets import PRESETS
    from trajkit.query import connect, run

    kept = {}
    for label, path in runs:
        con = connect([path])
        try:
            rows = run(con, f"SELECT count(*) AS n FROM trajectories WHERE {PRESETS['paper'].where}").to_pylist()
        finally:
            con.close()
        kept[label] = int(rows[0]["n"])
    return kept


def timings_table(path: Path) -> str:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]
    body = [f"| {name} | {int(seconds) / 60:.1f} min |" for name, seconds in rows]
    return "\n".join(["| stage | wall |", "|---|---|", *body])


def report(out: str | Path, specs: list[str], *, train_specs: list[str] = (),
           roles: dict[str, str] | None = None, rename: dict[str, str] | None = None,
           wall_s: float | None = None, timings: Path | None = None, notes: str = "") -> dict[str, Path]:
    runs = parse_runs(specs)
    train_runs = parse_runs(list(train_specs))
    table = collect(runs, rename)
    columns = columns_of(table)
    checked = goals(table, {label: path for label, path in runs}, roles or {}, rename)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Distillation experiment", "",
             "Accuracy in % with 95% Wilson confidence interval and n, on held-out tasks.", "",
             markdown(table, columns), ""]
    if train_runs:
        train_table = collect(train_runs)
        kept = kept_counts(train_runs)
        lines += ["## Teacher data (train split) and rejection sampling", "",
                  markdown(train_table, columns_of(train_table)), "",
                  "Kept by the paper's rule (correct, answered, no parse error): "
                  + ", ".join(f"{label} {n}" for label, n in kept.items()) + ".", ""]
    lines += ["## Goals", ""]
    for goal in checked:
        state = "—" if goal.met is None else ("met" if goal.met else "NOT met")
        value = "—" if goal.value is None else f"{goal.value:.3f}"
        lines.append(f"- {goal.name}: {value} (goal {goal.target}): **{state}**")
    if wall_s is not None:
        lines += ["", f"Wall time of the whole experiment: {wall_s / 60:.1f} min ({wall_s:.0f} s)."]
    if timings is not None and Path(timings).is_file():
        lines += ["", timings_table(Path(timings))]
    if notes:
        lines += ["", notes]
    paths = {"markdown": out / "RESULTS.md", "json": out / "results.json", "chart": out / "accuracy.png"}
    paths["markdown"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths["json"].write_text(json.dumps({
        "runs": {label: str(path) for label, path in [*train_runs, *runs]},
        "table": {label: {c: {"n": cell.n, "correct": cell.correct, "accuracy": cell.accuracy,
                              "ci95": cell.interval()} for c, cell in cells.items()}
                  for label, cells in table.items()},
        "goals": [asdict(goal) for goal in checked],
        "wall_s": wall_s,
    }, indent=2), encoding="utf-8")
    chart(table, columns, paths["chart"])
    return paths


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m trajkit.experiment")
    parser.add_argument("command", choices=["report"])
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR")
    parser.add_argument("--role", action="append", default=[],
                        help="ROLE=LABEL, roles: agent, agent_sag, cot, teacher_test")
    parser.add_argument("--rename", action="append", default=[],
                        help="SOURCE=BENCHMARK: count a task source under a benchmark's column")
    parser.add_argument("--train", action="append", default=[], help="LABEL=RUN_DIR of teacher data")
    parser.add_argument("--timings", help="a TSV of stage and seconds")
    parser.add_argument("--wall-s", type=float)
    parser.add_argument("--notes-file")
    args = parser.parse_args(argv)
    roles = dict(role.split("=", 1) for role in args.role)
    notes = Path(args.notes_file).read_text(encoding="utf-8") if args.notes_file else ""
    try:
        rename = dict(item.split("=", 1) for item in args.rename)
        paths = report(args.out, args.runs, train_specs=args.train, roles=roles, rename=rename,
                       wall_s=args.wall_s, timings=args.timings, notes=notes)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(paths["markdown"].read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
