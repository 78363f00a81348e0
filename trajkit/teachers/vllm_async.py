"""The vLLM in-process backend on vLLM's async engine (`AsyncLLM`), imported lazily.

Every `generate()` is its own engine request: vLLM's scheduler batches whatever is in flight
at each step (continuous batching), so a multi-turn rollout's next turn starts as soon as its
previous one is done, never waiting for the slowest sequence of someone else's batch (as
vLLM's offline `LLM.chat` would). Requests and outputs are mapped by `vllm_mapping.py`.

Public vLLM API only (checked against the vLLM docs: `vllm.AsyncEngineArgs`,
`vllm.v1.engine.async_llm.AsyncLLM` — exported as `vllm.AsyncLLMEngine` — with
`from_engine_args`, the async generator `generate(prompt, sampling_params, request_id)`,
`get_tokenizer()` and `shutdown()`; `SamplingParams(output_kind=RequestOutputKind.FINAL_ONLY)`
so only the finished output comes back). The chat template is applied here with the engine's
tokenizer (`add_generation_prompt` for a new turn, `continue_final_message` for an assistant
prefix), and the request mapping is shared with the offline backend (`sampling_kwargs`,
`response_from_output`).

Under Ray, give each actor a GPU (`executor.actor_resources: {num_gpus: 1}`): every actor then
holds one engine on its own GPU for its lifetime.

Not run on this project's CPU machines: it needs vLLM and a GPU.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from typing import Any

from trajkit.errors import require
from trajkit.teachers.base import BackendBase, GenerationRequest, GenerationResponse, Stopwatch
from trajkit.teachers.chat_template import plain_messages
from trajkit.teachers.config import VLLMTeacher
from trajkit.teachers.vllm_mapping import response_from_output, sampling_kwargs


def chat_prompt(tokenizer, request: GenerationRequest, chat_template: str | None = None) -> str:
    """The prompt text for one request: a new assistant turn, or the continuation of a prefix."""
    messages = plain_messages(request.messages)
    prefixed = request.assistant_prefix is not None
    if prefixed:
        messages.append({"role": "assistant", "content": request.assistant_prefix})
    kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": not prefixed}
    if prefixed:
        kwargs["continue_final_message"] = True
    if chat_template is not None:
        kwargs["chat_template"] = chat_template
    return tokenizer.apply_chat_template(messages, **kwargs)


class VLLMAsyncBackend(BackendBase):
    name = "vllm"

    def __init__(self, config: VLLMTeacher):
        # config.max_batch / max_wait_ms are the offline backend's knobs: the engine schedules itself
        self._vllm = require("vllm", "vllm", "the vLLM teacher backend")
        self.model = config.model
        self._chat_template = config.chat_template
        self._default_max_tokens = config.default_max_tokens
        self._engine_kwargs = config.engine_arguments()
        self._engine = None
        self._tokenizer = None
        self._lock = asyncio.Lock()

    async def _ready(self):
        async with self._lock:
            if self._engine is None:
                vllm = self._vllm
                from vllm.v1.engine.async_llm import AsyncLLM

                args = vllm.AsyncEngineArgs(model=self.model, **self._engine_kwargs)
                self._engine = AsyncLLM.from_engine_args(args)
                tokenizer = self._engine.get_tokenizer()
                self._tokenizer = await tokenizer if inspect.isawaitable(tokenizer) else tokenizer
        return self._engine

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        from vllm.sampling_params import RequestOutputKind

        watch = Stopwatch()
        engine = await self._ready()
        params = self._vllm.SamplingParams(
            **sampling_kwargs(request.sampling, self._default_max_tokens),
            output_kind=RequestOutputKind.FINAL_ONLY,
        )
        prompt = chat_prompt(self._tokenizer, request, self._chat_template)
        final = None
        async for output in engine.generate(prompt, params, f"trajkit-{uuid.uuid4().hex}"):
            final = output
        response = response_from_output(final, request.sampling.stop)
        return GenerationResponse(response.choices, response.prompt_tokens, response.completion_tokens, watch.ms())

    async def aclose(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None
