"""Token drift check: captured completion tokens vs the rendered, re-tokenized SFT turn."""

from __future__ import annotations

import pytest

from tests.factories import make_trajectory
from trajkit.agent.format import render_action
from trajkit.agent.prompts import load_prompt
from trajkit.drift import check_drift


@pytest.fixture(scope="module")
def tokenizer():
    from tests.sft.conftest import load_embedded_tokenizer

    return load_embedded_tokenizer()


def _captured(tokenizer, *, mangle=None):
    """A trajectory whose steps carry the tokens the model 'produced': the step's own text
    (Thought + Code, ending with the stop string) tokenized canonically, unless mangled."""
    traj = make_trajectory(0, n_steps=3, correct=True)
    for step in traj.steps:
        produced = render_action(step.thought, step.code)  # ends with ```<end_code>
        step.raw_output = produced  # the loop stores what the model wrote, the stop string included
        ids = tokenizer(produced, add_special_tokens=False)["input_ids"]
        step.token_ids = mangle(step, ids) if mangle else ids
        step.logprobs = [-0.5] * len(step.token_ids)
    return traj


def _check(tokenizer, trajs):
    return check_drift(trajs, tokenizer, system_prompt=load_prompt("student").text)


def test_canonical_tokens_do_not_drift(tokenizer):
    report = _check(tokenizer, [_captured(tokenizer), make_trajectory(1)])
    assert report.trajectories == 1 and report.steps == 3  # the one without tokens is not checked
    assert report.drifted_steps == 0 and report.drifted_trajectories == 0 and report.stop_only == 0


def test_stop_string_left_out_by_the_server_is_not_drift(tokenizer):
    def without_stop(step, ids):  # llama.cpp's server leaves the stop string's tokens out
        return tokenizer(step.raw_output.removesuffix("<end_code>"), add_special_tokens=False)["input_ids"]

    report = _check(tokenizer, [_captured(tokenizer, mangle=without_stop)])
    assert report.stop_only == 3 and report.drifted_steps == 0


def test_non_canonical_tokenization_is_retokenized_drift(tokenizer):
    def split_first_word(step, ids):
        if step.index != 1:
            return ids
        first = tokenizer.decode(ids[:1])  # "Th"
        pieces = [tokenizer.convert_tokens_to_ids(c) for c in first]  # "T", "h": same text
        assert len(pieces) == 2 and tokenizer.decode(pieces) == first
        return pieces + ids[1:]

    report = _check(tokenizer, [_captured(tokenizer, mangle=split_first_word)])
    assert report.drifted_steps == 1 and report.drifted_trajectories == 1
    (drift,) = report.examples
    assert drift.kind == "retokenized" and drift.step == 1 and drift.token == 0
    assert report.row()["by_step"] == "1: 1"


def test_the_turn_is_trained_as_the_model_wrote_it(tokenizer):
    traj = _captured(tokenizer)
    step = traj.steps[0]
    # extra spaces and no blank-stripping: the old renderer normalised these away (drift)
    text = f"Thought:   {step.thought}\nCode:\n```py\n{step.code}\n```<end_code>"
    step.raw_output = text
    step.token_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    report = _check(tokenizer, [traj])
    assert report.drifted_steps == 0 and report.stop_only == 0


def test_a_step_rebuilt_from_thought_and_code_is_reported(tokenizer):
    traj = _captured(tokenizer)
    step = traj.steps[0]
    step.raw_output = ""  # an import that kept no raw text: the turn is rendered canonically
    text = f"Thought:   {step.thought}\nCode:\n```py\n{step.code}\n```<end_code>"
    step.token_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    report = _check(tokenizer, [traj])
    assert report.drifted_steps == 1 and report.kinds["rendered_text"] == 1
    drift = report.examples[0]
    assert drift.step == 0 and 0 < drift.token < 6  # "Thought:" agrees; then the spaces differ
    assert drift.produced.startswith(" ")


def test_stats_and_card_report_the_drift(tokenizer, tmp_path, cli):
    from trajkit.hub.repo_folder import export_dataset
    from trajkit.store import Dataset

    def split_first(step, ids):
        return [tokenizer.convert_tokens_to_ids(c) for c in tokenizer.decode(ids[:1])] + ids[1:]

    ds = Dataset.create(tmp_path / "ds", name="captured")
    ds.append([_captured(tokenizer), _captured(tokenizer, mangle=split_first).model_copy(
        update={"trajectory_id": "t-drift"})])
    result = cli("stats", str(ds.path))
    assert result.returncode == 0, result.stderr
    assert "Token drift" in result.stdout, result.stdout[-3000:]
    export_dataset(ds.path, tmp_path / "hub", configs=["trajectories"])
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "### Token drift" in card
    assert "except in **1 trajectories (3 steps)**" in card
    assert "Drifting steps by step index: 0: 1, 1: 1, 2: 1" in card


def test_no_captured_tokens_no_drift_section(tmp_path, cli):
    from trajkit.store import Dataset

    ds = Dataset.create(tmp_path / "ds")
    ds.append([make_trajectory(0)])
    result = cli("stats", str(ds.path))
    assert result.returncode == 0 and "Token drift" not in result.stdout


def test_a_turn_ended_by_the_model_matches_the_rendered_end_of_turn(tokenizer):
    """llama.cpp returns the end-of-turn token the model sampled; it is the rendering's marker."""
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")

    def with_end_of_turn(step, ids):
        return ids + [end]

    assert _check(tokenizer, [_captured(tokenizer, mangle=with_end_of_turn)]).drifted_steps == 0

    # wrote the code block, then ended the turn itself: the loop stores no <end_code> (it was
    # never written), so the rendering is the model's text and its end-of-turn token, exactly
    traj = _captured(tokenizer)
    for step in traj.steps:
        step.raw_output = step.raw_output.removesuffix("<end_code>")
        step.token_ids = tokenizer(step.raw_output, add_special_tokens=False)["input_ids"] + [end]
    report = _check(tokenizer, [traj])
    assert report.steps == 3 and report.drifted_steps == 0 and report.stop_only == 0



def test_a_trajectory_the_conversion_refuses_is_reported_not_raised(tokenizer):
    import copy

    rewriting = copy.deepcopy(tokenizer)  # a template that drops every assistant turn's text
    rewriting.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n"
        "{% if m.role != 'assistant' %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    report = _check(rewriting, [_captured(tokenizer)])
    assert report.kinds["unrenderable"] == 3 and report.drifted_trajectories == 1


def test_a_split_the_stop_string_hides_is_stop_boundary_not_stop_only(tokenizer):
    """llama.cpp returns no tokens of the stop string; where the model's last tokens before it
    merge with it in the canonical tokenization (" " + "<end_code>"), the split is reported."""
    traj = _captured(tokenizer)
    step = traj.steps[0]
    core = step.raw_output.removesuffix("<end_code>") + " "  # the model wrote a space, then stopped
    step.raw_output = core + "<end_code>"
    step.token_ids = tokenizer(core, add_special_tokens=False)["input_ids"]
    report = _check(tokenizer, [traj])
    assert report.kinds["stop_boundary"] == 1 and report.drifted_steps == 1
    assert report.row()["stop_boundary"] == 1
