"""Loss masks are exact for three chat template families, proven by decoding the masked tokens."""

from __future__ import annotations

import pytest

from tests.factories import make_trajectory
from trajkit.agent.format import conversation
from trajkit.sft.masks import (
    LossTurn,
    MaskError,
    TemplateError,
    assistant_spans,
    masked_runs,
    prompt_ids,
    render,
    tokenize_with_masks,
)

STYLES = ["chatml", "llama3", "gemma"]


def _decode(tokenizer, ids):
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def _messages(student_prompt, n_steps=3, error_at=None):
    traj = make_trajectory(7, n_steps=n_steps, error_at=error_at)
    return traj, conversation(student_prompt, traj.task.question, traj.steps)


@pytest.mark.parametrize("style", STYLES)
def test_masked_tokens_decode_to_exactly_the_assistant_turns(template_styles, student_prompt, style):
    tokenizer, template, marker = template_styles[style]
    _, messages = _messages(student_prompt)
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    chat = tokenize_with_masks(tokenizer, messages, [LossTurn(i) for i in assistants], chat_template=template)

    runs = [_decode(tokenizer, run) for run in masked_runs(chat.input_ids, chat.assistant_masks)]
    assert runs == [messages[i]["content"] + marker for i in assistants]
    # the end-of-turn marker is one special token and carries loss: the model learns to stop
    marker_id = tokenizer.convert_tokens_to_ids(marker)
    for run in masked_runs(chat.input_ids, chat.assistant_masks):
        assert run[-1] == marker_id
    # everything together is the template's own rendering, token for token in text
    assert _decode(tokenizer, chat.input_ids) == render(tokenizer, messages, chat_template=template)
    # and nothing that is not assistant text is masked in: the unmasked tokens hold every other turn
    unmasked = _decode(tokenizer, [t for t, m in zip(chat.input_ids, chat.assistant_masks, strict=True) if not m])
    for message in messages:
        if message["role"] != "assistant":
            assert message["content"].strip() in unmasked
    assert "I need step" not in unmasked and "final_answer(1814)" not in unmasked


@pytest.mark.parametrize("style", STYLES)
def test_only_the_chosen_turns_and_characters_carry_loss(template_styles, student_prompt, style):
    tokenizer, template, marker = template_styles[style]
    _, messages = _messages(student_prompt, n_steps=4)
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    skip = len("Thought: I need step 0")
    turns = [LossTurn(assistants[0], skip_chars=skip), LossTurn(assistants[2])]
    chat = tokenize_with_masks(tokenizer, messages, turns, chat_template=template)
    runs = [_decode(tokenizer, run) for run in masked_runs(chat.input_ids, chat.assistant_masks)]
    assert runs == [
        messages[assistants[0]]["content"][skip:] + marker,
        messages[assistants[2]]["content"] + marker,
    ]


@pytest.mark.parametrize("style", ["chatml", "gemma"])
def test_tokens_before_each_turn_are_the_inference_prompt(template_styles, student_prompt, style):
    tokenizer, template, _ = template_styles[style]
    traj, messages = _messages(student_prompt, n_steps=4)
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    chat = tokenize_with_masks(tokenizer, messages, [LossTurn(i) for i in assistants], chat_template=template)
    for k, index in enumerate(assistants):
        history = conversation(student_prompt, traj.task.question, traj.steps[:k])
        assert history == messages[:index]
        expected = prompt_ids(tokenizer, history, chat_template=template)
        assert chat.input_ids[: chat.turn_starts[index]] == expected


def test_llama3_first_prompt_matches_inference(template_styles, student_prompt):
    # With the embedded (GPT-2 style) tokenizer, "\n\n" before later assistant texts splits
    # differently in one long string than at the end of a prompt; real Llama-3 tokenizers
    # do not. The first turn's prompt has no earlier assistant text and must match.
    tokenizer, template, _ = template_styles["llama3"]
    traj, messages = _messages(student_prompt)
    chat = tokenize_with_masks(tokenizer, messages, [LossTurn(2)], chat_template=template)
    assert chat.input_ids[: chat.turn_starts[2]] == prompt_ids(tokenizer, messages[:2], chat_template=template)


def test_trimming_template_masks_the_trimmed_text(template_styles):
    tokenizer, template, marker = template_styles["gemma"]
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "  Thought: padded.\n"},
        {"role": "user", "content": "Observation:\nok"},
        {"role": "assistant", "content": "Thought: done."},
    ]
    chat = tokenize_with_masks(tokenizer, messages, [LossTurn(1), LossTurn(3)], chat_template=template)
    runs = [_decode(tokenizer, run) for run in masked_runs(chat.input_ids, chat.assistant_masks)]
    assert runs == ["Thought: padded." + marker, "Thought: done." + marker]


def test_template_that_changes_assistant_text_is_refused(tokenizer, student_prompt):
    upper = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | upper }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    _, messages = _messages(student_prompt)
    with pytest.raises(TemplateError, match="changes the text of assistant message 2"):
        tokenize_with_masks(tokenizer, messages, [LossTurn(2)], chat_template=upper)


def test_template_without_end_of_turn_marker_is_refused(tokenizer, student_prompt):
    bare = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
    _, messages = _messages(student_prompt)
    with pytest.raises(TemplateError, match="no end-of-turn marker"):
        tokenize_with_masks(tokenizer, messages, [LossTurn(2)], chat_template=bare)


def test_template_that_rewrites_history_is_refused(tokenizer, student_prompt):
    # like reasoning-model templates that drop earlier thoughts: the prefix renderings are not
    # prefixes of the full rendering, so no exact mask exists
    rewriting = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['role'] == 'assistant' and not loop.last %}{{ m['content'].split('Code:')[-1] }}"
        "{% else %}{{ m['content'] }}{% endif %}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    _, messages = _messages(student_prompt)
    with pytest.raises(TemplateError, match="continuation"):
        assistant_spans(tokenizer, messages, chat_template=rewriting)


def test_no_loss_turn_is_an_error(tokenizer, student_prompt):
    _, messages = _messages(student_prompt)
    with pytest.raises(MaskError, match="empty loss mask"):
        tokenize_with_masks(tokenizer, messages, [], where="trajectory abc")
    whole = len(messages[2]["content"])
    with pytest.raises(MaskError, match="trajectory abc"):
        tokenize_with_masks(tokenizer, messages, [LossTurn(2, skip_chars=whole)], where="trajectory abc")


def test_masks_cover_no_system_task_or_observation_token(tokenizer, student_prompt):
    _, messages = _messages(student_prompt, n_steps=3, error_at=1)
    chat = tokenize_with_masks(tokenizer, messages, [LossTurn(2), LossTurn(4), LossTurn(6)])
    spans = assistant_spans(tokenizer, messages)[1]
    text = render(tokenizer, messages)
    # map each token back to its characters: masked tokens fall only inside assistant spans
    position = 0
    for token, bit in zip(chat.input_ids, chat.assistant_masks, strict=True):
        piece = _decode(tokenizer, [token])
        assert text.startswith(piece, position)
        inside = any(s.start <= position and position + len(piece) <= s.end for s in spans)
        assert bool(bit) == inside, (piece, bit)
        position += len(piece)
    assert position == len(text)
