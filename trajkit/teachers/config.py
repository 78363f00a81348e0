"""The `teacher:` block of a build recipe (`model:` of an eval recipe): one typed config per backend.

    teacher:
      backend: openai                      # the discriminator; none = local
      base_url: http://127.0.0.1:8000/v1
      max_retries: 6

`TeacherConfig` is the union of `LocalTeacher`, `OpenAITeacher`, `LlamaCppTeacher`,
`VLLMTeacher` and `ScriptedTeacher`, told apart by `backend`. Each backend class is constructed
from its own config (`trajkit.teachers.make_backend`), so a config's fields and defaults are
the backend's options. `parse_teacher` validates a raw block with one-line errors that name the
YAML path (an unknown backend, an unknown option, an API key written into the recipe).

The provenance of a build reads the raw block as written (`trajkit.plan.TEACHER_IDENTITY_KEYS`),
not these defaults, so defaults may change without changing any trajectory id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from trajkit.errors import ConfigError
from trajkit.schema import Model


class _TeacherBase(Model):
    sampling: Any = Field(None, description="left to the caller (the recipe's `sampling:`); backends ignore it")


class LocalTeacher(_TeacherBase):
    """transformers in process; the embedded SmolLM2 when no model is given."""

    backend: Literal["local"] = "local"
    model: str | None = Field(None, description="'embedded', a registry name, a local folder or a HF id")
    dtype: str = "float32"
    num_threads: int | None = None
    max_batch: int = 16
    max_wait_ms: float = 10.0
    default_max_tokens: int = 512


class _OpenAIOptions(_TeacherBase):
    """What every OpenAI-compatible client reads (the openai and llamacpp backends)."""

    timeout_s: float = 120.0
    max_retries: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    extra_body: dict[str, Any] | None = None


class OpenAITeacher(_OpenAIOptions):
    """Any OpenAI-compatible server; a list of base URLs is a pool (`trajkit.teachers.endpoints`)."""

    backend: Literal["openai"] = "openai"
    base_url: str | list[str] | None = None
    model: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    api_key_required: bool = False
    max_concurrency: int = 16
    prefix_mode: str = "continue_final_message"
    tokenizer: str | None = None
    endpoint_cooldown_s: float = 5.0


class LlamaCppTeacher(_OpenAIOptions):
    """llama.cpp's server, started by trajkit on a GGUF of the model registry."""

    backend: Literal["llamacpp"] = "llamacpp"
    model: str | None = Field(None, description="registry name or .gguf path; none = trajkit.teachers.llamacpp.DEFAULT_MODEL")
    parallel: int = 4
    context: int = 16384
    threads: int | None = None
    port: int | None = None
    startup_timeout_s: float = 120.0
    restarts: int = 1
    timeout_s: float = 600.0
    max_retries: int = 4
    backoff_max_s: float = 5.0


VLLM_DEFAULT_MAX_TOKENS = 1024  # vLLM's own default (16) would silently cut every turn
# common vllm engine arguments accepted at the top of the block and passed on as engine_kwargs
VLLM_ENGINE_KEYS = (
    "tensor_parallel_size", "gpu_memory_utilization", "dtype", "max_model_len", "seed",
    "enforce_eager", "trust_remote_code", "quantization", "tokenizer",
)


class VLLMTeacher(_TeacherBase):
    """vLLM's async engine in process."""

    backend: Literal["vllm"] = "vllm"
    model: str | None = None
    chat_template: str | None = None
    max_batch: int | None = None
    max_wait_ms: float | None = None
    default_max_tokens: int = VLLM_DEFAULT_MAX_TOKENS
    engine_kwargs: dict[str, Any] | None = None
    tensor_parallel_size: int | None = None
    gpu_memory_utilization: float | None = None
    dtype: str | None = None
    max_model_len: int | None = None
    seed: int | None = None
    enforce_eager: bool | None = None
    trust_remote_code: bool | None = None
    quantization: str | None = None
    tokenizer: str | None = None

    def engine_arguments(self) -> dict[str, Any]:
        """`engine_kwargs` with the engine arguments written at the top of the block."""
        top = {key: getattr(self, key) for key in VLLM_ENGINE_KEYS if key in self.model_fields_set}
        return {**(self.engine_kwargs or {}), **top}


class ScriptedTeacher(_TeacherBase):
    """Replays fixed replies (demos and tests)."""

    backend: Literal["scripted"] = "scripted"
    responses: list[str] = Field(default_factory=list)
    model: str = "scripted"


TeacherConfig = Annotated[
    LocalTeacher | OpenAITeacher | LlamaCppTeacher | VLLMTeacher | ScriptedTeacher, Field(discriminator="backend")
]
CONFIGS: dict[str, type[_TeacherBase]] = {
    "local": LocalTeacher,
    "openai": OpenAITeacher,
    "llamacpp": LlamaCppTeacher,
    "vllm": VLLMTeacher,
    "scripted": ScriptedTeacher,
}
BACKENDS = tuple(CONFIGS)
_CALLER_KEYS = ("backend", "sampling")


def parse_teacher(block: Mapping[str, Any] | BaseModel | None, *, where: str = "teacher") -> TeacherConfig:
    """The typed config of a teacher block; `None` or `{}` is the embedded default (local).

    Errors are one line naming `where` (the YAML path of the block)."""
    if isinstance(block, _TeacherBase):
        return block
    data = dict(block or {})
    kind = data.setdefault("backend", "local")
    if not isinstance(kind, str) or kind not in CONFIGS:
        raise ConfigError(f"unknown teacher backend {kind!r}", where=f"{where}.backend", fix=f"use one of: {', '.join(BACKENDS)}")
    if "api_key" in data:
        raise ConfigError(
            "API keys do not go into recipes",
            where=f"{where}.api_key",
            fix="export the key in an environment variable and name it with api_key_env",
        )
    config_class = CONFIGS[kind]
    unknown = sorted(set(data) - set(config_class.model_fields))
    if unknown:
        allowed = sorted(set(config_class.model_fields) - set(_CALLER_KEYS))
        raise ConfigError(
            f"unknown option(s) for the {kind} backend: {', '.join(unknown)}", where=where, fix=f"allowed: {', '.join(allowed)}"
        )
    try:
        return config_class.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"invalid {kind} backend options ({field}: {error['msg']})", where=f"{where}.{field}") from None
