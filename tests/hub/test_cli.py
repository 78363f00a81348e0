"""The push / pull / export commands as a user runs them."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.hub.conftest import USER


def test_export_command(dataset, tmp_path):
    out = tmp_path / "export"
    run = run_cli("export", str(dataset.path), str(out), "--repo-id", "alice/runs", "--license", "mit")
    assert run.returncode == 0, run.stderr
    assert "export" in run.stdout and "train (14), test (4)" in run.stdout and "charts: 2" in run.stdout
    card = (out / "README.md").read_text()
    assert "license: mit" in card and 'load_dataset("alice/runs", "sft"' in card
    again = run_cli("export", str(dataset.path), str(out))
    assert again.returncode == 2
    assert again.stderr.startswith("error: ") and "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_export_bad_options(dataset, tmp_path):
    run = run_cli("export", str(dataset.path), str(tmp_path / "x"), "--config", "chat")
    assert run.returncode == 2 and "unknown config 'chat'" in run.stderr
    run = run_cli("export", str(dataset.path), str(tmp_path / "x"), "--repo-id", "not a repo")
    assert run.returncode == 2 and "invalid Hub repo id" in run.stderr
    run = run_cli("export", str(tmp_path / "nope"), str(tmp_path / "y"))
    assert run.returncode == 2 and "no such dataset" in run.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


@pytest.mark.server
def test_push_and_pull_commands(hub, dataset, tmp_path):
    repo = f"{USER}/cli"
    push = run_cli("push", str(dataset.path), repo, "--config", "trajectories", "-m", "first version", env=hub.env)
    assert push.returncode == 0, push.stderr
    assert f"repo: {repo}" in push.stdout and "uploaded: 5" in push.stdout
    head = hub.repo(repo).commits[hub.repo(repo).branches["main"]]
    assert head.summary == "first version"
    pull = run_cli("pull", repo, str(tmp_path / "pulled"), env=hub.env)
    assert pull.returncode == 0, pull.stderr
    assert "trajectories: 18" in pull.stdout
    missing = run_cli("pull", f"{USER}/missing", str(tmp_path / "other"), env=hub.env)
    assert missing.returncode == 2 and "not found" in missing.stderr and "Traceback" not in missing.stderr
    no_token = run_cli("push", str(dataset.path), repo, env={**hub.env, "HF_TOKEN": ""})
    assert no_token.returncode == 2 and "no Hugging Face token found" in no_token.stderr
    assert len(no_token.stderr.strip().splitlines()) == 1
