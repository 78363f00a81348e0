"""`load_tokenizer` takes every model spec `trajkit.models.specs` takes (one resolver).

A registry name is read from its GGUF (prepared in the cache by `make setup`): only the
tokenizer is loaded (~15 s for the 1.5B on a small machine), no weights, nothing converted.
"""

from __future__ import annotations

import copy

import pytest

from trajkit.errors import ConfigError
from trajkit.teachers.chat_template import load_tokenizer, render_chat

QWEN = "qwen2.5-coder-1.5b"


@pytest.fixture(scope="module")
def qwen_tokenizer():
    return load_tokenizer(QWEN)


def test_a_registry_name_gives_its_tokenizer_with_a_chat_template(qwen_tokenizer):
    assert qwen_tokenizer.chat_template
    assert qwen_tokenizer.pad_token_id is not None
    text = render_chat(qwen_tokenizer, [{"role": "user", "content": "2+2?"}], "Thought:")
    assert text.endswith("<|im_start|>assistant\nThought:")
    assert "<|im_start|>user\n2+2?<|im_end|>" in text


@pytest.mark.parametrize(
    ("spec", "what"),
    [
        ("./no-such-model", "model path './no-such-model'"),
        ("no-such-model.gguf", "GGUF file 'no-such-model.gguf'"),
        ("", "the model is empty"),
    ],
)
def test_a_bad_spec_is_a_one_line_config_error(spec, what):
    with pytest.raises(ConfigError) as caught:
        load_tokenizer(spec, where="teacher.tokenizer")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("teacher.tokenizer: ") and what in message
    assert QWEN in message  # the fix names the registry


def test_a_folder_without_a_tokenizer_is_a_config_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="cannot load a tokenizer") as caught:
        load_tokenizer(str(tmp_path), where="tokenizer")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("tokenizer: ")


def test_a_tokenizer_without_a_chat_template_is_a_config_error(qwen_tokenizer, tmp_path):
    plain = copy.deepcopy(qwen_tokenizer)
    plain.chat_template = None
    plain.save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="has no chat template"):
        load_tokenizer(str(tmp_path))
