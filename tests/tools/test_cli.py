"""`trajkit index build`, `trajkit search`, `trajkit sandbox` as a user runs them."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import run_cli


def test_index_build_then_search(small_corpus_file, tmp_path):
    out = tmp_path / "idx"
    built = run_cli("index", "build", str(small_corpus_file), "--out", str(out))
    assert built.returncode == 0, built.stderr
    assert "documents: 10" in built.stdout and "bm25, dense" in built.stdout
    found = run_cli("search", str(out), "Which city is the capital of Germany?", "-k", "2")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("1. Berlin")
    assert "mode: hybrid" in found.stdout
    as_json = run_cli("search", str(out), "volcano lava", "-k", "1", "--mode", "dense", "--json")
    assert json.loads(as_json.stdout)["doc_id"] == "volcano"


def test_bad_corpus_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"doc_id": ["a", "a"], "title": ["", ""], "text": ["x", "y"]}), bad)
    result = run_cli("index", "build", str(bad), "--out", str(tmp_path / "idx"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "occur more than once" in result.stderr
    assert not (tmp_path / "idx").exists()  # nothing partial left behind


def test_search_errors(tmp_path, small_index):
    missing = run_cli("search", str(tmp_path / "none"), "q")
    assert missing.returncode == 2 and "trajkit index build" in missing.stderr
    bad_mode = run_cli("search", str(small_index), "q", "--mode", "fuzzy")
    assert bad_mode.returncode == 2 and "unknown search mode" in bad_mode.stderr


def test_sandbox_run_and_info():
    ran = run_cli("sandbox", "run", "import math\nprint(math.pi > 3)\nfinal_answer([1, 2])")
    assert ran.returncode == 0, ran.stderr
    body = json.loads(ran.stdout)
    assert body["stdout"] == "True\n" and body["final_answer"] == [1, 2] and body["answered"]
    failed = run_cli("sandbox", "run", "import os")
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["error"]["type"] == "forbidden_import"
    info = run_cli("sandbox", "info")
    assert info.returncode == 0, info.stderr
    assert "network:" in info.stdout and "smoke test: ok" in info.stdout
