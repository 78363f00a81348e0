"""The vLLM offline backend: `vllm.LLM` in this process, imported lazily.

Concurrent requests are collected by a `DynamicBatcher` and sent as one `LLM.chat` call per
prefix mode (chat-template flags apply to a whole call): requests without a prefix with
`add_generation_prompt=True`, requests with one as a final assistant message with
`continue_final_message=True`. Each conversation gets its own `SamplingParams`.

Only vLLM's public API is used (`LLM(model, **engine_kwargs)`, `LLM.chat(messages,
sampling_params, use_tqdm, chat_template, add_generation_prompt, continue_final_message)`,
`SamplingParams(n, temperature, top_p, max_tokens, seed, stop)`, `RequestOutput.outputs[i]
.text/.token_ids/.finish_reason`, `RequestOutput.prompt_token_ids`). The mapping from requests to
those calls is pure (`chat_calls`, `sampling_kwargs`, `response_from_output`) and unit-tested
without vLLM.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trajkit.errors import require
from trajkit.schema import Sampling
from trajkit.teachers.base import (
    Choice,
    GenerationRequest,
    GenerationResponse,
    trim_at_stop,
)
from trajkit.teachers.batching import BatchedBackend, DynamicBatcher
from trajkit.teachers.chat_template import plain_messages
from trajkit.teachers.config import VLLM_DEFAULT_MAX_TOKENS


def sampling_kwargs(sampling: Sampling, default_max_tokens: int = VLLM_DEFAULT_MAX_TOKENS) -> dict:
    """Keyword arguments of `vllm.SamplingParams` for one request."""
    kwargs: dict[str, Any] = {
        "n": sampling.n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens or default_max_tokens,
    }
    if sampling.seed is not None:
        kwargs["seed"] = sampling.seed
    if sampling.stop:
        kwargs["stop"] = list(sampling.stop)
    return kwargs


@dataclass
class ChatCall:
    """One `LLM.chat` call: its conversations, per-conversation sampling and template flags,
    and which request each conversation came from."""

    continue_final_message: bool
    request_indices: list[int] = field(default_factory=list)
    messages: list[list[dict]] = field(default_factory=list)
    sampling: list[dict] = field(default_factory=list)

    def chat_kwargs(self, chat_template: str | None = None) -> dict:
        kwargs: dict[str, Any] = {
            "use_tqdm": False,
            "add_generation_prompt": not self.continue_final_message,
            "continue_final_message": self.continue_final_message,
        }
        if chat_template is not None:
            kwargs["chat_template"] = chat_template
        return kwargs


def chat_calls(
    requests: Sequence[GenerationRequest], default_max_tokens: int = VLLM_DEFAULT_MAX_TOKENS
) -> list[ChatCall]:
    """Group requests into at most two `LLM.chat` calls: plain turns, then prefixed turns."""
    plain, prefixed = ChatCall(False), ChatCall(True)
    for index, request in enumerate(requests):
        messages = plain_messages(request.messages)
        call = plain
        if request.assistant_prefix is not None:
            messages.append({"role": "assistant", "content": request.assistant_prefix})
            call = prefixed
        call.request_indices.append(index)
        call.messages.append(messages)
        call.sampling.append(sampling_kwargs(request.sampling, default_max_tokens))
    return [call for call in (plain, prefixed) if call.request_indices]


def response_from_output(output: Any, stop: Sequence[str] = ()) -> GenerationResponse:
    """A `vllm.RequestOutput` (attributes only) as a GenerationResponse (latency filled later)."""
    choices, completion_tokens = [], 0
    for completion in output.outputs:
        text, hit = trim_at_stop(completion.text, stop)
        reason = "stop" if hit else (completion.finish_reason or "stop")
        choices.append(Choice(text, reason))
        completion_tokens += len(completion.token_ids or ())
    prompt_tokens = len(output.prompt_token_ids or ())
    return GenerationResponse(choices, prompt_tokens, completion_tokens, 0.0)


class VLLMBackend(BatchedBackend):
    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        chat_template: str | None = None,
        max_batch: int = 256,
        max_wait_ms: float = 20.0,
        default_max_tokens: int = VLLM_DEFAULT_MAX_TOKENS,
        engine_kwargs: Mapping[str, Any] | None = None,
    ):
        self._vllm = require("vllm", "vllm", "the vLLM offline teacher backend")
        self.model = model
        self._chat_template = chat_template
        self._default_max_tokens = default_max_tokens
        self._engine_kwargs = dict(engine_kwargs or {})
        self._llm = None
        self._load_lock = threading.Lock()
        self._batcher: DynamicBatcher[GenerationRequest, GenerationResponse] = DynamicBatcher(
            self._run_batch,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            size_of=lambda request: request.sampling.n,
            name="trajkit-vllm-teacher",
        )

    def load(self) -> None:
        with self._load_lock:
            if self._llm is None:
                self._llm = self._vllm.LLM(model=self.model, **self._engine_kwargs)

    def _run_batch(self, requests: list[GenerationRequest]) -> list[GenerationResponse]:
        self.load()
        results: list[GenerationResponse | None] = [None] * len(requests)
        for call in chat_calls(requests, self._default_max_tokens):
            params = [self._vllm.SamplingParams(**kwargs) for kwargs in call.sampling]
            outputs = self._llm.chat(
                messages=call.messages,
                sampling_params=params,
                **call.chat_kwargs(self._chat_template),
            )
            for index, output in zip(call.request_indices, outputs, strict=True):
                results[index] = response_from_output(output, requests[index].sampling.stop)
        return results  # type: ignore[return-value]
