"""The experiment's report: RESULTS.md, results.json and accuracy.png.

Tables: accuracy of every arm per benchmark and task category (95% Wilson interval, n, and the
seeds' mean ± sd); paired exact McNemar tests; the teacher data each student learned from
(attempts, kept by the paper's rule, trained on); the issue's goals, each met or not; the wall
time of every stage.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from trajkit.experiment.results import (
    Arm,
    Cell,
    Comparison,
    cells,
    compare_seeds,
    ordered_columns,
    outcomes,
    parse_arm,
)

BENCHMARK_ORDER = ["synthetic-test", "synthetic-unseen", "gsm-hard-clean", "math-500"]
ROLES = ("teacher", "agent", "agent_sag", "cot", "cot_rag")


@dataclass(frozen=True)
class Goal:
    name: str
    value: str
    target: str
    met: bool | None


@dataclass
class Inputs:
    arms: list[Arm]
    roles: dict[str, str]  # role -> arm label
    comparisons: list[tuple[str, str]]  # (role or label, role or label)
    teacher_data: list[tuple[str, Path]]  # label -> build dataset
    students: list[tuple[str, Path]]  # label -> training output dir (first seed)
    timings: Path | None = None
    wall_s: float | None = None
    wall_note: str = ""  # what the wall time covers, e.g. where the teacher stages came from
    notes: str = ""


def accuracy_table(columns: list[str], tables: dict[str, dict[str, Cell]]) -> str:
    labels = list(tables)
    head = "| split / category | " + " | ".join(labels) + " |"
    rule = "|---|" + "|".join("---" for _ in labels) + "|"
    body = []
    for column in columns:
        name = column if "/" not in column else "&nbsp;&nbsp;" + column.split("/", 1)[1]
        cells_text = [tables[label].get(column, Cell(0, 0)).text() for label in labels]
        body.append(f"| {'**' + name + '**' if '/' not in column else name} | " + " | ".join(cells_text) + " |")
    return "\n".join([head, rule, *body])


def comparison_table(columns: list[str], found: dict[tuple[str, str], list[Comparison]]) -> str:
    pairs = list(found)
    head = "| split / category | " + " | ".join(f"{a} vs {b}" for a, b in pairs) + " |"
    rule = "|---|" + "|".join("---" for _ in pairs) + "|"
    body = []
    for column in columns:
        by_pair = [{c.column: c for c in found[pair]}.get(column) for pair in pairs]
        body.append(f"| {column} | " + " | ".join(c.text() if c else "—" for c in by_pair) + " |")
    return "\n".join([head, rule, *body])


def teacher_data_rows(teacher_data: list[tuple[str, Path]]) -> list[dict]:
    """Per teacher dataset and category: attempts (trajectories), tasks, kept by the paper's rule."""
    from trajkit.curate.presets import PRESETS
    from trajkit.query import connect, run

    rows = []
    for label, path in teacher_data:
        con = connect([path])
        try:
            found = run(con, f"""
                SELECT coalesce(json_extract_string(task.metadata, '$.category'), '') AS category,
                       count(*) AS attempts, count(DISTINCT task_id) AS tasks,
                       count(*) FILTER (WHERE {PRESETS['paper'].where}) AS kept
                FROM trajectories GROUP BY ALL ORDER BY ALL""").to_pylist()
        finally:
            con.close()
        rows += [{"data": label, **row} for row in found]
    return rows


def student_rows(students: list[tuple[str, Path]]) -> list[dict]:
    rows = []
    for label, path in students:
        record_path = path / "training.json"
        if not record_path.is_file():
            continue
        record = json.loads(record_path.read_text(encoding="utf-8"))
        conversion = record["data"]["conversion"]
        max_steps = record.get("recipe", {}).get("training", {}).get("max_steps", -1)
        steps = max_steps if max_steps and max_steps > 0 else record["results"]["steps"]  # max_steps: exactly that many
        rows.append({"student": label, "kept": record["data"].get("available"),
                     "examples": conversion["examples"], "steps": steps,
                     "tokens_with_loss": conversion["loss_tokens"]})
    return rows


def _comparison(found, a: str, b: str, column: str) -> Comparison | None:
    return next((c for c in found.get((a, b), []) if c.column == column), None)


