"""Usage mistakes through the installed entry point: one line on stderr, exit 2, no traceback.

These errors come from click (typer's own copy of it in typer >= 0.20); trajkit.cli.usage turns
them into trajkit's one-line form with click's suggestion kept.
"""

from __future__ import annotations

import pytest

from tests.factories import make_trajectories
from trajkit.store import Dataset

MISTAKES = {
    "unknown verb": (["stat"], "did you mean 'stats'?"),
    "unknown sub-verb": (["schema", "exprt"], "did you mean 'export'?"),
    "unknown option": (["sql", "{ds}", "SELECT 1", "--formt", "csv"], "did you mean --format?"),
    "unknown option, no suggestion": (["validate", "{ds}", "--zzz"], "no such option: --zzz"),
    "missing argument": (["import"], "missing argument"),
    "missing arguments of sql": (["sql"], "missing argument"),
    "option without its value": (["sql", "{ds}", "SELECT 1", "--format"], "requires an argument"),
    "bad integer": (["tasks", "synth", "{tmp}/out", "--n", "abc"], "invalid value for '--n'"),
    "bad integer of sql": (["sql", "{ds}", "SELECT 1", "--limit", "many"], "invalid value for '--limit'"),
    "extra argument": (["validate", "{ds}", "surplus"], "unexpected extra argument"),
}


@pytest.fixture
def dataset(tmp_path):
    ds = Dataset.create(tmp_path / "ds")
    ds.append(make_trajectories(3))
    return ds


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_usage_mistake_is_one_line_and_exit_2(name, trajkit, dataset, tmp_path):
    args, expected = MISTAKES[name]
    args = [a.format(ds=dataset.path, tmp=tmp_path) for a in args]
    result = trajkit(*args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: trajkit"), lines[0]
    assert expected in lines[0].lower(), lines[0]
    assert "--help" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_no_arguments_prints_the_help(trajkit):
    result = trajkit()
    assert result.returncode == 0, result.stderr
    assert "Usage: trajkit" in result.stdout
    assert result.stderr == ""


def test_a_group_without_its_verb_prints_its_help(trajkit):
    result = trajkit("schema")
    assert result.returncode == 0, result.stderr
    assert "export" in result.stdout and "check" in result.stdout


def test_debug_after_the_verb_shows_the_traceback(trajkit, tmp_path):
    quiet = trajkit("validate", str(tmp_path / "missing"))
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    loud = trajkit("validate", str(tmp_path / "missing"), "--debug")
    assert "Traceback" in loud.stderr
    assert "DatasetError" in loud.stderr
    before = trajkit("--debug", "validate", str(tmp_path / "missing"))
    assert "Traceback" in before.stderr


def test_help_exits_0(trajkit):
    result = trajkit("sql", "--help")
    assert result.returncode == 0
    assert result.stderr == ""
