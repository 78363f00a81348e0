"""Rendering a chat into the prompt text a model continues, with an optional assistant prefix.

Used by the local backend and by the OpenAI-compatible backend's `completions` prefix mode, so
that a prefixed turn is rendered exactly as the model's own template opens an assistant turn,
followed by the prefix text verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trajkit.errors import ConfigError, require
from trajkit.models.registry import EMBEDDED_REGISTRY_NAME
from trajkit.models.specs import EMBEDDED as EMBEDDED  # the local backend's default model
from trajkit.models.specs import hf_folder, resolve_gguf, spec_kind


def load_tokenizer(model: str | None, *, where: str = "teacher.tokenizer"):
    """The tokenizer of any model spec `trajkit.models.specs` accepts, with its chat template.

    None / "embedded", a registry name or an existing .gguf -> the tokenizer read from the GGUF
    itself (no weights loaded, nothing converted); a model folder or a Hugging Face id -> loaded
    by transformers from there. A spec naming nothing, a tokenizer that cannot be loaded, or one
    without a chat template is a ConfigError (`where` names the field).
    """
    transformers = require("transformers", "embedded", "rendering the chat template locally")
    from trajkit.progress import quiet_model_loading

    kind = spec_kind(model, where=where)
    if kind in ("embedded", "registry", "gguf"):
        require("gguf", "embedded", "reading a tokenizer from a GGUF file")
        gguf = resolve_gguf(EMBEDDED_REGISTRY_NAME if kind == "embedded" else model)
        source, folder, options = str(gguf), str(gguf.parent), {"gguf_file": gguf.name}
    else:  # a folder (made absolute) or a Hugging Face id (unchanged): nothing to convert
        source = folder = hf_folder(model, where=where)
        options = {}
    try:
        with quiet_model_loading():
            tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **options)
    except (OSError, ValueError, KeyError, RuntimeError, NotImplementedError) as exc:
        raise ConfigError(
            f"cannot load a tokenizer from {source!r} ({type(exc).__name__})",
            where=where,
            fix="give 'embedded', a registry name (`trajkit models list`), a .gguf file, a model "
            "folder or a Hugging Face id whose tokenizer has a chat template",
        ) from exc
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"the tokenizer at {source!r} has no chat template",
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
