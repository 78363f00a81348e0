"""The experiment's benchmark files, written next to the synthetic tasks.

- `gsm-hard-clean.parquet`: GSM-hard (`seed:gsm_hard`, shuffled with seed 0) restricted to items
  whose gold is a non-negative integer. The file's other golds (fractions such as 474031.33 and
  negative counts) come from its generator's noise, not from the problems; a question about a
  number of things has a non-negative whole answer.
- `math-500.parquet`: MATH-500 (`seed:math_500`, shuffled with seed 0), levels 1 and 2 (the
  levels a 135M student can reach at all).
- `rag-*.parquet`: every benchmark with its top-k passages from the synthetic corpus in front of
  the question (`trajkit.tasks.rag`), for the CoT + RAG arm; the same retriever, mode and k as
  the agent's search.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trajkit.schema import Task

GSM_HARD_CLEAN = "gsm-hard-clean.parquet"
MATH_500 = "math-500.parquet"
TASKS = "tasks.parquet"
CORPUS = "corpus.parquet"


@dataclass(frozen=True)
class Prepared:
    gsm_hard_read: int
    gsm_hard_clean: int
    gsm_hard_kept: int
    math_500_kept: int
    written: list[Path]


def nonnegative_integer(text: str | None) -> bool:
    """Whether a gold answer is a whole number >= 0 ('25', '2000', '7.0'; not '-3', '0.5')."""
    try:
        value = float((text or "").replace(",", ""))
    except ValueError:
        return False
    return value >= 0 and value.is_integer()


def clean_gsm_hard(limit: int) -> tuple[list[Task], int, int]:
    """The first `limit` GSM-hard items (shuffle seed 0) with non-negative integer golds; and how
    many items were read and how many of them are clean."""
    from trajkit.tasks.sources import load_tasks

    tasks = load_tasks({"source": "seed:gsm_hard", "shuffle_seed": 0}).tasks
    clean = [task for task in tasks if nonnegative_integer(task.gold_answer)]
    return clean[:limit], len(tasks), len(clean)


def math_500_subset(limit: int) -> list[Task]:
    from trajkit.tasks.sources import load_tasks

    spec = {"source": "seed:math_500", "shuffle_seed": 0, "filters": {"level": [1, 2]}, "limit": limit}
    return load_tasks(spec).tasks


def prepare(folder: str | Path, *, gsm_hard: int = 30, math_500: int = 20, k: int = 2, mode: str = "bm25") -> Prepared:
    """Write the out-of-domain files and the RAG copies of every benchmark into `folder` (the
    output of `trajkit tasks synth`)."""
    from trajkit.tasks.files import load_path, write_tasks
    from trajkit.tasks.rag import with_passages
    from trajkit.tasks.report import LoadReport
    from trajkit.tasks.spec import TaskSpec

    folder = Path(folder)
    # everything is read and retrieved before the first file is written: bad input leaves nothing
    synthetic = load_path(folder / TASKS, TaskSpec.parse(str(folder / TASKS)), LoadReport(source=str(folder / TASKS)))
    gsm, read, clean = clean_gsm_hard(gsm_hard)
    math = math_500_subset(math_500)
    corpus = folder / CORPUS
    files = {GSM_HARD_CLEAN: gsm, MATH_500: math}
    for name, tasks in ((TASKS, synthetic), (GSM_HARD_CLEAN, gsm), (MATH_500, math)):
        files[f"rag-{name}"] = with_passages(tasks, corpus, k=k, mode=mode)
    written = [write_tasks(tasks, folder / name) for name, tasks in files.items()]
    return Prepared(read, clean, len(gsm), len(math), written)
