"""Bad input through the CLI: one clear line, exit code 2, no traceback, nothing partial written."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.factories import make_trajectories, make_trajectory
from trajkit.store import Dataset


@pytest.fixture
def dataset(tmp_path):
    ds = Dataset.create(tmp_path / "ds")
    ds.append(make_trajectories(5))
    return ds


def _jsonl(tmp_path, lines, name="in.jsonl", raw=None):
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("".join(line + "\n" for line in lines))
    return path


def _good_line(i=0):
    return make_trajectory(i).model_dump_json()


def _bad_row(mutate):
    row = json.loads(_good_line(1))
    mutate(row)
    return json.dumps(row)


def _case_sql_missing_path(tmp_path, ds):
    return ["sql", str(tmp_path / "nope"), "SELECT 1"], "no such dataset", None


def _case_sql_not_a_dataset(tmp_path, ds):
    (tmp_path / "plain").mkdir()
    return ["sql", str(tmp_path / "plain"), "SELECT 1"], "not a trajkit dataset", None


def _case_sql_bad_query(tmp_path, ds):
    return ["sql", str(ds.path), "SELECT nope FROM trajectories"], "views: trajectories, steps", None


def _case_sql_candidate_bindings(tmp_path, ds):
    return ["sql", str(ds.path), "SELECT corect FROM trajectories"], 'Candidate bindings: "correct"', None


def _case_sql_did_you_mean(tmp_path, ds):
    return ["sql", str(ds.path), "SELECT * FROM trajectory"], 'Did you mean "trajectories"?', None


def _case_sql_no_query(tmp_path, ds):
    return ["sql", str(ds.path)], "at least one dataset and a query", None


def _case_sql_parquet_needs_output(tmp_path, ds):
    return ["sql", str(ds.path), "SELECT 1", "--format", "parquet"], "needs --output", None


def _case_sql_unknown_format(tmp_path, ds):
    out = tmp_path / "x.xml"
    return ["sql", str(ds.path), "SELECT 1", "-f", "xml", "-o", str(out)], "unknown format", out


def _case_show_unknown_id(tmp_path, ds):
    return ["show", str(ds.path), "deadbeef"], "no trajectory with id", None


def _case_show_empty(tmp_path, ds):
    Dataset.create(tmp_path / "empty")
    return ["show", str(tmp_path / "empty")], "dataset is empty", None


def _case_filter_destination_exists(tmp_path, ds):
    (tmp_path / "out").mkdir()
    return ["filter", str(ds.path), str(tmp_path / "out"), "--where", "correct"], "already exists", None


def _case_filter_bad_predicate(tmp_path, ds):
    out = tmp_path / "out"
    return ["filter", str(ds.path), str(out), "--where", "corect = 1"], "their columns: trajkit sql --help", out


def _case_filter_nothing(tmp_path, ds):
    out = tmp_path / "out"
    return ["filter", str(ds.path), str(out)], "no filter given", out


def _case_filter_unknown_preset(tmp_path, ds):
    out = tmp_path / "out"
    return ["filter", str(ds.path), str(out), "--preset", "bogus"], "unknown filter preset", out


def _case_import_malformed_json(tmp_path, ds):
    src = _jsonl(tmp_path, [_good_line(0), "{not json", _good_line(2)])
    return ["import", str(src), str(tmp_path / "out")], "in.jsonl:2: malformed JSON", tmp_path / "out"


def _case_import_not_utf8(tmp_path, ds):
    src = _jsonl(tmp_path, None, raw=(_good_line(0) + "\n").encode() + b'{"x": "\xff\xfe"}\n')
    return ["import", str(src), str(tmp_path / "out")], "in.jsonl:2: not UTF-8", tmp_path / "out"


def _case_import_missing_field(tmp_path, ds):
    src = _jsonl(tmp_path, [_bad_row(lambda r: r.pop("outcome"))])
    return ["import", str(src), str(tmp_path / "out")], "field outcome: Field required", tmp_path / "out"


def _case_import_wrong_type(tmp_path, ds):
    src = _jsonl(tmp_path, [_good_line(0), _bad_row(lambda r: r.__setitem__("steps", "three"))])
    return ["import", str(src), str(tmp_path / "out")], "in.jsonl:2: field steps", tmp_path / "out"


def _case_import_nested_wrong_type(tmp_path, ds):
    src = _jsonl(tmp_path, [_bad_row(lambda r: r["steps"][0].__setitem__("index", "first"))])
    return ["import", str(src), str(tmp_path / "out")], "field steps.0.index", tmp_path / "out"


def _case_import_newer_version(tmp_path, ds):
    src = _jsonl(tmp_path, [_bad_row(lambda r: r.__setitem__("schema_version", 99))])
    return ["import", str(src), str(tmp_path / "out")], "upgrade trajkit", tmp_path / "out"


def _case_import_empty(tmp_path, ds):
    src = _jsonl(tmp_path, [])
    return ["import", str(src), str(tmp_path / "out")], "no trajectories in the file", tmp_path / "out"


def _case_import_missing_file(tmp_path, ds):
    return ["import", str(tmp_path / "absent.jsonl"), str(tmp_path / "out")], "no such file", tmp_path / "out"


def _case_import_unknown_format(tmp_path, ds):
    src = _jsonl(tmp_path, [_good_line(0)])
    return ["import", str(src), str(tmp_path / "out"), "-f", "csv"], "unknown import format", tmp_path / "out"


def _case_import_array_line(tmp_path, ds):
    src = _jsonl(tmp_path, ["[1, 2]"])
    return ["import", str(src), str(tmp_path / "out")], "must be a JSON object", tmp_path / "out"


def _case_import_duplicate_ids(tmp_path, ds):
    src = _jsonl(tmp_path, [_good_line(3), _good_line(3)])
    return ["import", str(src), str(tmp_path / "out")], "appears more than once", tmp_path / "out"


def _case_import_reference_without_question(tmp_path, ds):
    src = _jsonl(tmp_path, [json.dumps({"model_id": "m", "log_data": None})])
    return ["import", str(src), str(tmp_path / "out"), "-f", "reference"], "missing field 'question'", tmp_path / "out"


def _case_import_destination_is_dataset(tmp_path, ds):
    src = _jsonl(tmp_path, [_good_line(0)])
    return ["import", str(src), str(ds.path)], "already exists", None


def _case_truncated_shard(tmp_path, ds):
    shard = ds.shard_paths()[0]
    shard.write_bytes(shard.read_bytes()[:-50])
    return ["validate", str(ds.path)], "not a readable Parquet file", None


def _case_manifest_not_json(tmp_path, ds):
    (ds.path / "trajkit.json").write_text("{oops")
    return ["stats", str(ds.path)], "manifest is not valid JSON", None


def _case_manifest_newer_version(tmp_path, ds):
    manifest = json.loads((ds.path / "trajkit.json").read_text())
    manifest["schema_version"] = 2
    (ds.path / "trajkit.json").write_text(json.dumps(manifest))
    return ["stats", str(ds.path)], "reads up to v1", None


def _case_foreign_parquet(tmp_path, ds):
    pq.write_table(pa.table({"a": [1, 2]}), ds.path / "data" / "part-foreign.parquet")
    return ["stats", str(ds.path)], "without trajkit schema metadata", None


def _case_missing_shard(tmp_path, ds):
    ds.shard_paths()[0].unlink()
    return ["stats", str(ds.path)], "is missing", None


def _case_dump_unknown_format(tmp_path, ds):
    out = tmp_path / "out.jsonl"
    return ["dump", str(ds.path), str(out), "-f", "yaml"], "unknown format", out


def _case_stats_missing(tmp_path, ds):
    return ["stats", str(tmp_path / "missing")], "no such dataset", None


CASES = [value for name, value in sorted(globals().items()) if name.startswith("_case_")]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[6:] for c in CASES])
def test_bad_input_gives_one_clear_line(case, tmp_path, dataset, cli):
    args, expected, must_not_exist = case(tmp_path, dataset)
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    if must_not_exist is not None:
        assert not must_not_exist.exists()
        leftovers = [p.name for p in must_not_exist.parent.iterdir() if p.name.startswith(f".{must_not_exist.name}")]
        assert leftovers == []


def test_sql_syntax_error_keeps_duckdb_pointer(tmp_path, dataset, cli):
    """DuckDB's quote of the query and its caret line follow the one-line error, aligned."""
    result = cli("sql", str(dataset.path), "SELECT * FROM trajectories WHER correct")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.rstrip("\n").splitlines()
    assert lines[0].startswith("error: sql: Parser Error: syntax error at or near")
    assert "their columns: trajkit sql --help" in lines[0]
    quote = next(line for line in lines if line.startswith("LINE 1: "))
    caret = lines[lines.index(quote) + 1]
    assert set(caret.strip()) == {"^"}
    assert quote[caret.index("^"):].startswith("correct") or quote[caret.index("^"):].startswith("WHER")
    assert "Traceback" not in result.stderr


def test_at_least_twenty_cases():
    assert len(CASES) >= 20
