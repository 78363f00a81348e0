"""The one interface every teacher backend implements.

A request is a chat (OpenAI-style `messages`), sampling parameters (`trajkit.schema.Sampling`)
and optionally an assistant prefix: text the assistant turn must start with. With a prefix, the
backend continues that text and returns only the continuation; callers join prefix + text.
With `logprobs`, choices also carry the completion's token ids and logprobs (token-exact
capture), where the backend can return them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from trajkit.errors import ServiceError
from trajkit.schema import Sampling

Message = Mapping[str, Any]


@dataclass(frozen=True)
class GenerationRequest:
    messages: Sequence[Message]
    sampling: Sampling = field(default_factory=Sampling)
    assistant_prefix: str | None = None
    logprobs: bool = False  # ask for each choice's completion token ids and logprobs (where the backend can)

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("a generation request needs at least one message")
        if self.sampling.n < 1:
            raise ValueError(f"sampling.n must be >= 1, got {self.sampling.n}")


@dataclass(frozen=True)
class Choice:
    text: str
    finish_reason: str  # "stop" (EOS or a stop string), "length" (max_tokens), or the server's word
    # the completion as the model produced it, when the request asked for logprobs and the
    # backend can return them (token ids: local, llama.cpp; OpenAI returns logprobs only)
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    # the stop string the completion ended on, cut from `text`, when the backend saw which one
    # (None: it ended otherwise, or a server cut it without saying which)
    stop: str | None = None
    # the model ended its turn with its end-of-turn token (known where the backend can tell)
    end_of_turn: bool = False


@dataclass(frozen=True)
class GenerationResponse:
    choices: list[Choice]
    prompt_tokens: int  # the prompt's size, counted once even when n > 1
    completion_tokens: int  # summed over all choices
    latency_ms: float  # wall time of generate(), queueing and retries included

    @property
    def text(self) -> str:
        return self.choices[0].text

    @property
    def finish_reason(self) -> str:
        return self.choices[0].finish_reason


@runtime_checkable
class Backend(Protocol):
    name: str  # "local", "openai", "vllm", "scripted": recorded in provenance
    model: str

    async def generate(self, request: GenerationRequest) -> GenerationResponse: ...

    async def aclose(self) -> None: ...


class BackendBase:
    """Shared conveniences: `async with backend:` closes it."""

    name: str = ""
    model: str = ""

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()


class TeacherError(ServiceError):
    """The teacher failed to generate: unreachable after retries, or a non-retryable refusal.

    `status` is the HTTP status when there was one; `retryable` tells whether trying the same
    request later may succeed (the build records such rollouts as teacher_error for
    --retry-failed)."""

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        fix: str | None = None,
        status: int | None = None,
        retryable: bool = False,
        attempts: int = 1,
    ):
        super().__init__(what, where=where, fix=fix)
        self.status = status
        self.retryable = retryable
        self.attempts = attempts


def trim_at_stop(text: str, stop: Sequence[str]) -> tuple[str, str | None]:
    """Cut `text` at the earliest stop string; return the text before it and the stop string
    found there (None when there is none)."""
    found = [(i, s) for s in stop if s and (i := text.find(s)) >= 0]
    if not found:
        return text, None
    cut, string = min(found, key=lambda hit: (hit[0], -len(hit[1])))
    return text[:cut], string


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0
