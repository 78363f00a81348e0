"""Trajectories to training examples: the student's conversation plus exact loss masks.

The conversation is `trajkit.agent.format.conversation` — the very function the agent loop and
the evaluation harness build the student's prompts with — so a model is trained on exactly the
history it will see at inference: the student system prompt, the task, then per step an
assistant turn (Thought + Code, the format the agent loop parses) and the observation turn,
ending with the final-answer step.

Which assistant turns carry loss is decided here, per step:

- `step.train == False` never carries loss;
- steps that ended in an error carry none when `exclude_error_steps`;
- the first-thought prefix (`step.prefix`, injected into the first assistant turn by the
  teacher) carries none when `exclude_prefix`;
- failed trajectories (`outcome.correct is False`) are dropped, kept, or kept with a sampling
  weight (`failed`, `failed_weight`).

Too-long examples (`max_length`) never train a turn on a history the model did not see
(`truncation`): `cut_end` (the default) keeps the longest run of first steps that fits, whole
turns only, so the loss stops where the example ends; `drop` leaves the example out. Both
counts are in the conversion report (`truncated`, `too_long`), `trajkit train`'s summary and the
model card.

CoT trajectories (`trajkit build` with `mode: cot`) are converted with `mode="cot"`: the
conversation is `trajkit.agent.cot.cot_conversation` — the `cot` system prompt and the task
exactly as `run_cot` (and so `trajkit eval` with `mode: cot`) sends them, then the teacher's
reasoning ending with its `Final answer: X` line as the one assistant turn, which carries the
loss. One run trains on one kind: `examples.system_prompt: auto` (the default) picks `student`
for agent data and `cot` for CoT data (`system_prompt_name`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trajkit.agent.cot import COT_PROMPT, cot_conversation
from trajkit.agent.format import THOUGHT, conversation
from trajkit.errors import ConfigError, TrajkitError
from trajkit.schema import Trajectory
from trajkit.sft.masks import LossTurn, Plan, plan, tokenize_plans
from trajkit.tools.spec import CODE_FUNCTIONS

FailedPolicy = Literal["drop", "keep", "weight"]
Truncation = Literal["cut_end", "drop"]
Mode = Literal["agent", "cot"]
AUTO = "auto"
STUDENT_PROMPT = "student"
# the prompt each kind of data is trained with under `system_prompt: auto`; a known prompt of
# the other kind is refused (a CoT student with the agent prompt would be evaluated wrongly)
_PROMPT_FOR = {"agent": STUDENT_PROMPT, "cot": COT_PROMPT}
_KIND_OF_PROMPT = {STUDENT_PROMPT: "agent", "teacher": "agent", COT_PROMPT: "cot"}


class ConversionError(TrajkitError):
    """A trajectory cannot be turned into a training example."""


class ExampleOptions(BaseModel):
    """How trajectories become training examples (the recipe's `examples:` section)."""

    model_config = ConfigDict(extra="forbid")

    system_prompt: str = Field(
        AUTO,
        description="prompt template name (trajkit/prompts/<name>.j2); auto: student for agent data, cot for CoT data",
    )
    exclude_prefix: bool = Field(False, description="no loss on the first-thought prefix text")
    exclude_error_steps: bool = Field(True, description="no loss on steps that ended in an error")
    failed: FailedPolicy = Field("drop", description="trajectories graded incorrect: drop, keep or weight")
    failed_weight: float = Field(0.5, ge=0, description="copies per epoch of a failed trajectory when failed=weight")
    truncation: Truncation = Field(
        "cut_end",
        description="examples over max_length: cut_end keeps the first steps that fit (the loss stops "
        "there), drop leaves them out; never a turn trained on a history the model did not see",
    )


def system_prompt_name(requested: str, mode: Mode) -> str:
    """The prompt template a run on `mode` data trains with (`examples.system_prompt`)."""
    if requested == AUTO:
        return _PROMPT_FOR[mode]
    kind = _KIND_OF_PROMPT.get(requested)
    if kind is not None and kind != mode:
        what = "CoT answers" if mode == "cot" else "agent trajectories"
        raise ConfigError(
            f"examples.system_prompt: {requested} is a prompt for {kind} data, but the data are {what}",
            where="examples.system_prompt",
            fix=f"set examples.system_prompt: auto (or {_PROMPT_FOR[mode]}); "
            "trajkit eval then needs mode: " + mode,
        )
    return requested


@dataclass
class Example:
    trajectory_id: str
    messages: list[dict]
    input_ids: list[int]
    assistant_masks: list[int]
    loss_turns: list[LossTurn]
    weight: float = 1.0
    dropped_steps: int = 0  # last steps removed to fit max_length (truncation: cut_end)
    turn_starts: dict[int, int] = field(default_factory=dict)
    mode: Mode = "agent"

    @property
    def loss_tokens(self) -> int:
        return sum(self.assistant_masks)


@dataclass
class ConversionReport:
    trajectories: int = 0
    examples: int = 0
    failed_dropped: int = 0
    failed_kept: int = 0
    truncated: int = 0  # examples cut after their first steps to fit max_length (truncation: cut_end)
    dropped_steps: int = 0  # steps those examples lost at their end
    too_long: int = 0  # left out: over max_length with truncation: drop, or even the first step too long
    tokens: int = 0
    loss_tokens: int = 0
    longest: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# ---------------------------------------------------------------------- conversation


def student_messages(traj: Trajectory, system_prompt: str, steps=None, mode: Mode = "agent") -> list[dict]:
    """The chat the student sees for a trajectory (all steps, or the given ones)."""
    steps = traj.steps if steps is None else steps
    if mode == "cot":
        if len(steps) != 1 or steps[0].code or steps[0].tool_calls:
            raise ConversionError(
                f"not a CoT answer ({len(steps)} steps, code or tool calls) in a CoT training run",
                where=f"trajectory {traj.trajectory_id}",
                fix="train CoT and agent trajectories in separate runs",
            )
        return cot_conversation(system_prompt, traj.task.question, steps)
    return conversation(system_prompt, traj.task.question, steps)


def loss_turns(traj: Trajectory, messages: Sequence[dict], steps, options: ExampleOptions) -> list[LossTurn]:
    """Which assistant messages carry loss, and how much of the first one's prefix to skip."""
    assistant_indices = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if len(assistant_indices) != len(steps):
        raise ConversionError(
            f"{len(steps)} steps rendered as {len(assistant_indices)} assistant turns",
            where=f"trajectory {traj.trajectory_id}",
        )
    turns = []
    for message_index, step in zip(assistant_indices, steps, strict=True):
        if not step.train:
            continue
        if options.exclude_error_steps and step.error is not None:
            continue
        skip = 0
        if options.exclude_prefix and step.prefix:
            skip = _prefix_length(messages[message_index]["content"], step.prefix, traj, step.index)
        turns.append(LossTurn(message_index, skip))
    return turns


def with_loss_flags(messages: Sequence[dict], turns: Sequence[LossTurn]) -> list[dict]:
    """`messages` as `{role, content, train}`: `train` is whether the message carries loss.

    Only assistant messages can; a turn whose first-thought prefix is excluded (`skip_chars`)
    is still `train: true` (its loss starts after the prefix, see `messages_record`).
    """
    trained = {turn.message_index for turn in turns}
    return [
        {"role": message["role"], "content": message["content"], "train": index in trained}
        for index, message in enumerate(messages)
    ]


def _prefix_length(text: str, prefix: str, traj: Trajectory, step_index: int) -> int:
    """Length of the first-thought prefix at the start of an assistant turn's text."""
    core = prefix.strip()
    if core.startswith(THOUGHT):
        core = core[len(THOUGHT):].strip()
    for candidate in (prefix, prefix.rstrip(), f"{THOUGHT} {core}", core):
        if candidate and text.startswith(candidate):
            return len(candidate)
    raise ConversionError(
        f"the first-thought prefix of step {step_index} is not at the start of its assistant text",
        where=f"trajectory {traj.trajectory_id}",
        fix="the stored step.prefix must be the text the turn starts with; or set exclude_prefix: false",
    )


# ------------------------------------------------------------------------ conversion


def example_weight(traj: Trajectory, options: ExampleOptions) -> float | None:
    """The sampling weight of a trajectory's example; None when it is dropped."""
    if traj.outcome.correct is False:
        if options.failed == "drop":
            return None
        if options.failed == "weight":
            return options.failed_weight or None
    return 1.0


def _plan_for(traj: Trajectory, steps, system_prompt: str, options: ExampleOptions, tokenizer,
              chat_template: str | None, mode: Mode = "agent") -> tuple[list[dict], list[LossTurn], Plan]:
    messages = student_messages(traj, system_prompt, steps, mode)
    turns = loss_turns(traj, messages, steps, options)
    where = f"trajectory {traj.trajectory_id}"
    return messages, turns, plan(tokenizer, messages, turns, chat_template=chat_template, where=where)


def to_examples(
    trajectories: Iterable[Trajectory],
    tokenizer,
    system_prompt: str,
    options: ExampleOptions | None = None,
    *,
    max_length: int | None = None,
    chat_template: str | None = None,
    report: ConversionReport | None = None,
    batch_size: int = 256,
    mode: Mode = "agent",
) -> Iterator[Example]:
    """Training examples of trajectories, batched for the tokenizer; fills `report`.

    `mode` is the kind of trajectories: `agent` (the CodeAct conversation) or `cot` (one
    CoT answer each, `cot_conversation`); `trajkit.sft.data.training_mode` tells them apart.

    Examples longer than `max_length` tokens are cut after the first steps that fit
    (`options.truncation: cut_end`) or left out (`drop`, and any whose first step alone is too
    long: `report.too_long`).

    Raises `MaskError` / `ConversionError` naming the trajectory for an example whose mask
    would be empty or inexact.
    """
    options = options or ExampleOptions()
    report = report if report is not None else ConversionReport()
    batch: list[tuple[Trajectory, float]] = []
    for traj in trajectories:
        report.trajectories += 1
        weight = example_weight(traj, options)
        if weight is None:
            report.failed_dropped += 1
            continue
        if traj.outcome.correct is False:
            report.failed_kept += 1
        batch.append((traj, weight))
        if len(batch) >= batch_size:
            yield from _convert_batch(batch, tokenizer, system_prompt, options, max_length, chat_template, report, mode)
            batch = []
    if batch:
        yield from _convert_batch(batch, tokenizer, system_prompt, options, max_length, chat_template, report, mode)


def _convert_batch(batch, tokenizer, system_prompt, options, max_length, chat_template, report, mode) -> Iterator[Example]:
    planned = [
        (traj, weight, *_plan_for(traj, traj.steps, system_prompt, options, tokenizer, chat_template, mode))
        for traj, weight in batch
    ]
    tokenized = tokenize_plans(tokenizer, [p for *_, p in planned])
    for (traj, weight, messages, turns, _plan), chat in zip(planned, tokenized, strict=True):
        dropped = 0
        if max_length is not None and len(chat) > max_length:
            fitted = None
            if options.truncation == "cut_end":
                fitted = _cut_end(traj, chat, system_prompt, options, max_length, tokenizer, chat_template, mode)
            if fitted is None:
                report.too_long += 1
                continue
            messages, turns, chat, dropped = fitted
            report.truncated += 1
            report.dropped_steps += dropped
        example = Example(
            trajectory_id=traj.trajectory_id,
            messages=messages,
            input_ids=chat.input_ids,
            assistant_masks=chat.assistant_masks,
            loss_turns=turns,
            weight=weight,
            dropped_steps=dropped,
            turn_starts=chat.turn_starts,
            mode=mode,
        )
        report.examples += 1
        report.tokens += len(example.input_ids)
        report.loss_tokens += example.loss_tokens
        report.longest = max(report.longest, len(example.input_ids))
        yield example


def _cut_end(traj, chat, system_prompt, options, max_length, tokenizer, chat_template, mode):
    """The example of the longest run of first steps that fits `max_length`: every kept turn has
    exactly the history the model saw, and the loss ends with the last kept step.

    Returns (messages, loss turns, tokenized, steps dropped), or None when not even the first
    step fits or the kept steps carry no loss.
    """
    steps = traj.steps
    if mode != "agent" or len(steps) < 2:
        return None
    # estimate from where each step's assistant turn starts, then confirm by rendering the
    # shorter conversation (templates need not be additive)
    starts = [chat.turn_starts[i] for i in sorted(chat.turn_starts)]
    keep = max((k for k in range(1, len(steps)) if starts[k] <= max_length), default=1)
    for kept in range(keep, 0, -1):
        try:
            messages, turns, shorter = _plan_for(traj, steps[:kept], system_prompt, options, tokenizer, chat_template)
        except TrajkitError:  # e.g. no kept turn carries loss
            return None
        tokenized = tokenize_plans(tokenizer, [shorter])[0]
        if len(tokenized) <= max_length:
            return messages, turns, tokenized, len(steps) - kept
    return None


def to_example(traj: Trajectory, tokenizer, system_prompt: str, options: ExampleOptions | None = None,
               *, max_length: int | None = None, chat_template: str | None = None,
               mode: Mode = "agent") -> Example | None:
    """One trajectory's training example (None when the options or `max_length` drop it)."""
    examples = to_examples([traj], tokenizer, system_prompt, options, max_length=max_length,
                           chat_template=chat_template, mode=mode)
    return next(iter(examples), None)


# --------------------------------------------------------------------- other trainers


def messages_record(example: Example) -> dict:
    """An example as plain chat `messages` + `tools`, for trainers other than TRL.

    Assistant messages carry `train` (does the turn carry loss); `loss_spans` lists the exact
    character ranges `[start, end)` of each message's content that carry loss (they differ
    from the whole content only when a first-thought prefix is excluded); the end-of-turn
    marker after a trained turn carries loss too. `tools` describes the Python functions the
    student's code may call (none for CoT examples); they are already described in the system
    prompt, so do not also pass them to the chat template (that would change the rendering the
    student sees).
    """
    trained = {turn.message_index: turn.skip_chars for turn in example.loss_turns}
    messages, spans = [], []
    for index, message in enumerate(example.messages):
        record = {"role": message["role"], "content": message["content"]}
        if message["role"] == "assistant":
            record["train"] = index in trained
            if index in trained and trained[index] < len(message["content"]):
                spans.append({"message": index, "start": trained[index], "end": len(message["content"])})
        messages.append(record)
    return {
        "trajectory_id": example.trajectory_id,
        "messages": messages,
        "tools": CODE_FUNCTIONS if example.mode == "agent" else [],
        "loss_spans": spans,
        "weight": example.weight,
        "dropped_steps": example.dropped_steps,
    }


def tokens_record(example: Example) -> dict:
    """An example pre-tokenized for TRL's SFTTrainer (`input_ids` + `assistant_masks`)."""
    return {
        "trajectory_id": example.trajectory_id,
        "input_ids": example.input_ids,
        "assistant_masks": example.assistant_masks,
        "weight": example.weight,
        "num_tokens": len(example.input_ids),
        "num_loss_tokens": example.loss_tokens,
        "dropped_steps": example.dropped_steps,
    }
