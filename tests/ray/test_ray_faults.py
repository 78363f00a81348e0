"""Faults on a real cluster: a node removed mid-build, an actor SIGKILLed, the driver killed.
Each ends with exactly the uninterrupted set of ids, no duplicates, a dataset that validates."""

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from tests.conftest import REPO
from tests.ray.conftest import WORKER_CPUS, contents, recipe_file, wait_for_rows, worker_nodes
from trajkit.build import build
from trajkit.store import Dataset
from trajkit.validate import validate_dataset

pytestmark = pytest.mark.ray


def _in_background(recipe):
    """Run the build in a thread of this process (the driver); returns (thread, result box)."""
    box: dict = {}

    def target():
        try:
            box["result"] = build(recipe, show_progress=False)
        except BaseException as exc:  # noqa: BLE001  (re-raised by the test)
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def _finish(thread, box, reference):
    thread.join(300)
    assert not thread.is_alive(), "the build did not finish"
    if "error" in box:
        raise box["error"]
    dataset, stats = box["result"]
    assert validate_dataset(dataset) == len(reference)
    assert sorted(dataset.to_arrow(columns=["trajectory_id"]).column(0).to_pylist()) == sorted(reference.trajectory_ids())
    assert contents(dataset) == contents(reference)
    return dataset, stats


def _actor_processes(since: float = 0.0) -> list[psutil.Process]:
    """The rollout actors of this test's cluster (Ray titles them ray::RolloutWorker...), started
    after `since`: only descendants of this process, never another run's actors."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            cmdline = " ".join(proc.cmdline())
            if cmdline.startswith("ray::RolloutWorker") and proc.create_time() >= since:
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def test_node_removed_mid_build_its_units_run_elsewhere(cluster, teacher_server, task_file, reference, tmp_path):
    recipe = recipe_file(tmp_path, task_file, teacher_server.base_url)
    thread, box = _in_background(recipe)
    wait_for_rows(tmp_path / "out")
    victim = worker_nodes(cluster)[0]
    cluster.remove_node(victim, allow_graceful=False)
    try:
        _, stats = _finish(thread, box, reference)
    finally:
        cluster.add_node(num_cpus=WORKER_CPUS)  # the next tests get three nodes again
        cluster.wait_for_nodes()
    assert stats.units_retried >= 1 and stats.actors_replaced >= 1


def test_actor_killed_with_sigkill_its_units_are_retried(cluster, teacher_server, task_file, reference, tmp_path):
    recipe = recipe_file(tmp_path, task_file, teacher_server.base_url)
    started = time.time() - 1
    thread, box = _in_background(recipe)
    wait_for_rows(tmp_path / "out")
    actors = _actor_processes(since=started)
    assert actors, "no RolloutWorker actor process found"
    actors[0].send_signal(signal.SIGKILL)
    _, stats = _finish(thread, box, reference)
    assert stats.units_retried >= 1 and stats.actors_replaced >= 1


def test_driver_killed_then_rerun_resumes(cluster, teacher_server, task_file, reference, tmp_path):
    recipe = recipe_file(tmp_path, task_file, teacher_server.base_url)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "trajkit", "build", str(recipe), "--address", cluster.address]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_rows(out, at_least=4)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    partial = Dataset.open(out)
    assert 0 < len(partial) < len(reference) and validate_dataset(partial) == len(partial)
    deadline = time.monotonic() + 60  # Ray reaps the dead driver's actors
    while _actor_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    final = Dataset.open(out)
    assert validate_dataset(final) == len(reference)
    assert sorted(final.to_arrow(columns=["trajectory_id"]).column(0).to_pylist()) == sorted(reference.trajectory_ids())
    assert contents(final) == contents(reference)
