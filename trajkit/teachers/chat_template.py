"""Rendering a chat into the prompt text a model continues, with an optional assistant prefix.

Used by the local backend and by the OpenAI-compatible backend's `completions` prefix mode, so
that a prefixed turn is rendered exactly as the model's own template opens an assistant turn,
followed by the prefix text verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trajkit.errors import ConfigError, require

EMBEDDED = "embedded"


def resolve_model_path(model: str | None) -> str:
    """`None` or "embedded" -> the cached embedded SmolLM2 folder; anything else unchanged."""
    if model is None or model == EMBEDDED:
        from trajkit.models.embedded_llm import embedded_model_path

        return str(embedded_model_path())
    return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model


def load_tokenizer(model: str | None, *, where: str = "teacher.tokenizer"):
    transformers = require("transformers", "embedded", "rendering the chat template locally")
    path = resolve_model_path(model)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load a tokenizer from {path!r} ({type(exc).__name__})",
            where=where,
            fix="give a local model folder (or 'embedded') whose tokenizer has a chat template",
        ) from exc
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"the tokenizer at {path!r} has no chat template",
            where=where,
            fix="use an instruct/chat model's tokenizer",
        )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def plain_messages(messages: Sequence[Any]) -> list[dict]:
    return [dict(message) for message in messages]


def render_chat(tokenizer, messages: Sequence[Any], assistant_prefix: str | None = None) -> str:
    """The text the model continues: the chat, the opening of an assistant turn, the prefix."""
    text = tokenizer.apply_chat_template(
        plain_messages(messages), tokenize=False, add_generation_prompt=True
    )
    return text + (assistant_prefix or "")
