"""Indexes in trajkit's cache are written like datasets: a killed build leaves nothing that a
later call trips over, and a leftover half-built folder in the cache is rebuilt, never refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trajkit.errors import InputError
from trajkit.tools.corpus import load_corpus
from trajkit.tools.retriever import Retriever, build_index, default_index_dir


def _corpus_file(tmp_path: Path) -> Path:
    from trajkit.tasks import synth

    return Path(synth.write(synth.generate(n=40), tmp_path / "synth")["corpus"])


def test_a_half_built_folder_in_the_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJKIT_CACHE", str(tmp_path / "cache"))
    corpus = load_corpus(_corpus_file(tmp_path))
    leftover = default_index_dir(corpus)  # as an older trajkit left it when killed: no index.json
    (leftover / "bm25").mkdir(parents=True)
    (leftover / "docs.parquet").write_bytes(b"PAR1 torn")
    built = build_index(corpus, dense=False)
    assert built == leftover and (built / "index.json").is_file()
    assert len(Retriever.load(built)) == len(corpus)


def test_a_users_folder_that_is_not_an_index_is_still_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJKIT_CACHE", str(tmp_path / "cache"))
    theirs = tmp_path / "my-notes"
    theirs.mkdir()
    (theirs / "todo.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a trajkit index"):
        build_index(_corpus_file(tmp_path), theirs, dense=False)
    assert (theirs / "todo.txt").read_text() == "keep me"


def test_a_failed_build_leaves_the_old_index_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJKIT_CACHE", str(tmp_path / "cache"))
    corpus_file = _corpus_file(tmp_path)
    target = build_index(corpus_file, tmp_path / "idx", dense=False)
    before = (target / "index.json").read_text()
    with pytest.raises(Exception):  # noqa: B017  (the model path does not exist: any error)
        build_index(corpus_file, target, dense=True, model=str(tmp_path / "no-model"), force=True)
    assert (target / "index.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".idx")] == []


def _search(cache: Path, query: str) -> subprocess.Popen:
    env = {**os.environ, "TRAJKIT_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "trajkit", "search", "builtin", query, "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.model
@pytest.mark.slow
def test_search_builtin_killed_mid_build_then_the_next_call_succeeds(tmp_path):
    cache = tmp_path / "cache"
    indexes = cache / "indexes"
    first = _search(cache, "Mona Lisa painting by Leonardo")
    # kill while the dense part is being encoded: the BM25 part is already on disk by then
    deadline = time.monotonic() + 300
    while not any(indexes.glob(".wiki-*.tmp-*/bm25*")) and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()[1][-2000:]
        time.sleep(0.2)
    assert any(indexes.glob(".wiki-*.tmp-*/bm25*")), "the index build never started"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert [p for p in indexes.iterdir() if not p.name.startswith(".")] == []
    second = _search(cache, "Mona Lisa painting by Leonardo")
    out, err = second.communicate(timeout=900)
    assert second.returncode == 0, err[-2000:]
    assert "Mona Lisa" in out.splitlines()[0]
    (built,) = [p for p in indexes.iterdir() if not p.name.startswith(".")]
    assert (built / "index.json").is_file() and (built / "dense.faiss").is_file()
