"""Fixtures for the SFT tests: the embedded model's tokenizer and chat templates of three families."""

from __future__ import annotations

import copy

import pytest

# Llama-3 style: header tokens, a blank line, the content, <|eot_id|>; BOS written by the template.
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
# Gemma style: no system role (merged into the first user turn), `model` for the assistant,
# contents trimmed, roles must alternate.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{% set first_user_prefix = messages[0]['content'] + '\n\n' %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
GEMMA_SPECIALS = ["<bos>", "<start_of_turn>", "<end_of_turn>"]


def load_embedded_tokenizer():
    """The embedded SmolLM2 tokenizer: from the converted cache when present, else straight from
    the GGUF (no model weights are loaded either way)."""
    from transformers import AutoTokenizer

    from trajkit.cache import cache_root
    from trajkit.models.embedded_llm import gguf_path

    cached = cache_root() / "models" / "smollm2-135m-instruct"
    if (cached / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(str(cached))
    gguf = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@pytest.fixture(scope="session")
def tokenizer():
    return load_embedded_tokenizer()


def _with_specials(tokenizer, specials: list[str], bos: str):
    styled = copy.deepcopy(tokenizer)
    styled.add_special_tokens({"additional_special_tokens": specials})
    styled.bos_token = bos
    return styled


@pytest.fixture(scope="session")
def template_styles(tokenizer):
    """name -> (tokenizer, chat template, end-of-turn marker): the embedded tokenizer under the
    ChatML (its own), Llama-3 and Gemma templates, their markers registered as special tokens
    as the real tokenizers of those families have them."""
    return {
        "chatml": (tokenizer, None, "<|im_end|>"),
        "llama3": (_with_specials(tokenizer, LLAMA3_SPECIALS, "<|begin_of_text|>"), LLAMA3_TEMPLATE, "<|eot_id|>"),
        "gemma": (_with_specials(tokenizer, GEMMA_SPECIALS, "<bos>"), GEMMA_TEMPLATE, "<end_of_turn>"),
    }


@pytest.fixture(scope="session")
def student_prompt():
    from trajkit.agent.prompts import load_prompt

    return load_prompt("student").text
