"""Steps from model output: the one place a generation becomes a stored `Step`.

- `action_step`: one CodeAct step of the agent loop, from the backend's response and the
  chosen candidate (its thought, code, observation, error, answer; every candidate when
  self-consistent action generation ran);
- `answer_step`: the one step of a CoT answer (`trajkit.agent.cot`);
- `teacher_error_step`: the step recorded when the backend failed after its retries.

`AgentResult` is what one rollout returns to the engine (`trajkit.rollout`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from trajkit.agent.sag import CandidateRun
from trajkit.schema import Candidate, Outcome, Step, StepError, ToolCall, Usage
from trajkit.teachers.base import GenerationResponse

ERROR_MESSAGE_CHARS = 1000


@dataclass
class AgentResult:
    """One rollout's steps, outcome and usage, before grading."""

    steps: list[Step]
    outcome: Outcome
    usage: Usage


def action_step(
    index: int,
    chosen: CandidateRun,
    response: GenerationResponse,
    *,
    prefix: str | None,
    tool_calls: list[ToolCall],
    candidates: list[Candidate],
    completion_tokens: int,
    latency_ms: float,
    capture_tokens: bool,
) -> Step:
    """The agent step of `chosen`, the candidate that `response` produced and the loop kept.

    `prefix` is text the loop injected at the start of the turn (first-thought prefix);
    `completion_tokens` includes the continuations of forced code blocks."""
    choice = response.choices[chosen.index]
    return Step(
        index=index,
        thought=chosen.thought,
        code=chosen.code,
        observation=chosen.observation,
        raw_output=chosen.raw_output,
        prefix=prefix,
        tool_calls=tool_calls,
        error=chosen.error,
        final_answer=answer_text(chosen.final_answer) if chosen.answered and chosen.error is None else None,
        prompt_tokens=response.prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=latency_ms,
        candidates=candidates,
        # a turn cut at max_tokens was not ended by the model: training on it would teach an end
        # the model never wrote (kept for analysis and preference data)
        train=choice.finish_reason != "length",
        token_ids=choice.token_ids if capture_tokens else None,
        logprobs=choice.logprobs if capture_tokens else None,
    )


def answer_step(response: GenerationResponse, answer: str | None, error: StepError | None) -> Step:
    """The one step of a CoT answer: the whole generation is its thought."""
    text = response.text
    return Step(
        index=0, thought=text.strip() or None, raw_output=text, final_answer=answer, error=error,
        prompt_tokens=response.prompt_tokens, completion_tokens=response.completion_tokens,
        latency_ms=response.latency_ms,
    )


def teacher_error_step(index: int, error: Exception) -> Step:
    """The step recorded when the backend failed (after its retries); it carries no loss."""
    return Step(index=index, error=StepError(type="teacher_error", message=_clip(str(error), ERROR_MESSAGE_CHARS)), train=False)


def answer_text(value: Any) -> str | None:
    """A `final_answer(...)` value as stored text: strings as they are, anything else as JSON."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