def goals(inputs: Inputs, found: dict, students: list[dict]) -> list[Goal]:
    roles = inputs.roles
    checked = []
    if students:
        fewest = min(row["examples"] for row in students)
        checked.append(Goal("every student has >= 100 correct training examples of its own kind",
                            ", ".join(f"{row['student']} {row['examples']}" for row in students),
                            ">= 100 each", fewest >= 100))
    agent, cot_rag = roles.get("agent"), roles.get("cot_rag")
    if agent and cot_rag:
        for benchmark in ("synthetic-test", "synthetic-unseen"):
            for category in ("multi_hop", "exact_computation"):
                c = _comparison(found, agent, cot_rag, f"{benchmark}/{category}")
                if c:
                    checked.append(Goal(f"agent-distilled beats CoT + RAG on {benchmark}/{category} with p < 0.05",
                                        c.text(), "difference > 0, p < 0.05",
                                        c.difference_points > 0 and c.p_value < 0.05))
    teacher = roles.get("teacher")
    if agent and teacher:
        c = _comparison(found, agent, teacher, "synthetic-unseen")
        if c and c.n:
            student_acc, teacher_acc = c.first_correct / c.n, c.second_correct / c.n
            checked.append(Goal("agent-distilled 135M on unseen question shapes", f"{100 * student_acc:.1f}% (n={c.n})",
                                ">= 50%", student_acc >= 0.5))
            ratio = student_acc / teacher_acc if teacher_acc else math.nan
            checked.append(Goal("... as a share of the teacher's accuracy on the same tasks",
                                f"{ratio:.2f} ({100 * student_acc:.1f}% / {100 * teacher_acc:.1f}%)", ">= 0.70",
                                ratio >= 0.7))
    if inputs.wall_s is not None:
        what = f"one seed, every arm; {inputs.wall_note}" if inputs.wall_note else "one seed, every arm"
        checked.append(Goal(f"make experiment ({what}) wall time", f"{inputs.wall_s / 60:.1f} min",
                            "<= 90 min", inputs.wall_s <= 90 * 60))
    return checked


