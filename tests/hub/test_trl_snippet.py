"""The dataset card's TRL snippet, run on an exported dataset up to the start of training: it must
build the tokens and loss masks `trajkit train` trains on, and TRL must turn them into labels."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_trajectory
from trajkit.hub.trl_snippet import STUDENT
from trajkit.store import Dataset

pytest.importorskip("trl")


def _snippet(card: str) -> str:
    section = card[card.index("Fine-tune a student with TRL"):]
    match = re.search(r"```python\n(.*?)\n```", section, re.DOTALL)
    assert match, "no python block after the TRL heading"
    return match.group(1)


def test_card_snippet_trains_on_trajkit_s_tokens_and_masks(tmp_path, monkeypatch):
    from trajkit.agent.prompts import load_prompt
    from trajkit.hub.repo_folder import export_dataset
    from trajkit.models.specs import hf_folder
    from trajkit.sft.convert import to_examples
    from trajkit.sft.synthetic import synthetic_trajectories

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))
    import datasets.config  # read once at import: an earlier test may have imported it already

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with_error = make_trajectory(2, n_steps=3, error_at=1)
    failed = make_trajectory(3, n_steps=2, correct=False)
    trajectories = [make_trajectory(1), with_error, failed, *synthetic_trajectories(3, seed=2)]
    for traj in trajectories:
        traj.task.split = "train"
    dataset = Dataset.create(tmp_path / "ds", name="tiny")
    dataset.append(trajectories)
    out = tmp_path / "hub"
    export_dataset(dataset, out, configs=["sft"], repo_id="alice/tiny")

    student = hf_folder("embedded")  # the embedded SmolLM2-135M-Instruct, converted once
    code = _snippet((out / "README.md").read_text())
    assert 'load_dataset("alice/tiny", "sft", split="train")' in code and code.endswith("trainer.train()")
    code = code.replace('"alice/tiny"', repr(str(out))).replace(repr(STUDENT).replace("'", '"'), repr(str(student)))
    code = code.removesuffix("trainer.train()")  # everything up to training itself
    code = code.replace("args=SFTConfig(", "args=SFTConfig(use_cpu=True, bf16=False, ")  # TRL defaults to bf16 on a GPU
    namespace: dict = {}
    exec(compile(code, "card-snippet", "exec"), namespace)

    tokenizer = namespace["tokenizer"]
    expected = list(to_examples(dataset.trajectories(), tokenizer, load_prompt("student").text))
    assert len(expected) == 5  # the failed trajectory is dropped by both
    got = namespace["train"]
    assert sorted(zip(got["input_ids"], got["assistant_masks"], strict=True)) == sorted(
        (e.input_ids, e.assistant_masks) for e in expected
    )
    prepared = namespace["trainer"].train_dataset  # TRL's own preparation: masks become labels
    want = sorted([t if m else -100 for t, m in zip(e.input_ids, e.assistant_masks, strict=True)] for e in expected)
    assert sorted(prepared["labels"]) == want
