"""Trajectories to examples: the shared conversation, per-step loss control, truncation, exports."""

from __future__ import annotations

import pytest

from tests.factories import make_trajectory
from trajkit.agent.format import conversation, render_action
from trajkit.agent.observation import observation_text
from trajkit.schema import Step, StepError
from trajkit.sft.convert import (
    ConversionError,
    ConversionReport,
    ExampleOptions,
    messages_record,
    to_example,
    to_examples,
    tokens_record,
)
from trajkit.sft.masks import MaskError, masked_runs, prompt_ids
from trajkit.sft.synthetic import synthetic_trajectories
from trajkit.sft.train import weighted_rows

END = "<|im_end|>"


def _runs(tokenizer, example):
    return [
        tokenizer.decode(run, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        for run in masked_runs(example.input_ids, example.assistant_masks)
    ]


def _assistant_texts(example):
    return [m["content"] for m in example.messages if m["role"] == "assistant"]


def test_example_is_the_shared_conversation(tokenizer, student_prompt):
    traj = make_trajectory(3, n_steps=4)
    example = to_example(traj, tokenizer, student_prompt)
    assert example.messages == conversation(student_prompt, traj.task.question, traj.steps)
    assert example.messages[0] == {"role": "system", "content": student_prompt}
    assert example.messages[-1]["role"] == "assistant"  # ends with the final-answer step
    assert "final_answer(" in example.messages[-1]["content"]
    assert example.messages[2]["content"].startswith("Thought: ")
    assert example.messages[3] == {"role": "user", "content": observation_text(traj.steps[0])}
    assert _runs(tokenizer, example) == [t + END for t in _assistant_texts(example)]


def test_prompt_before_each_step_is_identical_to_inference(tokenizer, student_prompt):
    """The SFT tokens before step k equal the prompt the agent loop / eval gives the student
    after k steps: conversation(..., steps[:k]) rendered with add_generation_prompt."""
    for traj in [make_trajectory(5, n_steps=5, error_at=2), *synthetic_trajectories(6, seed=3)]:
        example = to_example(traj, tokenizer, student_prompt, ExampleOptions(failed="keep"))
        assistant_indices = [i for i, m in enumerate(example.messages) if m["role"] == "assistant"]
        for k, index in enumerate(assistant_indices):
            inference = prompt_ids(tokenizer, conversation(student_prompt, traj.task.question, traj.steps[:k]))
            assert example.input_ids[: example.turn_starts[index]] == inference


def test_train_flag_and_error_steps_control_the_loss(tokenizer, student_prompt):
    traj = make_trajectory(1, n_steps=4, error_at=1)
    traj.steps[2].train = False
    texts = [m["content"] for m in conversation(student_prompt, traj.task.question, traj.steps) if m["role"] == "assistant"]

    default = to_example(traj, tokenizer, student_prompt)
    assert _runs(tokenizer, default) == [texts[0] + END, texts[3] + END]

    with_errors = to_example(traj, tokenizer, student_prompt, ExampleOptions(exclude_error_steps=False))
    assert _runs(tokenizer, with_errors) == [texts[0] + END, texts[1] + END, texts[3] + END]
    # the tokens are the same either way: only the mask changes
    assert with_errors.input_ids == default.input_ids


def test_first_thought_prefix_can_be_excluded(tokenizer, student_prompt):
    traj = make_trajectory(2, n_steps=2)
    traj.steps[0].thought = "The city was founded long ago. I will search for the year."
    traj.steps[0].raw_output = render_action(traj.steps[0].thought, traj.steps[0].code)
    traj.steps[0].prefix = "Thought: The city was founded long ago."
    first = conversation(student_prompt, traj.task.question, traj.steps)[2]["content"]
    assert first.startswith(traj.steps[0].prefix)

    kept = to_example(traj, tokenizer, student_prompt)
    assert _runs(tokenizer, kept)[0] == first + END

    excluded = to_example(traj, tokenizer, student_prompt, ExampleOptions(exclude_prefix=True))
    assert _runs(tokenizer, excluded)[0] == first[len(traj.steps[0].prefix):] + END
    # a prefix stored without its "Thought:" label is found as well
    traj.steps[0].prefix = "The city was founded long ago."
    unlabeled = to_example(traj, tokenizer, student_prompt, ExampleOptions(exclude_prefix=True))
    assert _runs(tokenizer, unlabeled)[0] == first[len("Thought: The city was founded long ago."):] + END


def test_prefix_that_is_not_in_the_text_names_the_trajectory(tokenizer, student_prompt):
    traj = make_trajectory(2, n_steps=2)
    traj.steps[0].prefix = "Thought: something else entirely."
    with pytest.raises(ConversionError, match=traj.trajectory_id):
        to_example(traj, tokenizer, student_prompt, ExampleOptions(exclude_prefix=True))


def test_failed_trajectories_dropped_kept_or_weighted(tokenizer, student_prompt):
    trajectories = [make_trajectory(i, correct=i % 2 == 0) for i in range(40)]
    report = ConversionReport()
    dropped = list(to_examples(trajectories, tokenizer, student_prompt, report=report))
    assert len(dropped) == 20 and report.failed_dropped == 20
    kept = list(to_examples(trajectories, tokenizer, student_prompt, ExampleOptions(failed="keep")))
    assert len(kept) == 40 and {e.weight for e in kept} == {1.0}
    weighted = list(to_examples(trajectories, tokenizer, student_prompt, ExampleOptions(failed="weight", failed_weight=0.5)))
    assert sorted({e.weight for e in weighted}) == [0.5, 1.0]
    rows = weighted_rows(weighted, seed=0)
    failed_rows = [r for r in rows if r.weight == 0.5]
    assert 4 <= len(failed_rows) <= 16  # about half of the 20, chosen deterministically
    assert [r.trajectory_id for r in weighted_rows(weighted, seed=0)] == [r.trajectory_id for r in rows]
    doubled = list(to_examples(trajectories, tokenizer, student_prompt, ExampleOptions(failed="weight", failed_weight=2.0)))
    assert len(weighted_rows(doubled, seed=0)) == 20 + 2 * 20


def test_empty_mask_is_an_error_naming_the_trajectory(tokenizer, student_prompt):
    traj = make_trajectory(4, n_steps=3)
    for step in traj.steps:
        step.train = False
    with pytest.raises(MaskError, match=f"trajectory {traj.trajectory_id}.*empty loss mask"):
        list(to_examples([make_trajectory(1), traj], tokenizer, student_prompt))


def _long_trajectory():
    traj = make_trajectory(9, n_steps=6)
    for step in traj.steps[:-1]:
        step.observation = "Velmora archive entry. " * 60
    return traj


def test_long_examples_are_cut_after_the_first_steps_that_fit(tokenizer, student_prompt):
    traj = _long_trajectory()
    full = to_example(traj, tokenizer, student_prompt)
    report = ConversionReport()
    limit = len(full.input_ids) - 200
    (short,) = to_examples([traj], tokenizer, student_prompt, max_length=limit, report=report)
    assert len(short.input_ids) <= limit
    assert report.truncated == 1 and report.dropped_steps == short.dropped_steps >= 1
    kept = traj.steps[: len(traj.steps) - short.dropped_steps]
    # every kept turn sees exactly the history it had: a prefix of the conversation, never a gap
    assert short.messages == conversation(student_prompt, traj.task.question, kept)
    assert short.messages == full.messages[: len(short.messages)]
    assert "final_answer(" not in short.messages[-1]["content"]  # the loss stops where it is cut
    # masks stay exact: every kept assistant turn, whole
    assert _runs(tokenizer, short) == [t + END for t in _assistant_texts(short)]
    # as many steps as fit are kept
    one_more = to_example(traj.model_copy(update={"steps": traj.steps[: len(kept) + 1]}), tokenizer, student_prompt)
    assert len(one_more.input_ids) > limit


def test_truncation_drop_leaves_long_examples_out(tokenizer, student_prompt):
    traj = _long_trajectory()
    limit = len(to_example(traj, tokenizer, student_prompt).input_ids) - 200
    report = ConversionReport()
    options = ExampleOptions(truncation="drop")
    examples = list(to_examples([traj, make_trajectory(1)], tokenizer, student_prompt, options,
                                max_length=limit, report=report))
    assert [e.trajectory_id for e in examples] == [make_trajectory(1).trajectory_id]
    assert report.too_long == 1 and report.truncated == 0


def test_too_long_even_with_its_first_step_alone_is_left_out_and_counted(tokenizer, student_prompt):
    traj = make_trajectory(9, n_steps=3)
    traj.steps[0].observation = "Velmora archive entry. " * 200
    traj.steps[0].raw_output = "Thought: x\nCode:\n```py\n" + "print('Velmora')\n" * 80 + "```<end_code>"
    report = ConversionReport()
    assert list(to_examples([traj, make_trajectory(1)], tokenizer, student_prompt, max_length=300, report=report))
    assert report.too_long == 1 and report.examples == 1


def test_parse_error_steps_render_their_raw_output(tokenizer, student_prompt):
    traj = make_trajectory(6, n_steps=2)
    bad = Step(index=0, raw_output="I think the answer is 12.", error=StepError(type="parse_error", message="no code block found"))
    traj.steps = [bad, *traj.steps]
    example = to_example(traj, tokenizer, student_prompt, ExampleOptions(exclude_error_steps=False))
    assert example.messages[2]["content"] == "I think the answer is 12."
    assert _runs(tokenizer, example)[0] == "I think the answer is 12." + END


def test_export_records(tokenizer, student_prompt):
    traj = make_trajectory(2, n_steps=3, error_at=0)
    traj.steps[1].thought = "Now I search again. Then I answer."
    traj.steps[1].prefix = None
    example = to_example(traj, tokenizer, student_prompt)
    tokens = tokens_record(example)
    assert set(tokens) >= {"input_ids", "assistant_masks"}
    assert len(tokens["input_ids"]) == len(tokens["assistant_masks"]) == tokens["num_tokens"]
    assert tokens["num_loss_tokens"] == sum(tokens["assistant_masks"]) > 0

    record = messages_record(example)
    assistant = [m for m in record["messages"] if m["role"] == "assistant"]
    assert [m["train"] for m in assistant] == [False, True, True]
    assert [s["message"] for s in record["loss_spans"]] == [4, 6]
    assert all(s["start"] == 0 and s["end"] == len(record["messages"][s["message"]]["content"]) for s in record["loss_spans"])
    assert {t["function"]["name"] for t in record["tools"]} == {"search", "final_answer"}
