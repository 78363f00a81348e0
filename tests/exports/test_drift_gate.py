"""`trajkit export --format dpo|verl|tokens` refuses captured steps that drift from their training
rendering unless --allow-drift (real embedded SmolLM2 tokenizer, real CLI)."""

from __future__ import annotations

import pytest

from tests.exports.conftest import capture, trajectories
from trajkit.drift import DriftError
from trajkit.exports import export
from trajkit.store import Dataset


@pytest.fixture
def drifting(tmp_path, embedded_tokenizer):
    """The graded export dataset with tokens captured on every step; two trajectories drift."""
    rows = trajectories(candidates=False)
    kinds = {0: "retokenized", 1: "rendered_text", 2: "stop_only"}
    for i, traj in enumerate(rows):
        capture(traj, embedded_tokenizer, kinds.get(i))
    ds = Dataset.create(tmp_path / "captured", name="captured")
    ds.append(rows)
    return ds.path


def test_export_refuses_drifting_steps_in_one_line(drifting, tmp_path, cli):
    out = tmp_path / "dpo"
    result = cli("export", str(drifting), str(out), "--format", "dpo")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert "2 of 18 captured steps in 2 of 8 trajectories drift" in line
    assert "retokenized 1" in line and "rendered_text 1" in line
    assert "--allow-drift" in line and "trajkit filter SRC DST --preset token-exact" in line
    assert "Traceback" not in result.stderr and not out.exists()


def test_allow_drift_exports_with_a_warning(drifting, tmp_path, cli):
    out = tmp_path / "dpo"
    result = cli("export", str(drifting), str(out), "--format", "dpo", "--pairs", "task", "--allow-drift")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "2 of 18 captured steps in 2 of 8 trajectories drift" in warnings[0]
    assert (out / "train.jsonl").is_file() and "export dpo" in result.stdout


@pytest.mark.parametrize("fmt", ["verl", "tokens"])
def test_every_on_policy_format_is_gated(drifting, tmp_path, fmt):
    with pytest.raises(DriftError, match="2 of 8 trajectories drift"):
        export(fmt, str(drifting), str(tmp_path / fmt))
    assert not (tmp_path / fmt).exists()
    notes = []
    export(fmt, str(drifting), str(tmp_path / fmt), allow_drift=True, notify=notes.append)
    assert len(notes) == 1 and notes[0].startswith("warning:") and (tmp_path / fmt).is_dir()


def test_sft_formats_are_not_gated(drifting, tmp_path):
    notes = []
    export("llamafactory", str(drifting), str(tmp_path / "lf"), notify=notes.append)
    assert notes == []


def test_exact_tokens_export_without_a_word(tmp_path, embedded_tokenizer):
    rows = [capture(t, embedded_tokenizer, "stop_only" if i % 2 else None) for i, t in enumerate(trajectories(candidates=False))]
    ds = Dataset.create(tmp_path / "exact", name="exact")
    ds.append(rows)
    notes = []
    summary = export("tokens", str(ds.path), str(tmp_path / "tokens"), notify=notes.append)
    assert notes == [] and summary["steps"] == 18


def test_without_captured_tokens_dpo_exports_with_a_note(dataset, tmp_path, cli):
    out = tmp_path / "dpo"
    result = cli("export", str(dataset), str(out), "--format", "dpo")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(notes) == 1 and notes[0].startswith("note: token-exactness not checked"), result.stderr
    assert "capture_tokens: true" in notes[0] and (out / "train.jsonl").is_file()
