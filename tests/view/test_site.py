"""The viewer's folder: its data (joined on task, problems reported), written atomically."""

import json
import re

import pytest

from tests.factories import make_trajectories, make_trajectory
from tests.view.conftest import HOSTILE_CODE, make_dataset, newer_schema_dataset
from trajkit.errors import DatasetError, InputError
from trajkit.view.pagedata import CHUNK, TEXT_LIMIT, _Collector, collect, labels
from trajkit.view.site import MARKER, js_data, write_view


def _load(path):
    """The JSON inside one of the page's data files, as the page's JSON.parse reads it."""
    text = path.read_text(encoding="utf-8")
    literal = re.fullmatch(r'trajkitData\("\w+",\d+,JSON\.parse\((".*")\)\);\n', text, re.S).group(1)
    return json.loads(json.loads(literal))


def test_view_of_two_runs_joined_on_task(tmp_path, teacher_student):
    teacher, student = teacher_student
    result = write_view([teacher, student], tmp_path / "view")
    assert result.trajectories == 11 and result.datasets == 2 and result.tasks == 7
    assert {p.name for p in (tmp_path / "view").iterdir()} == {"index.html", "viewer.js", "viewer.css", "data", MARKER}
    index = _load(tmp_path / "view" / "data" / "index.js")
    assert [d["name"] for d in index["datasets"]] == ["teacher", "student"]
    assert index["datasets"][0]["kinds"] == ["teacher"] and index["datasets"][1]["models"] == ["student-135m"]
    rows = index["rows"]
    tasks = index["tasks"]["id"]
    # the student's four trajectories point at the teacher's tasks
    assert [tasks[t] for d, t in zip(rows["ds"], rows["task"], strict=True) if d == 1] == [f"synthetic:{i}" for i in range(4)]
    assert index["dicts"]["error"][0] == "parse_error"  # the schema's vocabulary comes first
    execution = index["dicts"]["error"].index("execution_error")
    assert [bool(e & (1 << execution)) for e in rows["errors"]][-4:] == [False, True, False, False]
    assert "search('velmora1')" in rows["code"][1]  # lower-cased code for the free-text search
    details = _load(tmp_path / "view" / "data" / "detail-00000.js")
    assert [d["row"] for d in details] == list(range(11))
    hostile = next(d for d in details if d["question"].startswith("What does <script>"))
    assert hostile["steps"][0]["code"] == HOSTILE_CODE
    assert hostile["steps"][0]["candidates"][1]["selected"] is True
    pairs = _load(tmp_path / "view" / "data" / "divergence.js")["pairs"]
    teacher_to_student = next(p for p in pairs if (p["a"], p["b"]) == (0, 1))
    assert sorted((i[5], i[6]) for i in teacher_to_student["items"]) == [
        (-1, ""), (0, "different_action"), (1, "answered"), (1, "execution_error")]


def test_details_are_chunked_and_long_text_is_cut(tmp_path):
    many = make_trajectories(CHUNK + 3)
    many[-1].steps[0].observation = "x" * (TEXT_LIMIT + 50)
    make_dataset(tmp_path / "ds", many)
    write_view([tmp_path / "ds"], tmp_path / "view")
    assert sorted(p.name for p in (tmp_path / "view" / "data").glob("detail-*")) == ["detail-00000.js", "detail-00001.js"]
    second = _load(tmp_path / "view" / "data" / "detail-00001.js")
    assert [d["row"] for d in second] == [CHUNK, CHUNK + 1, CHUNK + 2]
    assert second[-1]["steps"][0]["observation"].endswith("[50 more characters not shown here]")


def test_unreadable_empty_and_incomplete_datasets_become_messages(tmp_path):
    good = make_dataset(tmp_path / "good", [make_trajectory(1)])
    empty = make_dataset(tmp_path / "empty", [])
    newer = newer_schema_dataset(tmp_path / "newer")
    result = write_view([good, empty, newer, tmp_path / "missing"], tmp_path / "view")
    assert result.datasets == 2 and result.trajectories == 1
    messages = [(p["level"], p["dataset"], p["message"]) for p in result.problems]
    assert ("warning", "empty", "the dataset is empty (no trajectories)") in messages
    newer_msg = next(m for lvl, d, m in messages if d.endswith("newer"))
    assert "schema v2" in newer_msg and "upgrade trajkit" in newer_msg
    assert any(d.endswith("missing") and "no such dataset" in m for _, d, m in messages)
    index = _load(tmp_path / "view" / "data" / "index.js")
    assert index["problems"] == result.problems


def test_rows_with_missing_fields_are_shown_with_a_warning():
    collector = _Collector(lambda n, rows: None)
    meta = {"name": "x", "rows": 0, "kinds": [], "models": [], "backends": [], "sag_n": []}
    collector.datasets.append(meta)
    collector.runs.append({})
    missing = {}
    collector._row(0, meta, {"trajectory_id": "t1", "task": {"task_id": "a", "question": "Q?"}}, missing)
    collector._row(0, meta, {"trajectory_id": None}, missing)
    assert missing == {"outcome": 1, "usage": 1, "steps": 1, "provenance": 1, "trajectory_id (skipped)": 1}
    assert collector.rows["status"] == [collector.status.ids["missing"]]
    assert collector.rows["tokens"] == [-1] and collector.rows["correct"] == [-1]
    assert collector.pending[0]["steps"] == [] and collector.pending[0]["outcome"]["final_answer"] is None


def test_nothing_readable_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset"):
        write_view([tmp_path / "nope"], tmp_path / "view")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="no dataset given"):
        write_view([], tmp_path / "view")


def test_an_earlier_view_is_replaced_but_other_folders_are_refused(tmp_path):
    ds = make_dataset(tmp_path / "ds", [make_trajectory(0)])
    write_view([ds], tmp_path / "view")
    (tmp_path / "view" / "data" / "detail-00099.js").write_text("stale")
    write_view([ds], tmp_path / "view")
    assert not (tmp_path / "view" / "data" / "detail-00099.js").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "view"]  # no temporaries left
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a trajkit view"):
        write_view([ds], tmp_path / "notes")
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"


def test_data_files_survive_any_text():
    text = 'quote " backslash \\ line\u2028sep </script> \u00e9'
    body = js_data("detail", 3, [{"t": text}])
    assert "\u2028" not in body and body.startswith('trajkitData("detail",3,JSON.parse("')
    literal = re.search(r"JSON\.parse\((\".*\")\)", body, re.S).group(1)
    assert json.loads(json.loads(literal)) == [{"t": text}]


def test_labels_are_distinct():
    assert labels(["a/run", "b/run", "c/other"]) == ["a/run", "b/run", "other"]
    assert labels(["x/run", "x/run"])[0] != labels(["x/run", "x/run"])[1]


def test_collect_on_no_datasets_gives_empty_index(tmp_path):
    page = collect([make_dataset(tmp_path / "e", [])], lambda n, rows: None)
    assert page.trajectories == 0 and page.divergence == {"pairs": []}


def test_the_page_is_offline_and_never_parses_data_as_html():
    from importlib import resources

    static = resources.files("trajkit.view") / "static"
    for name in ("index.html", "viewer.js", "viewer.css"):
        text = (static / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://|//cdn|@import", text), name  # nothing is fetched from a network
    code = re.sub(r"/\*.*?\*/", "", (static / "viewer.js").read_text(encoding="utf-8"), flags=re.S)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc"):
        assert sink not in code, sink
