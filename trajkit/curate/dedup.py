"""`trajkit dedup`: remove exact and near-duplicate trajectories, reporting what was removed.

Two passes:
1. exact: trajectories with the same normalised question *and* the same normalised final
   answer are one cluster; one is kept.
2. near: distinct questions whose embeddings have cosine similarity >= `threshold` are one
   cluster (greedy: questions are visited best-first; each unvisited question becomes a
   cluster's leader and takes its unvisited neighbours, so every removed question is itself
   >= threshold to the kept one, never only through a chain). The trajectories of the leader
   question are kept, those of the other questions removed.

Which one is kept (`keep`):
- `best`: correct before ungraded before incorrect, then higher grader score, then fewer step
  errors, then fewer steps; ties go to the earlier row;
- `first`: the earliest row in the dataset;
- `shortest`: fewest steps, then fewest tokens, then the shortest text.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trajkit.curate.textnorm import normalise
from trajkit.errors import ConfigError

KEEP_POLICIES = ("best", "first", "shortest")
DEFAULT_THRESHOLD = 0.95


@dataclass
class Cluster:
    kind: str  # exact / near
    kept: str  # trajectory id
    kept_question: str
    removed: list[str]
    removed_questions: list[str] = field(default_factory=list)
    similarity: float = 1.0  # lowest similarity of a removed question to the kept one


@dataclass
class DedupReport:
    total: int
    kept: int
    removed_exact: int
    removed_near: int
    threshold: float | None
    keep: str
    clusters: list[Cluster] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Row:
    """What dedup needs to know about one trajectory."""

    position: int
    trajectory_id: str
    question: str
    answer: str | None
    correct: bool | None
    score: float | None
    n_errors: int
    n_steps: int
    tokens: int
    length: int


def rows_of(table) -> list[Row]:
    import pyarrow.compute as pc

    task, outcome, usage = table.column("task"), table.column("outcome"), table.column("usage")
    steps = table.column("steps")
    columns = {
        "id": table.column("trajectory_id").to_pylist(),
        "question": pc.struct_field(task, "question").to_pylist(),
        "answer": pc.struct_field(outcome, "final_answer").to_pylist(),
        "correct": pc.struct_field(outcome, "correct").to_pylist(),
        "score": pc.struct_field(outcome, "score").to_pylist(),
        "n_steps": pc.list_value_length(steps).to_pylist(),
        "tokens": pc.struct_field(usage, "total_tokens").to_pylist(),
    }
    step_errors = _errors_per_row(steps)
    step_text = _text_length_per_row(steps)
    return [
        Row(
            position=i,
            trajectory_id=columns["id"][i],
            question=columns["question"][i],
            answer=columns["answer"][i],
            correct=columns["correct"][i],
            score=columns["score"][i],
            n_errors=step_errors[i],
            n_steps=columns["n_steps"][i] or 0,
            tokens=columns["tokens"][i] or 0,
            length=step_text[i],
        )
        for i in range(table.num_rows)
    ]


def _sum_per_row(steps, per_step) -> list[int]:
    """Sum of an integer value per step, for each row's list of steps."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    steps = steps.combine_chunks() if isinstance(steps, pa.ChunkedArray) else steps
    lengths = pc.list_value_length(steps).fill_null(0).to_numpy(zero_copy_only=False)
    values = per_step(pc.list_flatten(steps)).to_numpy(zero_copy_only=False).astype(np.int64)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    running = np.concatenate([[0], np.cumsum(values)])
    return (running[bounds[1:]] - running[bounds[:-1]]).tolist()


def _errors_per_row(steps) -> list[int]:
    import pyarrow.compute as pc

    return _sum_per_row(steps, lambda flat: pc.is_valid(pc.struct_field(flat, "error")))


def _text_length_per_row(steps) -> list[int]:
    import pyarrow.compute as pc

    return _sum_per_row(steps, lambda flat: pc.utf8_length(pc.struct_field(flat, "raw_output")).fill_null(0))


def priority(keep: str):
    """Sort key: smaller is kept first."""
    if keep == "first":
        return lambda r: (r.position,)
    if keep == "shortest":
        return lambda r: (r.n_steps, r.tokens, r.length, r.position)
    if keep == "best":
        correct_rank = {True: 0, None: 1, False: 2}
        return lambda r: (
            correct_rank[r.correct],
            -(r.score if r.score is not None else float("-inf")),
            r.n_errors,
            r.n_steps,
            r.position,
        )
    raise ConfigError(f"unknown keep policy {keep!r}", fix=f"use one of: {', '.join(KEEP_POLICIES)}")


def exact_clusters(rows: list[Row], keep: str) -> list[Cluster]:
    key = priority(keep)
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(normalise(row.question), normalise(row.answer))].append(row)
    clusters = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members = sorted(members, key=key)
        clusters.append(
            Cluster(
                kind="exact",
                kept=members[0].trajectory_id,
                kept_question=members[0].question,
                removed=[m.trajectory_id for m in members[1:]],
            )
        )
    return clusters


