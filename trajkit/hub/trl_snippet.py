"""The dataset card's TRL recipe: train a student on the `sft` config exactly as `trajkit train` does.

The `sft` config holds messages with a `train` flag per message. The snippet renders each row
with the student's chat template, cuts the rendering at every assistant turn (as
`trajkit.sft.masks` does: each piece tokenized on its own, so the tokens before a turn are the
prompt the model continues at inference) and marks loss on the trained assistant turns and their
end-of-turn marker. TRL's `SFTTrainer` takes the pre-tokenized `input_ids` + `assistant_masks`
as they are (`assistant_masks` becomes the labels' mask; `assistant_only_loss` stays off, it would
need `{% generation %}` markers in the template and would put loss on every assistant turn).

`tests/hub/test_trl_snippet.py` runs the snippet's data preparation on an exported dataset and
checks its tokens and masks against `trajkit.sft.convert.to_examples`.
"""

from __future__ import annotations

STUDENT = "HuggingFaceTB/SmolLM2-135M-Instruct"
MAX_LENGTH = 2048

_SNIPPET = '''\
from datasets import load_dataset
from transformers import AutoTokenizer
from trl import SFTConfig, SFTTrainer

student = "{student}"
tokenizer = AutoTokenizer.from_pretrained(student)


def render(messages, generation_prompt=False):
    chat = [{{"role": m["role"], "content": m["content"]}} for m in messages]
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=generation_prompt)


def tokenize(row):
    """input_ids + assistant_masks: loss on the assistant turns marked `train`, and their end-of-turn token."""
    messages, input_ids, assistant_masks, position = row["messages"], [], [], 0
    full = render(messages)

    def add(text, loss):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        input_ids.extend(ids)
        assistant_masks.extend([int(loss)] * len(ids))

    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            start = len(render(messages[:i], generation_prompt=True))  # the prompt the model continues
            end = len(render(messages[: i + 1]).rstrip())  # the turn and its end-of-turn marker
            add(full[position:start], False)
            add(full[start:end], message["train"])
            position = end
    add(full[position:], False)
    return {{"input_ids": input_ids, "assistant_masks": assistant_masks}}


train = load_dataset("{repo_id}", "sft", split="{split}")
# as trajkit train: drop trajectories graded incorrect, and those without a turn that carries loss
train = train.filter(lambda row: row["correct"] is not False and any(m["train"] for m in row["messages"]))
train = train.map(tokenize, remove_columns=train.column_names)
train = train.filter(lambda row: len(row["input_ids"]) <= {max_length})  # trajkit train cuts them after the first steps that fit instead

trainer = SFTTrainer(
    model=student,
    processing_class=tokenizer,
    train_dataset=train,
    args=SFTConfig(output_dir="student", max_length={max_length}, learning_rate=1e-5, num_train_epochs=2),
)
trainer.train()'''


def trl_snippet(repo_id: str, split: str, *, student: str = STUDENT, max_length: int = MAX_LENGTH) -> str:
    """Python code that fine-tunes `student` on the `sft` config of `repo_id` with trajkit's loss masks."""
    return _SNIPPET.format(repo_id=repo_id, split=split, student=student, max_length=max_length)
