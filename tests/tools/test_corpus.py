"""Corpora: formats accepted, and clear errors for bad ones."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trajkit.errors import InputError
from trajkit.tools.corpus import builtin_corpus, load_corpus


def _parquet(tmp_path, name="c.parquet", **columns):
    path = tmp_path / name
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_corpus_keeps_metadata(tmp_path):
    path = _parquet(
        tmp_path, doc_id=["a", "b"], title=["A", None], text=["alpha", "beta"], year=[2001, 2002]
    )
    corpus = load_corpus(path)
    assert corpus.table.column_names == ["doc_id", "title", "text", "year"]
    assert corpus.table.column("title").to_pylist() == ["A", ""]
    assert len(corpus) == 2 and len(corpus.fingerprint) == 64


def test_integer_ids_are_accepted_as_text(tmp_path):
    path = _parquet(tmp_path, doc_id=[1, 2], title=["x", "y"], text=["one", "two"])
    assert load_corpus(path).table.column("doc_id").to_pylist() == ["1", "2"]


def test_jsonl_and_flashrag_layout(tmp_path):
    plain = tmp_path / "plain.jsonl"
    plain.write_text(
        json.dumps({"doc_id": "x", "title": "X", "text": "ex", "meta": {"k": 1}})
        + "\n\n"
        + json.dumps({"doc_id": "y", "title": "Y", "text": "why"})
        + "\n"
    )
    table = load_corpus(plain).table
    assert table.column("doc_id").to_pylist() == ["x", "y"]
    assert json.loads(table.column("meta").to_pylist()[0]) == {"k": 1}

    flashrag = tmp_path / "wiki18.jsonl"
    flashrag.write_text(
        json.dumps({"id": "7", "contents": '"Eiffel Tower"\nA lattice tower in Paris.'}) + "\n"
    )
    table = load_corpus(flashrag).table
    assert table.column("title").to_pylist() == ["Eiffel Tower"]
    assert table.column("text").to_pylist() == ["A lattice tower in Paris."]


def test_directory_of_parquet_files(tmp_path):
    _parquet(tmp_path, "part-0.parquet", doc_id=["a"], title=["A"], text=["alpha"])
    _parquet(tmp_path, "part-1.parquet", doc_id=["b"], title=["B"], text=["beta"])
    assert len(load_corpus(tmp_path)) == 2


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"id_": ["a"], "title": ["A"], "text": ["t"]}, "missing the column(s) doc_id"),
        ({"doc_id": ["a"], "title": ["A"], "body": ["t"]}, "missing the column(s) text"),
        ({"doc_id": ["a"], "text": ["t"]}, "missing the column title"),
        (
            {"doc_id": ["a", "b", "a"], "title": ["A", "B", "C"], "text": ["t", "u", "v"]},
            "occur more than once",
        ),
        ({"doc_id": ["a", "b"], "title": ["A", "B"], "text": ["t", "   "]}, "empty text"),
        ({"doc_id": ["a", "b"], "title": ["A", "B"], "text": ["t", None]}, "empty text"),
        ({"doc_id": ["a", ""], "title": ["A", "B"], "text": ["t", "u"]}, "empty doc_id"),
        (
            {
                "doc_id": pa.array([], pa.string()),
                "title": pa.array([], pa.string()),
                "text": pa.array([], pa.string()),
            },
            "no rows",
        ),
    ],
    ids=[
        "no-doc-id",
        "no-text",
        "no-title",
        "duplicate-ids",
        "blank-text",
        "null-text",
        "empty-id",
        "empty",
    ],
)
def test_bad_corpora_get_clear_errors(tmp_path, columns, message):
    path = _parquet(tmp_path, **columns)
    with pytest.raises(InputError) as caught:
        load_corpus(path)
    assert message in caught.value.what
    assert caught.value.where == str(path)
    assert caught.value.fix


def test_duplicate_error_names_the_ids(tmp_path):
    path = _parquet(tmp_path, doc_id=["dup", "dup", "ok"], title=["", "", ""], text=["a", "b", "c"])
    with pytest.raises(InputError, match="'dup'"):
        load_corpus(path)


def test_unreadable_inputs(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_corpus(tmp_path / "missing.parquet")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"doc_id": "a", "title": "", "text": "x"}\n{not json\n')
    with pytest.raises(InputError) as caught:
        load_corpus(bad)
    assert caught.value.where == f"{bad}:2"
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot read Parquet"):
        load_corpus(broken)
    (tmp_path / "x.csv").write_text("doc_id,title,text\n")
    with pytest.raises(InputError, match="unsupported"):
        load_corpus(tmp_path / "x.csv")


def test_builtin_corpus_from_the_installed_package():
    corpus = builtin_corpus()
    assert len(corpus) == 10033
    table = corpus.table
    ids = table.column("doc_id").to_pylist()
    assert "Albert_Einstein" in ids and len(set(ids)) == len(ids)
    row = ids.index("Mona_Lisa")
    assert "Leonardo da Vinci" in table.column("text")[row].as_py()
    assert {"description", "topic", "url"} <= set(table.column_names)


def test_synthetic_task_corpus_loads(tmp_path):
    from trajkit.tasks import synth
    result = synth.generate(n=40)
    written = synth.write(result, tmp_path / "synth")
    corpus = load_corpus(written["corpus"])
    assert len(corpus) == len(result.corpus) > 0
