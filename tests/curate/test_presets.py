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


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_selects_what_it_says(dataset, preset):
    ds, names = dataset
    assert preset in EXPECTED, f"add the expected selection of new preset {preset!r} to this test"
    assert PRESETS[preset].description and PRESETS[preset].name == preset
    rows = sql([ds.path], f"SELECT trajectory_id FROM trajectories WHERE {PRESETS[preset].where}")
    assert {names[i] for i in rows.column(0).to_pylist()} == EXPECTED[preset]
