"""`trajkit decontaminate`: remove training trajectories whose question overlaps an evaluation set.

A training question is contaminated when, against any evaluation question,
- its normalised text is identical (`exact`), or
- at least `ngram_threshold` of its word n-grams occur in one evaluation question (`ngram`;
  n = `ngram_n` words; a question shorter than n words counts as one n-gram), or
- the cosine similarity of the question embeddings is >= `embedding_threshold` (`embedding`;
  paraphrases that share few words).
Every trajectory of a contaminated question is removed; the report names, for each, the
evaluation question and source it matched, the method and both scores.

Evaluation sets are trajkit datasets (the questions of their trajectories) or task sources
(`seed:qa/test/*`, a JSON/JSONL/Parquet file, `hf:...`; see `trajkit.tasks`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trajkit.curate.textnorm import ngrams, normalise
from trajkit.errors import ConfigError, InputError

DEFAULT_NGRAM_N = 8
DEFAULT_NGRAM_THRESHOLD = 0.5
DEFAULT_EMBEDDING_THRESHOLD = 0.9


@dataclass
class EvalQuestion:
    source: str
    question: str


@dataclass
class Match:
    trajectory_id: str
    question: str
    method: str  # exact / ngram / embedding
    eval_source: str
    eval_question: str
    ngram_overlap: float
    similarity: float | None


@dataclass
class DecontaminationReport:
    total: int
    kept: int
    removed: int
    eval_questions: int
    eval_sources: dict[str, int]
    ngram_n: int
    ngram_threshold: float
    embedding_threshold: float | None
    by_method: dict[str, int] = field(default_factory=dict)
    by_eval_source: dict[str, int] = field(default_factory=dict)
    matches: list[Match] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------ evaluation sets


def load_eval_questions(specs: list[str]) -> list[EvalQuestion]:
    """Questions of every evaluation set: trajkit datasets or task sources."""
    if not specs:
        raise InputError("no evaluation set given", fix="pass --against EVAL (a dataset or a task source)")
    questions: list[EvalQuestion] = []
    for spec in specs:
        path = Path(spec)
        if (path / "trajkit.json").is_file():
            from trajkit.query import sql

            table = sql([path], "SELECT DISTINCT source, question FROM trajectories")
            questions += [EvalQuestion(s, q) for s, q in zip(*[table.column(c).to_pylist() for c in ("source", "question")], strict=True)]
            continue
        try:
            from trajkit.tasks.sources import load_tasks
        except ImportError:  # pragma: no cover - the tasks package is part of trajkit
            raise InputError(f"{spec} is not a trajkit dataset", where=spec) from None
        tasks = load_tasks(spec)
        if not len(tasks):
            raise InputError("the evaluation set has no questions", where=spec)
        questions += [EvalQuestion(t.source, t.question) for t in tasks]
    return questions


# ----------------------------------------------------------------------- detection


class NgramIndex:
    def __init__(self, questions: list[str], n: int):
        self.n = n
        self.postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self.exact: dict[str, int] = {}
        for i, question in enumerate(questions):
            self.exact.setdefault(normalise(question), i)
            for gram in ngrams(question, n):
                self.postings[gram].append(i)

    def best(self, question: str) -> tuple[int | None, float]:
        """(eval index, fraction of the question's n-grams found in it), best match."""
        grams = ngrams(question, self.n)
        if not grams:
            return None, 0.0
        hits: Counter[int] = Counter()
        for gram in grams:
            hits.update(set(self.postings.get(gram, ())))
        if not hits:
            return None, 0.0
        index, count = hits.most_common(1)[0]
        return index, count / len(grams)


def find_contamination(
    train_questions: list[str],
    eval_questions: list[EvalQuestion],
    *,
    ngram_n: int = DEFAULT_NGRAM_N,
    ngram_threshold: float = DEFAULT_NGRAM_THRESHOLD,
    embedding_threshold: float | None = DEFAULT_EMBEDDING_THRESHOLD,
    train_vectors=None,
    eval_vectors=None,
) -> dict[int, tuple[str, int, float, float | None]]:
    """train question index -> (method, eval index, ngram overlap, similarity) for contaminated ones."""
    index = NgramIndex([e.question for e in eval_questions], ngram_n)
    ngram_best = [index.best(q) for q in train_questions]
    similar = [(None, None)] * len(train_questions)
    if embedding_threshold is not None and train_questions:
        from trajkit.curate.similarity import nearest

        if train_vectors is None or eval_vectors is None:
            from trajkit.models.sentence_encoder import embed

            many = len(train_questions) + len(eval_questions) > 2000
            train_vectors = embed(train_questions, show_progress=many)
            eval_vectors = embed([e.question for e in eval_questions], show_progress=many)
        sims, ids = nearest(eval_vectors, train_vectors, exact=True)
        similar = [(int(j), float(s)) for s, j in zip(sims.tolist(), ids.tolist(), strict=True)]
    found = {}
    for i, question in enumerate(train_questions):
        (g_index, overlap), (e_index, sim) = ngram_best[i], similar[i]
        exact = index.exact.get(normalise(question))
        if exact is not None:
            found[i] = ("exact", exact, 1.0, sim)
        elif g_index is not None and overlap >= ngram_threshold:
            found[i] = ("ngram", g_index, overlap, sim)
        elif sim is not None and embedding_threshold is not None and sim >= embedding_threshold:
            found[i] = ("embedding", e_index, overlap if g_index == e_index else 0.0, sim)
    return found


# -------------------------------------------------------------------------- command


def decontaminate(
    train_path: str | Path,
    against: list[str],
    out_path: str | Path,
    *,
    ngram_n: int = DEFAULT_NGRAM_N,
    ngram_threshold: float = DEFAULT_NGRAM_THRESHOLD,
    embedding_threshold: float | None = DEFAULT_EMBEDDING_THRESHOLD,
    report_path: str | Path | None = None,
    overwrite: bool = False,
) -> DecontaminationReport:
    import pyarrow as pa
    import pyarrow.compute as pc

    from trajkit.store import Dataset, derive

    if ngram_n < 1:
        raise ConfigError("--ngram must be at least 1")
    if not 0.0 < ngram_threshold <= 1.0:
        raise ConfigError(f"n-gram threshold {ngram_threshold} is not in (0, 1]")
    if embedding_threshold is not None and not 0.0 < embedding_threshold <= 1.0:
        raise ConfigError(f"embedding threshold {embedding_threshold} is not in (0, 1]")
    source = Dataset.open(train_path)
    if Path(out_path).exists() and not overwrite:
        from trajkit.errors import DatasetError

        raise DatasetError("output path already exists", where=str(out_path), fix="choose a new path")
    evals = load_eval_questions(list(against))
    table = source.to_arrow()
    ids = table.column("trajectory_id").to_pylist()
    questions = pc.struct_field(table.column("task"), "question").to_pylist()
    distinct = list(dict.fromkeys(questions))
    found = find_contamination(
        distinct,
        evals,
        ngram_n=ngram_n,
        ngram_threshold=ngram_threshold,
        embedding_threshold=embedding_threshold,
    )
    position = {q: i for i, q in enumerate(distinct)}
    matches = []
    for trajectory_id, question in zip(ids, questions, strict=True):
        hit = found.get(position[question])
        if hit is None:
            continue
        method, eval_index, overlap, sim = hit
        matches.append(
            Match(
                trajectory_id=trajectory_id,
                question=question,
                method=method,
                eval_source=evals[eval_index].source,
                eval_question=evals[eval_index].question,
                ngram_overlap=round(overlap, 4),
                similarity=None if sim is None else round(sim, 4),
            )
        )
    removed = {m.trajectory_id for m in matches}
    report = DecontaminationReport(
        total=len(ids),
        kept=len(ids) - len(removed),
        removed=len(removed),
        eval_questions=len(evals),
        eval_sources=dict(Counter(e.source for e in evals)),
        ngram_n=ngram_n,
        ngram_threshold=ngram_threshold,
        embedding_threshold=embedding_threshold,
        by_method=dict(Counter(m.method for m in matches)),
        by_eval_source=dict(Counter(m.eval_source for m in matches)),
        matches=matches,
    )
    mask = pa.array([tid not in removed for tid in ids], type=pa.bool_())
    derive(
        [source],
        out_path,
        table.filter(mask),
        operation="decontaminate",
        params={
            "against": [str(a) for a in against],
            "ngram_n": ngram_n,
            "ngram_threshold": ngram_threshold,
            "embedding_threshold": embedding_threshold,
            "removed": report.removed,
            "by_method": report.by_method,
            "by_eval_source": report.by_eval_source,
        },
        overwrite=overwrite,
    )
    if report_path:
        report.write(report_path)
    return report
