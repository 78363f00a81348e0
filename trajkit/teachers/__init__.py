"""Teacher backends behind one async interface (`Backend`), made from a recipe's `teacher:` block.

    backend = make_backend({"backend": "openai", "base_url": "http://127.0.0.1:8000/v1"})
    response = await backend.generate(GenerationRequest(messages, Sampling(max_tokens=256)))
    await backend.aclose()

Backends: `local` (transformers; the embedded SmolLM2 when no model is given, the default),
`openai` (any OpenAI-compatible server), `llamacpp` (llama.cpp's server, started by trajkit on a
GGUF from the model registry), `vllm` (vLLM's async engine in process), `scripted` (replays fixed
replies; for demos). Each is constructed from its own typed config (`trajkit.teachers.config`).
Heavy libraries load only when a backend is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from trajkit.errors import ConfigError
from trajkit.teachers.base import (
    Backend,
    BackendBase,
    Choice,
    GenerationRequest,
    GenerationResponse,
    TeacherError,
)
from trajkit.teachers.config import (
    LlamaCppTeacher,
    LocalTeacher,
    OpenAITeacher,
    ScriptedTeacher,
    TeacherConfig,
    VLLMTeacher,
    parse_teacher,
)

__all__ = [
    "Backend",
    "BackendBase",
    "Choice",
    "GenerationRequest",
    "GenerationResponse",
    "TeacherError",
    "make_backend",
]


def make_backend(config: TeacherConfig | Mapping[str, Any] | BaseModel | None = None, *, where: str = "teacher") -> Backend:
    """The backend a teacher block describes (typed, or raw and validated here with errors
    naming `where`); `None` or `{}` is the embedded default."""
    config = parse_teacher(config, where=where)
    try:
        return _construct(config, where)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {config.backend} backend options ({exc})", where=where) from exc


def _construct(config: TeacherConfig, where: str) -> Backend:
    if isinstance(config, LocalTeacher):
        from trajkit.teachers.local import LocalBackend

        return LocalBackend(config)
    if isinstance(config, OpenAITeacher) and isinstance(config.base_url, list):
        from trajkit.teachers.endpoints import EndpointPool

        return EndpointPool(config)
    if isinstance(config, OpenAITeacher):
        from trajkit.teachers.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(config)
    if isinstance(config, LlamaCppTeacher):
        from trajkit.teachers.llamacpp import LlamaCppBackend

        return LlamaCppBackend(config)
    if isinstance(config, VLLMTeacher):  # vLLM's async engine (AsyncLLM)
        from trajkit.teachers.vllm_async import VLLMAsyncBackend

        if not config.model:
            raise ConfigError("the vllm backend needs a model", where=f"{where}.model",
                              fix="name a Hugging Face model id or a local model folder")
        return VLLMAsyncBackend(config)
    assert isinstance(config, ScriptedTeacher)
    from trajkit.teachers.scripted_server import ScriptedBackend

    if not config.responses:
        raise ConfigError("the scripted backend needs a non-empty list of responses", where=f"{where}.responses")
    return ScriptedBackend(config.responses, model=config.model)
