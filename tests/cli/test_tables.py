"""Tables at 80 and 200 columns, through the installed entry point: no number or id is split
across lines or cut, wide overviews turn vertical, many columns become one block per row."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_trajectories
from trajkit.store import Dataset

BIG = 6095689385410816  # 16 digits: once wrapped mid-number, it read as two values


@pytest.fixture
def datasets(tmp_path):
    made = []
    for i, name in enumerate(("teacher-run", "eval-student", "eval-base")):
        ds = Dataset.create(tmp_path / name, name=name)
        ds.append(make_trajectories(4 + i))
        made.append(ds)
    return made


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def _assert_fits(text: str, width: int) -> None:
    for line in _lines(text):
        assert len(line) <= width, f"{len(line)} > {width}: {line!r}"


def _row_of(text: str, label: str) -> str:
    """The first line of a table that has `label` in its first cell."""
    found = [line for line in _lines(text) if re.match(rf"^[│┃]\s*{re.escape(label)}\s*[│┃]", line)]
    assert found, (label, text)
    return found[0]


def test_stats_overview_turns_vertical_at_80_columns(trajkit, datasets):
    from trajkit.stats import dataset_stats

    result = trajkit("stats", *(str(d.path) for d in datasets), columns=80)
    assert result.returncode == 0, result.stderr
    _assert_fits(result.stdout, 80)
    overview = dataset_stats([d.path for d in datasets])["overview"]
    header = _row_of(result.stdout, "")  # the vertical overview: one column per dataset
    assert all(d.name in header for d in datasets)
    for metric in ("trajectories", "accuracy", "mean_steps", "prompt_tokens", "wall_time_s"):
        cells = [c.strip() for c in _row_of(result.stdout, metric).strip("│").split("│")][1:]
        assert cells == [_number(row[metric]) for row in overview], (metric, cells)


def test_stats_overview_is_one_row_per_dataset_at_200_columns(trajkit, datasets):
    result = trajkit("stats", *(str(d.path) for d in datasets), columns=200)
    assert result.returncode == 0, result.stderr
    _assert_fits(result.stdout, 200)
    header = _row_of(result.stdout, "dataset")
    for metric in ("trajectories", "tasks", "answered_rate", "accuracy", "completion_tokens", "wall_time_s"):
        assert f" {metric} " in header
    for ds in datasets:
        assert re.search(rf"│ {ds.name}\s+│\s+{len(ds)} │", result.stdout)


def _number(value) -> str:
    from trajkit.cli.tables import cell

    return cell(value)


@pytest.mark.parametrize("width", [80, 200])
def test_select_star_becomes_one_block_per_row_with_a_hint(trajkit, datasets, width):
    ds = datasets[0]
    result = trajkit("sql", str(ds.path), "SELECT * FROM trajectories", columns=width)
    assert result.returncode == 0, result.stderr
    _assert_fits(result.stdout, width)
    hint = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(hint) == 1 and hint[0].startswith("hint: ") and "-f csv" in hint[0] and "DESCRIBE" in hint[0]
    blocks = [line for line in _lines(result.stdout) if line.startswith("── row ")]
    assert len(blocks) == len(ds)
    for traj in ds.trajectories():
        assert re.search(rf"^trajectory_id\s+{traj.trajectory_id}$", result.stdout, re.M)
        assert re.search(rf"^total_tokens\s+{traj.usage.total_tokens}$", result.stdout, re.M)


@pytest.mark.parametrize("width", [80, 200])
def test_numbers_and_ids_never_wrap_text_is_cut(trajkit, datasets, width):
    ds = datasets[0]
    query = f"SELECT trajectory_id, {BIG} AS big, question || ' ' || question || ' ' || question AS question, n_steps FROM trajectories"
    result = trajkit("sql", str(ds.path), query, columns=width)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # it fits as a table: no hint
    _assert_fits(result.stdout, width)
    for traj in ds.trajectories():
        line = _row_of(result.stdout, traj.trajectory_id)
        assert f" {BIG} " in line
    header = _row_of(result.stdout, "trajectory_id")
    assert all(f" {name} " in header for name in ("big", "question", "n_steps"))
    if width == 80:
        assert "…" in result.stdout  # the question, not the numbers, gave way


def test_table_headers_are_never_split(trajkit, datasets):
    from trajkit.stats import dataset_stats

    stats = dataset_stats([datasets[0].path])
    names = {key for section in stats.values() if isinstance(section, list) for row in section for key in row}
    result = trajkit("stats", str(datasets[0].path), columns=80)
    headers = [line for line in _lines(result.stdout) if line.startswith("┃")]
    assert len(headers) >= 6
    for line in headers:
        cells = [c.strip() for c in line.strip("┃").split("┃")]
        assert all(c in names or c == "" or c == datasets[0].name for c in cells), line


def test_fit_table_at_a_given_width():
    from rich.console import Console

    from trajkit.cli.tables import FitTable

    rows = [{"dataset": f"run-{i}", "question": "word " * 40, "count": 10**12 + i} for i in range(6)]
    for width, layout in ((200, "table"), (80, "table"), (30, "records")):
        view = FitTable("t", rows)
        assert view.layout(width) == layout
        console = Console(width=width, record=True, file=open("/dev/null", "w"))
        console.print(view)
        text = console.export_text()
        _assert_fits(text, width)
        for i in range(6):
            assert str(10**12 + i) in text
    wide = [{"dataset": "a", **{f"metric_{k}": k * 1.5 for k in range(12)}}]
    assert FitTable(None, wide).layout(80) == "vertical"
