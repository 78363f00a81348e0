"""The teacher's shipped runs, and the check of a re-run against them.

`make experiment` starts its student stages from the teacher runs of the reported experiment
(`experiment-data/teacher-runs`: the agent, FTP, CoT and CoT + RAG trajectories and the teacher's
evaluation), since the teacher stages take most of its time on 2 cores. `TEACHER=run` re-runs them
instead, and `check` compares each re-run with its shipped run, trajectory by trajectory (same task
and sample): both must hold the same trajectories, and their correctness must not differ
significantly (exact McNemar, paired). Greedy decoding on another CPU, or with other requests
sharing the server's batch, may pick other tokens, so identical text is reported, not required.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trajkit.errors import InputError
from trajkit.stats import mcnemar_exact

SIGNIFICANCE = 0.05

ROWS_SQL = """
SELECT t.source, t.task_id, t.sample_index, coalesce(t.correct, false) AS correct, t.final_answer AS answer,
       list(s.raw_output ORDER BY s.step_index) FILTER (WHERE s.step_index IS NOT NULL) AS outputs
FROM trajectories t LEFT JOIN steps s USING (trajectory_id)
GROUP BY ALL
"""

Key = tuple[str, str, int]  # (task source, task id, sample index)


@dataclass(frozen=True)
class Row:
    correct: bool
    answer: str | None
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class TeacherCheck:
    name: str
    paired: int
    same_text: int
    same_answer: int
    shipped_correct: int
    rerun_correct: int
    only_shipped: int
    only_rerun: int
    missing: int  # shipped trajectories the re-run lacks
    extra: int  # re-run trajectories the shipped run lacks

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.only_shipped, self.only_rerun)

    @property
    def consistent(self) -> bool:
        return not self.missing and not self.extra and self.p_value >= SIGNIFICANCE

    def line(self) -> str:
        if self.missing or self.extra:
            verdict = f"DIFFERENT TRAJECTORIES ({self.missing} missing from the re-run, {self.extra} extra)"
        elif self.p_value < SIGNIFICANCE:
            verdict = "DIFFERS (p < 0.05)"
        else:
            verdict = "consistent"
        return (f"{self.name}: {verdict}; {self.paired} paired trajectories, {self.same_text} with identical text, "
                f"{self.same_answer} with the same answer; correct {self.shipped_correct} shipped vs "
                f"{self.rerun_correct} re-run ({self.only_shipped}/{self.only_rerun} discordant, "
                f"exact McNemar p={self.p_value:.3g})")


def read_rows(dataset: Path) -> dict[Key, Row]:
    from trajkit.query import sql

    if not (dataset / "trajkit.json").is_file():
        raise InputError("not a trajkit dataset (no trajkit.json)", where=str(dataset),
                         fix="run the teacher stage that writes it (TEACHER=run make experiment)")
    rows = sql([dataset], ROWS_SQL).to_pylist()
    return {(r["source"], r["task_id"], int(r["sample_index"])):
            Row(bool(r["correct"]), r["answer"], tuple(r["outputs"] or ())) for r in rows}


def check(shipped: Path, rerun: Path, name: str | None = None) -> TeacherCheck:
    """Pair the re-run's trajectories with the shipped run's by task and sample."""
    before, after = read_rows(Path(shipped)), read_rows(Path(rerun))
    paired = before.keys() & after.keys()
    pairs = [(before[key], after[key]) for key in paired]
    return TeacherCheck(
        name=name or Path(rerun).name,
        paired=len(pairs),
        same_text=sum(a.outputs == b.outputs for a, b in pairs),
        same_answer=sum(a.answer == b.answer for a, b in pairs),
        shipped_correct=sum(a.correct for a, _ in pairs),
        rerun_correct=sum(b.correct for _, b in pairs),
        only_shipped=sum(a.correct and not b.correct for a, b in pairs),
        only_rerun=sum(b.correct and not a.correct for a, b in pairs),
        missing=len(before.keys() - after.keys()),
        extra=len(after.keys() - before.keys()),
    )


def stale_tasks(tasks_dir: Path, datasets: list[Path]) -> list[str]:
    """Where a shipped run's task is not the task `make experiment` generated (same id, same
    question and gold), one line each: shipped runs made on other tasks must not be reused."""
    import pyarrow.parquet as pq

    from trajkit.query import sql

    generated: dict[str, tuple[str, str | None]] = {}
    for path in sorted(Path(tasks_dir).glob("*.parquet")):
        if "task_id" in pq.read_schema(path).names:
            for row in pq.read_table(path, columns=["task_id", "question", "gold_answer"]).to_pylist():
                generated[row["task_id"]] = (row["question"], row["gold_answer"])
    problems = []
    for dataset in datasets:
        for row in sql([dataset], "SELECT DISTINCT task_id, question, gold_answer FROM trajectories ORDER BY 1").to_pylist():
            found = generated.get(row["task_id"])
            if found is None:
                problems.append(f"{dataset}: task {row['task_id']!r} is not among the generated tasks in {tasks_dir}")
            elif found != (row["question"], row["gold_answer"]):
                problems.append(f"{dataset}: task {row['task_id']!r} has another question or gold than in {tasks_dir}")
    return problems
