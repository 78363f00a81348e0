"""Retrieval-augmented questions (`trajkit tasks rag`): the agent's search results, in front of the
question, for the CoT + RAG baseline; ids, golds and splits unchanged."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from trajkit.tasks.rag import QUESTION_HEADER, with_passages
from trajkit.tasks.synth import generate, write
from trajkit.tools.registry import SearchTool, open_retriever


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth")
    result = generate(n=60, seed=5, test_fraction=0.3, knowledge_share=1.0, max_hops=1)
    write(result, folder)
    return result, folder


def test_each_question_gets_the_agents_search_result_in_front(world):
    result, folder = world
    tasks = result.split("train")[:12]
    augmented = with_passages(tasks, folder / "corpus.parquet", k=2)
    search = SearchTool(open_retriever(folder / "corpus.parquet", dense=False), name="search", k=2, mode="bm25")
    for plain, rag in zip(tasks, augmented, strict=True):
        assert rag.task_id == plain.task_id + "#rag"
        assert (rag.gold_answer, rag.split, rag.domain) == (plain.gold_answer, plain.split, plain.domain)
        passages, _, question = rag.question.rpartition(f"\n\n{QUESTION_HEADER} ")
        assert question == plain.question
        assert passages == search(plain.question).text  # what the agent's search tool returns
        info = json.loads(rag.metadata)
        assert info["rag"]["question"] == plain.question and info["rag"]["task_id"] == plain.task_id
        assert len(info["rag"]["doc_ids"]) == 2
        assert info["category"] == json.loads(plain.metadata)["category"]
    # a one-hop lookup's own passage is retrieved for most questions (BM25 on a fictional name)
    found = sum(set(json.loads(p.metadata)["support_doc_ids"]) <= set(json.loads(r.metadata)["rag"]["doc_ids"])
                for p, r in zip(tasks, augmented, strict=True))
    assert found >= 9


def test_rag_cli_writes_every_split(world, tmp_path):
    result, folder = world
    out = tmp_path / "rag.parquet"
    done = subprocess.run([sys.executable, "-m", "trajkit", "tasks", "rag", str(folder / "tasks.parquet"), str(out),
                           "--retriever", str(folder / "corpus.parquet"), "--k", "3"],
                          capture_output=True, text=True, check=True)
    assert "tasks: 60" in done.stdout
    rows = pq.read_table(out).to_pylist()
    assert {r["split"] for r in rows} == {"train", "test"}
    assert all(r["question"].startswith("Retrieved documents:") and r["question"].count("===== Document") == 3 for r in rows)
    again = subprocess.run([sys.executable, "-m", "trajkit", "tasks", "rag", str(folder / "tasks.parquet"), str(out)],
                           capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr and "--overwrite" in again.stderr
