"""`--help` of every verb at 80 columns: whole option names, a description for every option and
argument, no typer `{args}` usage, the same flag names across verbs; generated parts follow the
code (the views' columns, the model registry)."""

from __future__ import annotations

import pytest


def _commands():
    import typer.main

    from trajkit.cli import app

    def walk(command, path):
        subs = getattr(command, "commands", None)
        if subs:
            yield path, command
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    return list(walk(typer.main.get_command(app), ["trajkit"]))


COMMANDS = _commands()
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not getattr(cmd, "commands", None)]


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p[1:]) or "trajkit" for p, _ in COMMANDS])
def test_help_at_80_columns(path, trajkit):
    result = trajkit(*path[1:], "--help", columns=80)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith(f"Usage: {' '.join(path)} ")
    assert "…" not in text and "{" not in text.splitlines()[0]
    for line in text.splitlines():
        assert len(line) <= 80, line
    command = dict((tuple(p), c) for p, c in COMMANDS)[tuple(path)]
    for param in command.params:
        for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
            if opt.startswith("--"):
                assert opt in text, (opt, text)


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=[" ".join(p[1:]) for p, _ in LEAVES])
def test_every_option_and_argument_is_described(path):
    command = dict((tuple(p), c) for p, c in LEAVES)[tuple(path)]
    missing = [p.name for p in command.params if not (getattr(p, "help", None) or "").strip()]
    assert missing == []


def test_one_spelling_for_overwrite_and_output():
    for path, command in LEAVES:
        for param in command.params:
            if param.name == "overwrite":
                assert param.opts == ["--overwrite"] and not param.secondary_opts, path
            if param.param_type_name == "option" and param.name in ("output", "out"):
                assert "--output" in param.opts and "-o" in param.opts, (path, param.opts)


def test_old_spellings_still_work(trajkit, tmp_path):
    from tests.factories import make_trajectories
    from trajkit.store import Dataset

    ds = Dataset.create(tmp_path / "ds")
    ds.append(make_trajectories(3))
    (tmp_path / "out").mkdir()
    result = trajkit("filter", str(ds.path), str(tmp_path / "out"), "--where", "true", "--no-overwrite")
    assert result.returncode == 2 and "already exists" in result.stderr
    result = trajkit("filter", str(ds.path), str(tmp_path / "out"), "--where", "true", "--overwrite")
    assert result.returncode == 0, result.stderr


def test_top_level_help_names_the_export_formats(trajkit):
    text = trajkit("--help", columns=80).stdout
    line = " ".join(text[text.index("\n  export "):].split())[:160]  # its entry, wrapped lines joined
    for fmt in ("dpo", "verl", "llamafactory", "axolotl", "adp", "tokens"):
        assert fmt in line, line


def test_sql_help_lists_every_view_with_every_column(trajkit):
    from trajkit.query import view_columns

    text = " ".join(trajkit("sql", "--help", columns=80).stdout.split())
    for view, columns in view_columns().items():
        assert f"{view} (" in text
        listed = text[text.index(f"{view} ("):].split("):", 1)[1].split(".", 1)[0]
        assert [c.strip() for c in listed.split(",")] == columns


def test_eval_model_help_follows_the_registry_and_backends(trajkit):
    from trajkit.models.registry import names
    from trajkit.teachers.config import BACKENDS

    text = " ".join(trajkit("eval", "--help", columns=80).stdout.split())
    for name in names():
        assert name in text
    for backend in BACKENDS:
        assert backend in text
    assert ".gguf" in text


def test_filter_lists_presets_without_datasets(trajkit):
    result = trajkit("filter", "--list-presets", columns=80)
    assert result.returncode == 0, result.stderr
    assert "Filter presets" in result.stdout
    missing = trajkit("filter", "--where", "correct")
    assert missing.returncode == 2 and "give SOURCE and DESTINATION" in missing.stderr
