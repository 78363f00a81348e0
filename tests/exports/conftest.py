"""Datasets for the export tests: graded trajectories of shared tasks, with SAG candidates."""

from __future__ import annotations

import pytest

from tests.factories import make_trajectory
from trajkit.schema import Candidate, StepError
from trajkit.store import Dataset


def with_failed_candidates(traj):
    """Give every step SAG candidates: the selected one ran, one failed to parse, one raised."""
    for step in traj.steps:
        step.candidates = [
            Candidate(index=0, raw_output=step.raw_output, thought=step.thought, code=step.code,
                      parse_ok=True, exec_ok=True, output=step.observation, selected=True, votes=2),
            Candidate(index=1, raw_output="I think the answer is 7", parse_ok=False,
                      error=StepError(type="parse_error", message="no code block found")),
            Candidate(index=2, raw_output="Thought: divide\nCode:\n```py\nprint(1/0)\n```", thought="divide",
                      code="print(1/0)", parse_ok=True, exec_ok=False,
                      error=StepError(type="execution_error", message="division by zero", exception="ZeroDivisionError")),
        ]
    return traj


def trajectories(*, candidates: bool = True, incorrect: bool = True):
    rows = []
    for i in range(4):
        split = "test" if i == 3 else "train"
        good = make_trajectory(i, n_steps=2 + i % 2, correct=True, split=split)
        rows.append(with_failed_candidates(good) if candidates else good)
        if incorrect:
            rows.append(make_trajectory(i, n_steps=2, correct=False, sample_index=1, split=split, error_at=0))
    return rows


@pytest.fixture
def dataset(tmp_path):
    ds = Dataset.create(tmp_path / "ds", name="graded")
    ds.append(trajectories())
    return ds.path


@pytest.fixture
def plain_dataset(tmp_path):
    """All correct, no SAG candidates: nothing to build preference pairs from."""
    ds = Dataset.create(tmp_path / "plain", name="plain")
    ds.append(trajectories(candidates=False, incorrect=False))
    return ds.path


@pytest.fixture(scope="session")
def embedded_tokenizer():
    from tests.sft.conftest import load_embedded_tokenizer

    return load_embedded_tokenizer()


def capture(traj, tokenizer, drift: str | None = None):
    """Give every step the token ids the model 'produced' (its raw output, tokenized canonically),
    as a build with `capture_tokens: true` stores them. `drift` changes the first step:
    `retokenized` splits its first token into characters (same text, other ids),
    `rendered_text` drops its raw text (the turn is rebuilt from thought and code),
    `stop_only` leaves out the stop string's tokens, as llama.cpp's server does (not drift)."""
    for step in traj.steps:
        text = step.raw_output.removesuffix("<end_code>") if drift == "stop_only" else step.raw_output
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if step.index == 0 and drift == "retokenized":
            ids = [tokenizer.convert_tokens_to_ids(c) for c in tokenizer.decode(ids[:1])] + ids[1:]
        if step.index == 0 and drift == "rendered_text":
            step.raw_output = ""
        step.token_ids = ids
        step.logprobs = [-0.5] * len(ids)
    return traj
