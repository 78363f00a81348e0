"""Teacher backends behind one async interface (`Backend`), made from a recipe's `teacher:` block.

    backend = make_backend({"backend": "openai", "base_url": "http://127.0.0.1:8000/v1"})
    response = await backend.generate(GenerationRequest(messages, Sampling(max_tokens=256)))
    await backend.aclose()

Backends: `local` (transformers; the embedded SmolLM2 when no model is given, the default),
`openai` (any OpenAI-compatible server), `llamacpp` (llama.cpp's server, started by trajkit on a
GGUF from the model registry), `vllm` (vLLM's async engine in process), `scripted` (replays fixed
replies; for demos). Heavy libraries load only when a backend is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trajkit.errors import ConfigError
from trajkit.teachers.base import (
    Backend,
    BackendBase,
    Choice,
    GenerationRequest,
    GenerationResponse,
    TeacherError,
)

__all__ = [
    "Backend",
    "BackendBase",
    "Choice",
    "GenerationRequest",
    "GenerationResponse",
    "TeacherError",
    "BACKENDS",
    "make_backend",
]

# keys the caller (agent loop, build) reads from the same teacher block; backends ignore them
CALLER_KEYS = frozenset({"backend", "sampling"})

OPTIONS: dict[str, frozenset[str]] = {
    "local": frozenset(
        {"model", "dtype", "num_threads", "max_batch", "max_wait_ms", "default_max_tokens"}
    ),
    "openai": frozenset(
        {
            "base_url", "model", "api_key_env", "api_key_required", "max_concurrency",
            "timeout_s", "max_retries", "backoff_base_s", "backoff_max_s", "prefix_mode",
            "tokenizer", "extra_body", "endpoint_cooldown_s",
        }
    ),
    "vllm": frozenset(
        {"model", "chat_template", "max_batch", "max_wait_ms", "default_max_tokens", "engine_kwargs"}
    ),
    "llamacpp": frozenset(
        {
            "model", "parallel", "context", "threads", "port", "startup_timeout_s", "restarts",
            "timeout_s", "max_retries", "backoff_base_s", "backoff_max_s", "extra_body",
        }
    ),
    "scripted": frozenset({"responses", "model"}),
}
# common vllm.LLM arguments accepted at the top of the block and passed on as engine_kwargs
VLLM_ENGINE_KEYS = frozenset(
    {
        "tensor_parallel_size", "gpu_memory_utilization", "dtype", "max_model_len", "seed",
        "enforce_eager", "trust_remote_code", "quantization", "tokenizer",
    }
)
BACKENDS = tuple(OPTIONS)


def make_backend(config: Mapping[str, Any] | None = None, *, where: str = "teacher") -> Backend:
    """The backend a recipe's `teacher:` block describes; `None` or `{}` is the embedded default."""
    config = dict(config or {})
    kind = config.get("backend", "local")
    if kind not in OPTIONS:
        raise ConfigError(
            f"unknown teacher backend {kind!r}",
            where=f"{where}.backend",
            fix=f"use one of: {', '.join(BACKENDS)}",
        )
    if "api_key" in config:
        raise ConfigError(
            "API keys do not go into recipes",
            where=f"{where}.api_key",
            fix="export the key in an environment variable and name it with api_key_env",
        )
    options = {k: v for k, v in config.items() if k not in CALLER_KEYS}
    allowed = OPTIONS[kind] | (VLLM_ENGINE_KEYS if kind == "vllm" else frozenset())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown option(s) for the {kind} backend: {', '.join(unknown)}",
            where=where,
            fix=f"allowed: {', '.join(sorted(allowed))}",
        )
    try:
        return _construct(kind, options, where)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {kind} backend options ({exc})", where=where) from exc


def _construct(kind: str, options: dict[str, Any], where: str) -> Backend:
    if kind == "local":
        from trajkit.teachers.local import LocalBackend

        return LocalBackend(**options)
    if kind == "openai" and isinstance(options.get("base_url"), list):
        from trajkit.teachers.endpoints import EndpointPool

        return EndpointPool(options.pop("base_url"), **options)
    if kind == "openai":
        from trajkit.teachers.openai_compat import OpenAICompatBackend

        options.pop("endpoint_cooldown_s", None)
        return OpenAICompatBackend(**options)
    if kind == "llamacpp":
        from trajkit.teachers.llamacpp import LlamaCppBackend

        return LlamaCppBackend(**options)
    if kind == "vllm":  # vLLM's async engine (AsyncLLM); vllm_offline.VLLMBackend is the LLM.chat path
        from trajkit.teachers.vllm_async import VLLMAsyncBackend as VLLMBackend

        if not options.get("model"):
            raise ConfigError("the vllm backend needs a model", where=f"{where}.model",
                              fix="name a Hugging Face model id or a local model folder")
        engine = dict(options.pop("engine_kwargs", None) or {})
        engine.update({k: options.pop(k) for k in list(options) if k in VLLM_ENGINE_KEYS})
        return VLLMBackend(**options, engine_kwargs=engine)
    from trajkit.teachers.scripted_server import ScriptedBackend

    responses = options.get("responses")
    if not isinstance(responses, list) or not responses:
        raise ConfigError("the scripted backend needs a non-empty list of responses",
                          where=f"{where}.responses")
    return ScriptedBackend(**options)
