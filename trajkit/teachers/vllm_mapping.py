"""Between trajkit and vLLM: a request's `Sampling` as `vllm.SamplingParams` keyword arguments,
and a `vllm.RequestOutput` as a `GenerationResponse`.

Pure functions over vLLM's public attributes (`RequestOutput.outputs[i].text/.token_ids/
.finish_reason`, `RequestOutput.prompt_token_ids`), so they are unit-tested without vLLM; the
`vllm` backend (`trajkit.teachers.vllm_async`) uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trajkit.schema import Sampling
from trajkit.teachers.base import (
    Choice,
    GenerationResponse,
    trim_at_stop,
)
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


def response_from_output(output: Any, stop: Sequence[str] = ()) -> GenerationResponse:
    """A `vllm.RequestOutput` (attributes only) as a GenerationResponse (latency filled later)."""
    choices, completion_tokens = [], 0
    for completion in output.outputs:
        text, hit = trim_at_stop(completion.text, stop)
        reason = "stop" if hit else (completion.finish_reason or "stop")
        said = getattr(completion, "stop_reason", None)  # vLLM: the stop string (or token id) matched
        choices.append(Choice(text, reason, stop=hit or (said if isinstance(said, str) else None)))
        completion_tokens += len(completion.token_ids or ())
    prompt_tokens = len(output.prompt_token_ids or ())
    return GenerationResponse(choices, prompt_tokens, completion_tokens, 0.0)
