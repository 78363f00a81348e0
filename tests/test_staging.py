"""A staged folder replaces its destination only when complete, and never loses the old one."""

from __future__ import annotations

import os

import pytest

from trajkit import staging
from trajkit.staging import staged_folder


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_complete_folder_replaces_the_old_one(tmp_path):
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / "old.txt").write_text("old")
    with staged_folder(destination) as folder:
        (folder / "new.txt").write_text("new")
        assert _files(destination) == ["old.txt"]  # readers still see the old folder
    assert _files(destination) == ["new.txt"]
    assert _files(tmp_path) == ["out"]  # no staging or old folder left behind


def test_a_failure_while_writing_leaves_the_destination_as_it_was(tmp_path):
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(destination) as folder:
        (folder / "half.txt").write_text("half")
        raise RuntimeError("bad row")
    assert _files(destination) == ["old.txt"]
    assert _files(tmp_path) == ["out"]


def test_a_new_destination_and_its_parents_are_created(tmp_path):
    destination = tmp_path / "a" / "b" / "out"
    with staged_folder(destination) as folder:
        (folder / "x").write_text("x")
    assert _files(destination) == ["x"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / "old.txt").write_text("old")
    real_replace = os.replace
    calls = []

    def failing_second_replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the old folder is aside, the new one fails to move in (e.g. EXDEV, ENOSPC)
            raise OSError("disk gone")
        real_replace(src, dst)

    monkeypatch.setattr(staging.os, "replace", failing_second_replace)
    with pytest.raises(OSError, match="disk gone"), staged_folder(destination) as folder:
        (folder / "new.txt").write_text("new")
    assert _files(destination) == ["old.txt"]
    assert _files(tmp_path) == ["out"]
