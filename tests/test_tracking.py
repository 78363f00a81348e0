"""`--report-to trackio`: build, eval and train log into trackio's local folder, with the
dataset fingerprint as the run's config (read back with trackio's own storage API)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.build.conftest import write_recipe
from tests.test_evaluate import _recipe as eval_recipe

pytest.importorskip("trackio")

READ = """
import json, sys
from trackio.sqlite_storage import SQLiteStorage as S
project = sys.argv[1]
runs = S.get_runs(project)
print(json.dumps({run: {"config": S.get_run_config(project, run), "logs": S.get_logs(project, run)} for run in runs}, default=str))
"""


@pytest.fixture
def task_file(tmp_path):
    """The build tests' task file: six-times-seven variants, every third answer wrong."""
    path = tmp_path / "tasks.jsonl"
    rows = [{"id": f"q{i}", "question": f"What is six times seven (variant {i})?", "answer": "42" if i % 3 else "41"}
            for i in range(24)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_trackio(folder) -> dict:
    out = subprocess.run([sys.executable, "-c", READ, "trajkit"], env={"TRACKIO_DIR": str(folder), "PATH": ""},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_build_and_eval_report_to_trackio(tmp_path, task_file, cli):
    from trajkit.store import Dataset

    env = {"TRACKIO_DIR": str(tmp_path / "trackio")}
    recipe = write_recipe(tmp_path, task_file, extra={"samples_per_task": 1})
    result = cli("build", str(recipe), "--limit", "6", "--report-to", "trackio", env=env)
    assert result.returncode == 0, result.stderr
    evaluated = cli("eval", str(eval_recipe(tmp_path)), "--report-to", "trackio", env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    runs = read_trackio(tmp_path / "trackio")
    build = runs["build-out"]
    dataset = Dataset.open(tmp_path / "out")
    assert build["config"]["dataset_fingerprint"] == dataset.manifest.fingerprint
    assert build["config"]["rows"] == 6
    (logged,) = build["logs"]
    assert logged["trajectories"] == 6 and logged["accuracy"] == pytest.approx(4 / 6, abs=1e-3)
    assert "error_rate/none" in logged and logged["run/trajectories"] == 6
    (eval_run,) = [v for k, v in runs.items() if k.startswith("eval-")]
    assert eval_run["config"]["command"] == "eval"
    assert eval_run["logs"][0]["arith/accuracy"] == pytest.approx(round(4 / 6, 4))


def test_train_result_reported_with_its_fingerprints(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKIO_DIR", str(tmp_path / "trackio"))
    script = f"""
import sys; sys.path.insert(0, {str(tmp_path)!r})
from pathlib import Path
from trajkit.sft.convert import ConversionReport
from trajkit.sft.train import TrainResult
from trajkit.tracking import report_train
result = TrainResult(Path("run-1"), ConversionReport(), "datafp", "examplesfp",
                     metrics={{"train_loss": 1.5, "train_runtime": 9.0, "step_times": [1.0]}},
                     loss_curve=[{{"step": 1, "loss": 2.0}}, {{"step": 2, "loss": 1.0}}])
report_train("trackio", result, "sft-demo")
"""
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                   env={"TRACKIO_DIR": str(tmp_path / "trackio"), "PATH": ""}, cwd="/work/main")
    run = read_trackio(tmp_path / "trackio")["train-run-1"]
    assert run["config"]["data_fingerprint"] == "datafp" and run["config"]["recipe"] == "sft-demo"
    losses = [(log["step"], log["train/loss"]) for log in run["logs"] if "train/loss" in log]
    assert losses == [(1, 2.0), (2, 1.0)]
    assert any(log.get("final/train_loss") == 1.5 for log in run["logs"])


def test_unknown_tracker_is_one_line(tmp_path, task_file, cli):
    recipe = write_recipe(tmp_path, task_file)
    result = cli("build", str(recipe), "--report-to", "mlflow")
    assert result.returncode == 2 and "unknown tracker 'mlflow'" in result.stderr + result.stdout
    assert not (tmp_path / "out").exists()


def test_wandb_missing_is_one_line_with_the_fix():
    import importlib.util

    from trajkit.errors import TrajkitError
    from trajkit.tracking import check

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    with pytest.raises(TrajkitError, match="pip install wandb"):
        check("wandb")
    assert check("none") == "none" and check("TRACKIO") == "trackio"
