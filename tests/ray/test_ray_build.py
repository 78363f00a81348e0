"""A Ray build on a real three-node cluster gives exactly the ids and contents of a local build."""

import pytest

from tests.conftest import run_cli
from tests.ray.conftest import SAMPLES, TASKS, contents, recipe_file, worker_nodes
from trajkit.build import build
from trajkit.store import Dataset
from trajkit.validate import validate_dataset

pytestmark = pytest.mark.ray


def test_ray_build_equals_local_build(cluster, teacher_server, task_file, reference, tmp_path):
    recipe = recipe_file(tmp_path, task_file, teacher_server.base_url)
    dataset, stats = build(recipe, show_progress=False)
    assert validate_dataset(dataset) == TASKS * SAMPLES
    assert contents(dataset) == contents(reference)
    assert stats.units_done == stats.units_total == TASKS // 2 and stats.units_retried == 0
    assert len(dataset.manifest.shards) == stats.units_total  # one atomic commit per unit
    nodes = {w.split("/")[0] for w in stats.workers}
    assert len(nodes) == 2 == len(worker_nodes(cluster))  # the actors were spread over both workers
    again, rerun = build(recipe, show_progress=False)  # everything committed: nothing to do
    assert rerun.skipped == TASKS * SAMPLES and rerun.done == 0 and len(again) == TASKS * SAMPLES


def test_cli_build_with_executor_flags_and_address(cluster, teacher_server, task_file, reference, tmp_path):
    recipe = recipe_file(tmp_path, task_file, teacher_server.base_url, executor={"kind": "local"})
    out = tmp_path / "cli"
    done = run_cli("build", str(recipe), "-o", str(out), "--executor", "ray", "--address", cluster.address,
                   "--actors", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "units retried: 0" in " ".join(done.stdout.split())  # the summary counts units
    assert contents(Dataset.open(out)) == contents(reference)


def test_eval_runs_on_ray_like_locally(cluster, teacher_server, task_file, tmp_path):
    import yaml

    from trajkit.evaluate import evaluate

    recipe = tmp_path / "eval.yaml"
    recipe.write_text(yaml.safe_dump({
        "model": {"backend": "openai", "base_url": teacher_server.base_url, "model": "scripted", "api_key_env": None},
        "benchmarks": [{"name": "arith", "tasks": {"source": str(task_file), "limit": 6}}],
        "agent": {"max_steps": 3},
        "tools": {"retriever": None},
        "output": str(tmp_path / "eval-local"),
        "executor": {"actors": 2, "unit_size": 2},
    }))
    local, _ = evaluate(recipe, show_progress=False)
    on_ray, stats = evaluate(recipe, output=str(tmp_path / "eval-ray"), executor="ray", show_progress=False)
    assert stats.units_done == 3
    assert contents(on_ray) == contents(local) and len(local) == 6
    assert {t.provenance.kind for t in on_ray.trajectories()} == {"student"}
