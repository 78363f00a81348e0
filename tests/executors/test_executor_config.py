"""Work units, the executor block and its CLI overrides, and the missing-extra error (no cluster)."""

import subprocess
import sys

import pytest

from tests.build.conftest import task_file, write_recipe  # noqa: F401  (fixture)
from tests.conftest import REPO
from trajkit.errors import ConfigError
from trajkit.executors import ExecutorConfig, resolve_executor
from trajkit.executors.ray_driver import fitting_actors
from trajkit.executors.units import plan_units
from trajkit.schema import Task, trajectory_id


def _tasks(n):
    return [Task(task_id=f"t{i}", source="s", question=f"q{i}") for i in range(n)]


def test_units_are_deterministic_and_skip_committed_rollouts():
    tasks = _tasks(7)
    units, skipped = plan_units(tasks, "fp", 2, set(), unit_size=3)
    assert [len(u) for u in units] == [6, 6, 2] and skipped == 0
    again, _ = plan_units(tasks, "fp", 2, set(), unit_size=3)
    assert [u.unit_id for u in units] == [u.unit_id for u in again]
    all_ids = [tid for u in units for tid in u.trajectory_ids]
    assert len(set(all_ids)) == 14 and all_ids[0] == trajectory_id("t0", "fp", 0)
    done = set(units[0].trajectory_ids) | {units[1].trajectory_ids[0]}
    rest, skipped = plan_units(tasks, "fp", 2, done, unit_size=3)
    assert skipped == 7 and [u.index for u in rest] == [1, 2] and len(rest[0]) == 5


def test_executor_overrides_and_resources():
    block = ExecutorConfig(actor_resources={"num_cpus": 2, "num_gpus": 1, "node:gpu": 0.5})
    assert resolve_executor(block).kind == "local"
    assert resolve_executor(block, address="auto").kind == "ray"
    assert resolve_executor(block, kind="ray", actors=3).actors == 3
    assert block.ray_options() == {"num_cpus": 2, "num_gpus": 1, "resources": {"node:gpu": 0.5}}
    assert fitting_actors({"CPU": 16, "GPU": 4, "node:gpu": 4}, block) == 4
    assert fitting_actors({"CPU": 3}, ExecutorConfig()) == 3
    with pytest.raises(ConfigError, match="unknown executor"):
        resolve_executor(block, kind="dask")
    with pytest.raises(ConfigError, match="--address names a Ray cluster"):
        resolve_executor(block, kind="local", address="auto")


def test_bad_executor_block_names_the_field(tmp_path, task_file):  # noqa: F811
    from trajkit.build import build

    recipe = write_recipe(tmp_path, task_file, extra={"executor": {"kind": "spark"}})
    with pytest.raises(ConfigError, match="executor.kind"):
        build(recipe, show_progress=False)
    assert not (tmp_path / "out").exists()


def test_without_ray_the_error_names_the_extra(tmp_path, task_file):  # noqa: F811
    recipe = write_recipe(tmp_path, task_file)
    blocker = tmp_path / "block" / "ray"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('ray is not installed')\n")
    done = subprocess.run(
        [sys.executable, "-m", "trajkit", "build", str(recipe), "--executor", "ray"],
        env={"PYTHONPATH": f"{tmp_path / 'block'}:{REPO}", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "trajkit[ray]" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # nothing partial
