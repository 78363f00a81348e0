"""Local retrieval: building, caching, the three modes, the search tool, the built-in corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from trajkit.errors import DatasetError, InputError
from trajkit.tools.registry import SearchTool, format_hits, open_retriever, tool_infos
from trajkit.tools.retriever import Hit, Retriever, build_index


@pytest.fixture(scope="module")
def small(small_index):
    return Retriever.load(small_index)


def test_index_layout_and_manifest(small_index):
    manifest = json.loads((small_index / "index.json").read_text())
    assert manifest["corpus"]["documents"] == 10
    assert set(manifest["components"]) == {"docs", "bm25", "dense"}
    assert manifest["components"]["dense"]["dim"] == 384
    assert (small_index / "dense.faiss").is_file() and (small_index / "bm25").is_dir()
    assert not [p for p in small_index.iterdir() if p.name.startswith(".")]  # no leftovers


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_mode_finds_the_right_passage(small, mode):
    cases = {
        "What is the capital of Japan?": "tokyo",
        "highest mountain on Earth": "everest",
        "who created the Python language": "python",
        "plants turn sunlight into sugar": "photosynthesis",
    }
    for query, expected in cases.items():
        hits = small.search(query, k=3, mode=mode)
        assert hits and hits[0].doc_id == expected, (mode, query, hits)
        assert all(isinstance(h, Hit) for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_dense_finds_paraphrases_bm25_cannot(small):
    query = "tallest summit"  # no word in common with any passage
    assert small.search(query, k=1, mode="bm25") == []
    assert small.search(query, k=1, mode="dense")[0].doc_id == "everest"
    assert small.search(query, k=1)[0].doc_id == "everest"  # hybrid keeps it


def test_search_batch_matches_single_searches(small):
    queries = ["river in Africa", "keyboard instrument with hammers", "theory of relativity"]
    for mode in ("bm25", "dense", "hybrid"):
        batch = small.search_batch(queries, k=2, mode=mode)
        assert [[h.doc_id for h in hits] for hits in batch] == [
            [h.doc_id for h in small.search(q, k=2, mode=mode)] for q in queries
        ]


def test_hybrid_is_the_default_and_k_is_respected(small):
    assert small.default_mode == "hybrid"
    assert len(small.search("capital city", k=5)) == 5
    assert small.search("zzzz qqqq", k=3, mode="bm25") == []  # unknown words: nothing, not noise


def test_bad_search_arguments(small):
    with pytest.raises(InputError, match="unknown search mode"):
        small.search("x", mode="fuzzy")
    with pytest.raises(InputError, match="positive"):
        small.search("x", k=0)


def test_rebuilding_reuses_the_cache(small_corpus_file, small_index):
    before = (small_index / "dense.faiss").stat().st_mtime_ns
    again = build_index(small_corpus_file, small_index)
    assert again == small_index
    assert (small_index / "dense.faiss").stat().st_mtime_ns == before


def test_bm25_only_index_and_adding_dense_later(small_corpus_file, tmp_path):
    target = build_index(small_corpus_file, tmp_path / "idx", dense=False)
    lexical = Retriever.load(target)
    assert lexical.modes == ("bm25",) and lexical.default_mode == "bm25"
    with pytest.raises(InputError, match="dense index"):
        lexical.search("x", mode="dense")
    with pytest.raises(InputError, match="not available"):
        SearchTool(lexical, mode="hybrid")  # refused when the tool is made, not at every call
    build_index(small_corpus_file, target, dense=True)
    assert Retriever.load(target).default_mode == "hybrid"


def test_index_of_another_corpus_is_not_overwritten(small_index, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"doc_id": ["z"], "title": ["Z"], "text": ["zeta"]}), other)
    with pytest.raises(InputError, match="another corpus"):
        build_index(other, small_index, dense=False)
    copy = tmp_path / "copy"
    shutil.copytree(small_index, copy)
    build_index(other, copy, dense=False, force=True)
    assert len(Retriever.load(copy)) == 1


def test_loading_something_that_is_not_an_index(tmp_path):
    with pytest.raises(DatasetError, match="not a trajkit index"):
        Retriever.load(tmp_path)
    (tmp_path / "index.json").write_text("{broken")
    with pytest.raises(DatasetError, match="not JSON"):
        Retriever.load(tmp_path)


def test_search_tool_output_and_records(small):
    tool = SearchTool(small, k=2)
    output = tool("capital of Germany")
    assert output.text.startswith("Retrieved documents:")
    assert "===== Document 0" in output.text and '"Berlin"' in output.text
    assert [d.doc_id for d in output.retrieved][0] == "berlin"
    assert len(tool("capital", n_results=4).retrieved) == 4
    assert len(tool("capital", n_results=50).retrieved) == 10  # clamped to the corpus / 10
    with pytest.raises(ValueError):
        tool("   ")
    assert format_hits([]) == "No documents were found for this query."
    infos = tool_infos({"search": tool})
    assert [i.name for i in infos] == ["python_interpreter", "search"]
    assert small.fingerprint in infos[1].version


def test_search_tool_in_the_sandbox(pool, small):
    interp = pool.new_interpreter(tools={"search": SearchTool(small)})
    try:
        result = interp.run(
            "docs = search('longest river in Africa')\nprint(docs.splitlines()[3])"
        )
        assert result.error is None, result.error
        assert result.stdout == '"Nile"\n'
        (call,) = result.tool_calls
        assert json.loads(call.arguments) == {"query": "longest river in Africa"}
        assert call.retrieved[0].doc_id == "nile" and call.retrieved[0].title == "Nile"
        assert call.retrieved[0].score is not None
        assert call.output.startswith("Retrieved documents:")
    finally:
        interp.close()


def test_synthetic_corpus_indexes(tmp_path):
    from trajkit.tasks import synth
    written = synth.write(synth.generate(n=40), tmp_path / "synth")
    retriever = Retriever.load(build_index(written["corpus"], tmp_path / "idx", dense=False))
    for row in (0, len(retriever) // 2, len(retriever) - 1):
        hits = retriever.search(retriever.texts[row], k=3, mode="bm25")
        assert hits[0].doc_id == retriever.doc_ids[row]


def test_open_retriever_variants(small_index, small_corpus_file, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJKIT_CACHE", str(tmp_path / "cache"))
    assert isinstance(open_retriever(small_index), Retriever)
    from_file = open_retriever(small_corpus_file, dense=False)
    assert str(from_file.index_dir).startswith(str(tmp_path / "cache"))
    with pytest.raises(InputError):
        open_retriever(tmp_path / "nothing-here")


def _unshare_prefix() -> list[str]:
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "--net"]
    return []


def test_builtin_bm25_index_builds_offline_and_finds_the_article(tmp_path):
    """A fresh cache, no network (empty network namespace where possible): build, then query."""
    env = {**os.environ, "TRAJKIT_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    command = [
        *_unshare_prefix(),
        sys.executable,
        "-m",
        "trajkit",
        "index",
        "build",
        "builtin",
        "--no-dense",
    ]
    built = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    found = subprocess.run(
        [
            *_unshare_prefix(),
            sys.executable,
            "-m",
            "trajkit",
            "search",
            "builtin",
            "Mona Lisa painting by Leonardo",
            "--mode",
            "bm25",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert found.returncode == 0, found.stderr
    first = json.loads(found.stdout.splitlines()[0])
    assert first["doc_id"] == "Mona_Lisa" and first["rank"] == 1


def test_small_dense_index_builds_without_network(small_corpus_file, tmp_path):
    out = tmp_path / "offline-index"
    command = [
        *_unshare_prefix(),
        sys.executable,
        "-m",
        "trajkit",
        "index",
        "build",
        str(small_corpus_file),
        "--out",
        str(out),
    ]
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    built = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    assert Retriever.load(out).search("capital of France", k=1, mode="dense")[0].doc_id == "paris"


@pytest.mark.slow
def test_builtin_hybrid_index(tmp_path):
    """The full built-in index, dense part included (about 2 minutes of encoding the first
    time; later runs reuse the cache)."""
    retriever = Retriever.builtin(dense=True)
    for mode in ("hybrid", "dense", "bm25"):
        assert (
            retriever.search("Albert Einstein theory of relativity physicist", k=3, mode=mode)[
                0
            ].doc_id
            == "Albert_Einstein"
        )
    assert (
        retriever.search("the painting with the enigmatic smile by Leonardo", k=3)[0].doc_id
        == "Mona_Lisa"
    )
