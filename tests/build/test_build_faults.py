"""Builds through a real OpenAI-compatible HTTP server behind a fault-injecting proxy."""

import os

from tests.build.conftest import STEP_1, STEP_2, write_recipe
from trajkit.build import build
from trajkit.store import Dataset
from trajkit.teachers.fault_proxy import FaultPlan, FaultProxy
from trajkit.teachers.scripted_server import ScriptedServer
from trajkit.validate import validate_dataset

SECRET = "sk-test-DO-NOT-LEAK-8f3a2b"


def _teacher(base_url: str) -> dict:
    return {
        "backend": "openai",
        "base_url": base_url,
        "model": "scripted",
        "api_key_env": "TRAJKIT_TEST_KEY",
        "max_retries": 8,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "timeout_s": 2.0,
    }


def test_twenty_percent_faults_every_task_completes_and_no_secret_leaks(tmp_path, task_file, monkeypatch):
    monkeypatch.setenv("TRAJKIT_TEST_KEY", SECRET)
    plan = FaultPlan(rates={"429": 0.05, "500": 0.05, "reset": 0.05, "truncate": 0.05}, seed=3, retry_after_s=0.01)
    with ScriptedServer([STEP_1, STEP_2], api_key=SECRET) as server, FaultProxy(server.base_url, plan) as proxy:
        recipe = write_recipe(tmp_path, task_file, teacher=_teacher(proxy.base_url))
        dataset, stats = build(recipe, show_progress=False)
        injected = [f for f in proxy.faults() if f != "pass"]
    assert len(injected) >= 10, injected  # the faults really happened
    assert len(dataset) == 48 and validate_dataset(dataset) == 48
    statuses = {t.outcome.status for t in dataset.trajectories()}
    assert statuses == {"answered"}, statuses
    leaked = []
    for root, _, files in os.walk(dataset.path):
        for name in files:
            if SECRET.encode() in open(os.path.join(root, name), "rb").read():
                leaked.append(name)
    assert leaked == []
    assert "TRAJKIT_TEST_KEY" in (dataset.path / "recipe.yaml").read_text()


def test_unreachable_server_stores_teacher_errors_then_retry_failed(tmp_path, task_file, monkeypatch):
    monkeypatch.setenv("TRAJKIT_TEST_KEY", SECRET)
    dead = _teacher("http://127.0.0.1:9/v1") | {"max_retries": 1}
    recipe = write_recipe(tmp_path, task_file, teacher=dead)
    dataset, stats = build(recipe, limit=3, show_progress=False)
    assert stats.failed == 6
    assert {t.outcome.status for t in dataset.trajectories()} == {"teacher_error"}
    error = next(dataset.trajectories()).steps[-1].error
    assert error.type == "teacher_error"
    with ScriptedServer([STEP_1, STEP_2], api_key=SECRET) as server:
        recipe = write_recipe(tmp_path, task_file, teacher=dead | {"base_url": server.base_url})
        again, stats = build(recipe, limit=3, retry_failed=True, show_progress=False)
    assert stats.done == 6 and len(again) == 6
    assert {t.outcome.status for t in Dataset.open(again.path).trajectories()} == {"answered"}