def markdown_rows(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    keys = list(rows[0])
    return "\n".join(["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
                      *("| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows)])


def timings_table(path: Path) -> str:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]
    return markdown_rows([{"stage": name, "wall": f"{int(seconds) / 60:.1f} min"} for name, seconds in rows])


def resolve(name: str, roles: dict[str, str]) -> str:
    return roles.get(name, name)


def build(inputs: Inputs) -> tuple[str, dict]:
    runs = {arm.label: [outcomes(run) for run in arm.runs] for arm in inputs.arms}
    tables = {label: cells(found) for label, found in runs.items()}
    columns = ordered_columns(list(tables.values()), BENCHMARK_ORDER)
    found = {}
    for a, b in inputs.comparisons:
        first, second = resolve(a, inputs.roles), resolve(b, inputs.roles)
        if first in runs and second in runs:
            found[(first, second)] = compare_seeds(first, second, runs[first], runs[second])
    data_rows = teacher_data_rows(inputs.teacher_data)
    students = student_rows(inputs.students)
    checked = goals(inputs, found, students)
    lines = [
        "# Distillation experiment", "",
        "Accuracy in % with its 95% Wilson interval and n (first seed); with several seeds, the seeds'"
        " mean ± sd after it. Categories are the synthetic tasks' kinds (single lookup, multi-hop,"
        " small arithmetic, exact computation).", "",
        accuracy_table(columns, tables), "",
        "## Paired tests", "",
        "Difference in points (first minus second) on the tasks both ran (first seed), the discordant"
        " tasks (solved by the first only / by the second only) and the exact McNemar p-value; with"
        " several seeds, the difference and p-value of each later seed after it.", "",
        comparison_table(columns, found), "",
        "## Teacher data and rejection sampling", "",
        "Attempts (trajectories), tasks, and those the paper's rule keeps (correct, answered, no parse error):", "",
        markdown_rows(data_rows), "",
        "Students (first seed): trajectories kept, examples trained on (the same for every student: the"
        " smallest kept set), optimizer steps:", "",
        markdown_rows(students), "",
        "## Goals", "",
    ]
    for goal in checked:
        state = "—" if goal.met is None else ("met" if goal.met else "NOT met")
        lines.append(f"- {goal.name}: {goal.value} (goal {goal.target}): **{state}**")
    if inputs.wall_s is not None:
        lines += ["", f"Wall time of the stages: {inputs.wall_s / 60:.1f} min ({inputs.wall_s:.0f} s)."]
    if inputs.timings is not None and inputs.timings.is_file():
        lines += ["", timings_table(inputs.timings)]
    if inputs.notes:
        lines += ["", inputs.notes]
    results = {
        "arms": {arm.label: [str(run) for run in arm.runs] for arm in inputs.arms},
        "roles": inputs.roles,
        "table": {label: {column: {**asdict(cell), "accuracy": cell.accuracy, "ci95": cell.interval()}
                          for column, cell in table.items()} for label, table in tables.items()},
        "comparisons": [{**asdict(c), "p_value": c.p_value} for pairs in found.values() for c in pairs],
        "teacher_data": data_rows,
        "students": students,
        "goals": [asdict(goal) for goal in checked],
        "wall_s": inputs.wall_s,
    }
    return "\n".join(lines) + "\n", results


def write(out: str | Path, inputs: Inputs) -> dict[str, Path]:
    text, results = build(inputs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "RESULTS.md", "json": out / "results.json", "chart": out / "accuracy.png"}
    paths["markdown"].write_text(text, encoding="utf-8")
    paths["json"].write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    chart(results["table"], paths["chart"])
    return paths


def chart(table: dict[str, dict[str, dict]], path: Path) -> None:
    """Accuracy per arm on each synthetic split's categories, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(table)
    columns = [c for c in ordered_columns([{k: None for k in t} for t in table.values()], BENCHMARK_ORDER)]
    fig, axis = plt.subplots(figsize=(min(14, max(8, 0.9 * len(columns))), 6))
    width = 0.8 / max(len(labels), 1)
    for i, label in enumerate(labels):
        heights, below, above = [], [], []
        for column in columns:
            cell = table[label].get(column)
            if not cell or not cell["n"]:
                heights.append(math.nan), below.append(math.nan), above.append(math.nan)
                continue
            low, high = cell["ci95"]
            heights.append(100 * cell["accuracy"])
            below.append(max(0.0, 100 * (cell["accuracy"] - low)))
            above.append(max(0.0, 100 * (high - cell["accuracy"])))
        axis.bar([x + i * width for x in range(len(columns))], heights, width, yerr=[below, above],
                 capsize=2, label=label)
    axis.set_xticks([x + width * (len(labels) - 1) / 2 for x in range(len(columns))], columns,
                    rotation=35, ha="right", fontsize=7)
    axis.set_ylabel("accuracy, % (95% CI)")
    axis.set_ylim(0, 100)
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.55), ncol=min(4, max(len(labels), 1)))
    axis.set_title("agent distillation vs CoT and CoT + RAG distillation (SmolLM2-135M students)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_inputs(arm_specs: list[str], roles: list[str], compare_specs: list[str], train_specs: list[str],
                 student_specs: list[str], **rest) -> Inputs:
    from trajkit.errors import InputError

    def pair(spec: str, sep: str, what: str) -> tuple[str, str]:
        left, found, right = spec.partition(sep)
        if not found or not left or not right:
            raise InputError(f"bad {what} {spec!r}", fix=f"write A{sep}B")
        return left, right

    role_map = dict(pair(spec, "=", "--role") for spec in roles)
    unknown = [role for role in role_map if role not in ROLES]
    if unknown:
        raise InputError(f"unknown role {unknown[0]!r}", where="--role", fix=f"roles: {', '.join(ROLES)}")
    return Inputs(
        arms=[parse_arm(spec) for spec in arm_specs],
        roles=role_map,
        comparisons=[pair(spec, "|", "--compare") for spec in compare_specs],
        teacher_data=[(label, Path(path)) for label, path in (pair(s, "=", "--train") for s in train_specs)],
        students=[(label, Path(path)) for label, path in (pair(s, "=", "--student") for s in student_specs)],
        **rest,
    )