def near_clusters(question_vectors, order: list[int], threshold: float, *, exact: bool | None = None):
    """Greedy leader clustering of distinct questions.

    `order` lists question indices best-first. Returns [(leader, [(member, similarity), ...])]
    for clusters with at least one member.
    """
    from trajkit.curate.similarity import pairs_above

    neighbours = pairs_above(question_vectors, threshold, exact=exact)
    assigned = [False] * len(order)
    clusters = []
    for leader in order:
        if assigned[leader]:
            continue
        assigned[leader] = True
        js, sims = neighbours[leader]
        members = []
        for j, sim in zip(js.tolist(), sims.tolist(), strict=True):
            if not assigned[j]:
                assigned[j] = True
                members.append((j, sim))
        if members:
            clusters.append((leader, members))
    return clusters


def plan(rows: list[Row], *, keep: str = "best", threshold: float | None = DEFAULT_THRESHOLD,
         question_vectors=None, exact_search: bool | None = None) -> DedupReport:
    """Decide what to remove. `question_vectors[i]` embeds the i-th distinct normalised question
    in order of first appearance (see `distinct_questions`); computed when None."""
    key = priority(keep)
    clusters = exact_clusters(rows, keep)
    removed = {tid for c in clusters for tid in c.removed}
    removed_exact = len(removed)
    removed_near = 0
    if threshold is not None:
        remaining = [r for r in rows if r.trajectory_id not in removed]
        questions = distinct_questions(rows)
        index_of = {q: i for i, q in enumerate(questions)}
        if question_vectors is None:
            question_vectors = embed_questions(questions, rows)
        by_question: dict[int, list[Row]] = defaultdict(list)
        for row in remaining:
            by_question[index_of[normalise(row.question)]].append(row)
        present = sorted(by_question, key=lambda q: key(min(by_question[q], key=key)))
        import numpy as np

        vectors = np.asarray(question_vectors, dtype=np.float32)[present] if present else np.zeros((0, 1), np.float32)
        for leader, members in near_clusters(vectors, list(range(len(present))), threshold, exact=exact_search):
            kept_rows = sorted(by_question[present[leader]], key=key)
            gone = [row for m, _ in members for row in sorted(by_question[present[m]], key=key)]
            removed.update(r.trajectory_id for r in gone)
            removed_near += len(gone)
            clusters.append(
                Cluster(
                    kind="near",
                    kept=kept_rows[0].trajectory_id,
                    kept_question=kept_rows[0].question,
                    removed=[r.trajectory_id for r in gone],
                    removed_questions=[by_question[present[m]][0].question for m, _ in members],
                    similarity=round(min(sim for _, sim in members), 4),
                )
            )
    return DedupReport(
        total=len(rows),
        kept=len(rows) - len(removed),
        removed_exact=removed_exact,
        removed_near=removed_near,
        threshold=threshold,
        keep=keep,
        clusters=clusters,
    )


def distinct_questions(rows: list[Row]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(normalise(row.question), None)
    return list(seen)


def embed_questions(normalised: list[str], rows: list[Row]):
    """Embeddings of distinct questions, from their original (unnormalised) text."""
    from trajkit.models.sentence_encoder import embed

    original: dict[str, str] = {}
    for row in rows:
        original.setdefault(normalise(row.question), row.question)
    return embed([original[q] for q in normalised], show_progress=len(normalised) > 2000)


def dedup(
    dataset_path: str | Path,
    out_path: str | Path,
    *,
    keep: str = "best",
    threshold: float | None = DEFAULT_THRESHOLD,
    report_path: str | Path | None = None,
    overwrite: bool = False,
) -> DedupReport:
    """Write `out_path` without the duplicates of `dataset_path`; return (and optionally write) the report."""
    import pyarrow as pa

    from trajkit.store import Dataset, derive

    priority(keep)  # validate before any work
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise ConfigError(f"threshold {threshold} is not in (0, 1]", fix="use e.g. --threshold 0.95")
    source = Dataset.open(dataset_path)
    if Path(out_path).exists() and not overwrite:
        from trajkit.errors import DatasetError

        raise DatasetError("output path already exists", where=str(out_path), fix="choose a new path")
    table = source.to_arrow()
    rows = rows_of(table)
    report = plan(rows, keep=keep, threshold=threshold)
    removed = {tid for c in report.clusters for tid in c.removed}
    mask = pa.array([r.trajectory_id not in removed for r in rows], type=pa.bool_())
    derive(
        [source],
        out_path,
        table.filter(mask),
        operation="dedup",
        params={
            "keep": keep,
            "threshold": threshold,
            "removed_exact": report.removed_exact,
            "removed_near": report.removed_near,
            "clusters": len(report.clusters),
        },
        overwrite=overwrite,
    )
    if report_path:
        report.write(report_path)
    return report
