"""A real three-node Ray cluster on this machine (`ray.cluster_utils.Cluster`: a head without
CPUs and two workers with two CPUs each, every node its own raylet), shared by the tests of
this folder; a scripted teacher behind real HTTP; the local build every Ray build must match."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.build.conftest import STEP_1, STEP_2
from tests.conftest import wait_for_rows  # noqa: F401  (the fault tests import it from here)

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

pytestmark = pytest.mark.ray

WORKER_CPUS = 2  # actors take one CPU each; the head takes none, so actors live on the workers
TASKS = 24
SAMPLES = 2


@pytest.fixture(scope="session")
def cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=WORKER_CPUS)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="WARNING")
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def worker_nodes(cluster) -> list:
    return [node for node in cluster.list_all_nodes() if node is not cluster.head_node]


@pytest.fixture(scope="session")
def teacher_server():
    """Every completion takes 200 ms, so a build lasts long enough (seconds) to be interrupted."""
    from trajkit.teachers.scripted_server import ScriptedServer

    with ScriptedServer([STEP_1, STEP_2], latency_s=0.2) as server:
        yield server


@pytest.fixture(scope="session")
def task_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tasks") / "tasks.jsonl"
    rows = [{"id": f"q{i}", "question": f"What is six times seven (variant {i})?", "answer": "42" if i % 3 else "41"}
            for i in range(TASKS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def recipe_file(directory, task_file, base_url, *, output="out", executor=None):
    recipe = {
        "name": "ray-build",
        "tasks": {"source": str(task_file), "name": "arith", "domain": "math"},
        "teacher": {"backend": "openai", "base_url": base_url, "model": "scripted", "api_key_env": None,
                    "max_retries": 2, "backoff_base_s": 0.01, "timeout_s": 20},
        "sampling": {"temperature": 0.0, "max_tokens": 64},
        "agent": {"max_steps": 3},
        "tools": {"retriever": None, "sandbox": {"timeout_s": 10}},
        "samples_per_task": SAMPLES,
        "concurrency": 4,
        "flush_every": 5,
        "output": str(directory / output),
        "executor": {"kind": "ray", "actors": 2, "unit_size": 2, **(executor or {})},
    }
    path = directory / f"{output}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.fixture(scope="session")
def reference(tmp_path_factory, task_file, teacher_server):
    """The same recipe built locally, uninterrupted: what every Ray build must equal."""
    from trajkit.build import build

    directory = tmp_path_factory.mktemp("reference")
    recipe = recipe_file(directory, task_file, teacher_server.base_url, output="local")
    dataset, _ = build(recipe, executor="local", show_progress=False)
    return dataset


VOLATILE = {"latency_ms", "wall_time_s", "created_at", "elapsed_ms"}
JSON_TEXT = {"grader_detail"}  # JSON held as text; its elapsed_ms is a clock reading too


def contents(dataset) -> dict[str, dict]:
    """Every trajectory by id, without what depends on the clock."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(json.loads(v) if k in JSON_TEXT and v else v)
                    for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return {t.trajectory_id: strip(t.model_dump(mode="json")) for t in dataset.trajectories()}
