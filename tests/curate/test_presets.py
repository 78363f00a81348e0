"""Every filter preset selects exactly what its description says (real DuckDB views)."""

from __future__ import annotations

import pytest

from tests.curate.conftest import make_dataset
from tests.factories import make_trajectory
from trajkit.curate.presets import PRESETS
from trajkit.query import sql
from trajkit.schema import Outcome, Review, StepError, Usage


def build():
    def traj(i, *, correct=True, status="answered", steps=2, tokens=1000, error=None, label=None):
        t = make_trajectory(i, n_steps=steps, correct=correct)
        t.outcome = Outcome(status=status, final_answer="x", correct=correct)
        t.usage = Usage(total_tokens=tokens, steps=steps)
        if error:
            t.steps[0].error = StepError(type=error, message="boom")
        if label:
            t.review = Review(status="submitted", label=label, annotator="alice")
        return t

    return {
        "ok": traj(0),
        "wrong": traj(1, correct=False),
        "parse": traj(2, error="parse_error"),
        "exec": traj(3, error="execution_error"),
        "out_of_steps": traj(4, correct=None, status="max_steps", steps=5),
        "long": traj(5, steps=6, tokens=5000),
        "accepted": traj(6, label="accept"),
        "rejected": traj(7, label="reject"),
    }


EXPECTED = {
    "paper": {"ok", "exec", "long", "accepted", "rejected"},
    "correct": {"ok", "parse", "exec", "long", "accepted", "rejected"},
    "answered": {"ok", "wrong", "parse", "exec", "long", "accepted", "rejected"},
    "no-parse-errors": {"ok", "wrong", "exec", "out_of_steps", "long", "accepted", "rejected"},
    "no-exec-errors": {"ok", "wrong", "parse", "out_of_steps", "long", "accepted", "rejected"},
    "no-errors": {"ok", "wrong", "out_of_steps", "long", "accepted", "rejected"},
    "max-3-steps": {"ok", "wrong", "parse", "exec", "accepted", "rejected"},
    "max-2k-tokens": {"ok", "wrong", "parse", "exec", "out_of_steps", "accepted", "rejected"},
    "accepted": {"accepted"},
    "not-rejected": {"ok", "wrong", "parse", "exec", "out_of_steps", "long", "accepted"},
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    trajectories = build()
    ds = make_dataset(tmp_path_factory.mktemp("presets") / "ds", list(trajectories.values()))
    names = {t.trajectory_id: name for name, t in trajectories.items()}
    return ds, names


@pytest.mark.parametrize("preset", sorted(name for name, p in PRESETS.items() if p.where is not None))
def test_preset_selects_what_it_says(dataset, preset):
    ds, names = dataset
    assert preset in EXPECTED, f"add the expected selection of new preset {preset!r} to this test"
    assert PRESETS[preset].description and PRESETS[preset].name == preset
    rows = sql([ds.path], f"SELECT trajectory_id FROM trajectories WHERE {PRESETS[preset].where}")
    assert {names[i] for i in rows.column(0).to_pylist()} == EXPECTED[preset]


# ------------------------------------------------------------------ token-exact (computed, not SQL)


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    """Six trajectories: exact, stop string left out (not drift), two drifting, one rendered from
    thought and code, one without captured tokens."""
    from tests.exports.conftest import capture
    from tests.sft.conftest import load_embedded_tokenizer

    tokenizer = load_embedded_tokenizer()
    kinds = {"exact": None, "stop_only": "stop_only", "retokenized": "retokenized",
             "retokenized_too": "retokenized", "rendered_text": "rendered_text"}
    trajectories = {name: capture(make_trajectory(i, n_steps=2), tokenizer, kind) for i, (name, kind) in enumerate(kinds.items())}
    trajectories["uncaptured"] = make_trajectory(9, n_steps=2, correct=False)
    ds = make_dataset(tmp_path_factory.mktemp("captured") / "ds", list(trajectories.values()))
    return ds, {t.trajectory_id: name for name, t in trajectories.items()}


def test_token_exact_keeps_exact_trajectories_and_says_what_it_dropped(captured, tmp_path, cli):
    from trajkit.store import Dataset

    ds, names = captured
    out = tmp_path / "exact"
    result = cli("filter", str(ds.path), str(out), "--preset", "token-exact")
    assert result.returncode == 0, result.stderr
    kept = Dataset.open(out)
    assert {names[i] for i in kept.trajectory_ids()} == {"exact", "stop_only"}
    summary = " ".join(result.stdout.split())
    assert "kept: 2, of: 6" in summary
    assert "dropped by token-exact: 3 drifting (steps by kind: retokenized 2, rendered_text 1), 1 without captured tokens" in summary
    (lineage,) = kept.manifest.lineage[-1:]
    assert lineage.operation == "filter" and lineage.params["presets"] == ["token-exact"]
    assert lineage.params["token_exact"]["dropped_drifting"] == 3 and lineage.params["token_exact"]["tokenizer"] == "embedded"


def test_token_exact_combines_with_sql(captured, tmp_path):
    from trajkit.filters import filter_with_presets

    ds, names = captured
    result, dropped = filter_with_presets(ds.path, tmp_path / "out", "correct", ["token-exact"])
    assert {names[i] for i in result.trajectory_ids()} == {"exact", "stop_only"}
    assert dropped == {"dropped by token-exact": "3 drifting (steps by kind: retokenized 2, rendered_text 1)"}
    assert result.manifest.lineage[-1].sql == "(correct)"


def test_token_exact_refuses_a_dataset_without_captured_tokens(dataset, tmp_path, cli):
    ds, _ = dataset
    out = tmp_path / "out"
    result = cli("filter", str(ds.path), str(out), "--preset", "token-exact")
    assert result.returncode == 2 and not out.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no step of the 8 trajectories has captured token ids" in lines[0]
    assert "capture_tokens: true" in lines[0]


def test_token_exact_is_not_sql():
    from trajkit.errors import InputError
    from trajkit.filters import combine_predicates

    with pytest.raises(InputError, match="not a SQL predicate"):
        combine_predicates(None, ["paper", "token-exact"])
