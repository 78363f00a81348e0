"""What a fresh machine installs: the extras `make setup` asks for exist under the names every
pip accepts, and the wheel carries the paper's task files so `seed:` sources work anywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

from tests.conftest import REPO
from trajkit.tasks.seed import PACKAGED_SEED_TASKS


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _makefile_extras() -> list[str]:
    (line,) = [x for x in (REPO / "Makefile").read_text().splitlines() if x.startswith("EXTRAS ?=")]
    return line.split("=", 1)[1].strip().split(",")


def test_every_extra_make_setup_installs_is_declared_in_normalised_form():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    # pip < 24 looks an extra up by the name as given; setuptools writes it normalised (PEP 685)
    assert [name for name in declared if _normalised(name) != name] == []
    assert [extra for extra in _makefile_extras() if extra not in declared] == []


def test_the_set_up_check_refuses_an_extra_trajkit_does_not_declare():
    check = REPO / "scripts" / "check_extras.py"
    ok = subprocess.run([sys.executable, str(check), ",".join(_makefile_extras())], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, str(check), "embedded,qwen-1.5b"], capture_output=True, text=True)
    assert bad.returncode == 2 and "qwen-1-5b" in bad.stderr and len(bad.stderr.splitlines()) == 1


@pytest.mark.slow
def test_the_wheel_ships_every_seed_task_file_and_its_readme(tmp_path):
    source = tmp_path / "src"  # setuptools builds in the source tree: build a copy, not the checkout
    shutil.copytree(REPO / "trajkit", source / "trajkit", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("trajkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "trajkit/tasks/seed_data/" + p.relative_to(PACKAGED_SEED_TASKS).as_posix()
        for p in PACKAGED_SEED_TASKS.rglob("*") if p.is_file()
    }
    assert len(expected) == 12 and expected <= names
