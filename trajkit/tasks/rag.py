"""Retrieval-augmented questions: the input of the CoT + RAG baseline.

`with_passages` puts each question's top-k passages in front of it, in the very text the
agent's `search` tool returns (`trajkit.tools.registry.format_hits`), from the same retriever,
mode and k. A CoT model then reads them in its prompt instead of searching: the teacher's CoT
generation, the student's training (`trajkit train` trains on the task text it finds in the
trajectories) and its evaluation all see the same augmented question, because they all read it
from the task. Task ids, golds and graders are unchanged, so runs on the plain and the
augmented tasks pair task by task.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from trajkit.schema import Task

QUESTION_HEADER = "Question:"
ID_SUFFIX = "#rag"


def augmented_question(passages: str, question: str) -> str:
    return f"{passages}\n\n{QUESTION_HEADER} {question.strip()}"


def with_passages(tasks: Sequence[Task], retriever: str | Path, *, k: int = 2, mode: str = "bm25") -> list[Task]:
    """The tasks with their top-k passages (from `retriever`: a corpus file, an index folder,
    'builtin' or a URL) in the question; metadata `rag` records k, mode and the passages' ids."""
    from trajkit.tools.registry import format_hits, open_retriever

    index = open_retriever(retriever, dense=mode != "bm25")
    hits = index.search_batch([t.question for t in tasks], k=k, mode=mode)
    augmented = []
    for task, task_hits in zip(tasks, hits, strict=True):
        metadata = json.loads(task.metadata) if task.metadata else {}
        if not isinstance(metadata, dict):
            metadata = {"metadata": metadata}
        metadata["rag"] = {"k": k, "mode": mode, "doc_ids": [h.doc_id for h in task_hits],
                           "question": task.question, "task_id": task.task_id}
        question = augmented_question(format_hits(task_hits), task.question)
        augmented.append(task.model_copy(update={
            "task_id": task.task_id + ID_SUFFIX, "question": question, "metadata": json.dumps(metadata, sort_keys=True)}))
    return augmented
