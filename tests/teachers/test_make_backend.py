import asyncio

import pytest

from trajkit.errors import ConfigError
from trajkit.schema import Sampling
from trajkit.teachers import Backend, GenerationRequest, make_backend


def test_default_is_the_local_embedded_backend():
    backend = make_backend(None)
    try:
        assert isinstance(backend, Backend)
        assert (backend.name, backend.model) == ("local", "SmolLM2-135M-Instruct")
    finally:
        asyncio.run(backend.aclose())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"backend": "tgi"}, "unknown teacher backend 'tgi'"),
        ({"backend": "openai", "max_concurency": 4}, "unknown option(s) for the openai backend"),
        ({"backend": "openai", "api_key": "sk-secret"}, "API keys do not go into recipes"),
        ({"backend": "openai", "prefix_mode": "guess"}, "prefix_mode 'guess'"),
        ({"backend": "scripted"}, "non-empty list of responses"),
        ({"backend": "local", "dtype": "int3"}, "dtype 'int3'"),
        ({"backend": "vllm"}, "vllm"),  # no model, or vllm not installed: either is a clear error
    ],
)
def test_bad_teacher_blocks_are_refused_clearly(config, message):
    with pytest.raises(Exception) as info:
        make_backend(config, where="recipe.yaml: teacher")
    assert message in str(info.value)
    assert "sk-secret" not in str(info.value)


def test_missing_required_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("TRAJKIT_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="TRAJKIT_TEST_KEY"):
        make_backend({"backend": "openai", "api_key_env": "TRAJKIT_TEST_KEY",
                      "api_key_required": True})


def test_sampling_in_the_teacher_block_is_left_to_the_caller():
    backend = make_backend({"backend": "scripted", "responses": ["hi"], "sampling": {"n": 2}})
    reply = asyncio.run(backend.generate(GenerationRequest([{"role": "user", "content": "x"}])))
    assert reply.text == "hi" and backend.name == "scripted"


def test_scripted_backend_walks_the_script_per_conversation():
    backend = make_backend({"backend": "scripted", "responses": ["one two three", "four five"]})
    user = {"role": "user", "content": "q"}

    async def main():
        first = await backend.generate(GenerationRequest([user], Sampling(n=2, max_tokens=2)))
        second = await backend.generate(
            GenerationRequest([user, {"role": "assistant", "content": "one"}], assistant_prefix="fo")
        )
        return first, second

    first, second = asyncio.run(main())
    assert [c.text for c in first.choices] == ["one two", "one two"]
    assert first.finish_reason == "length"
    assert second.text == "ur five"


def test_a_missing_local_model_folder_is_a_config_error(tmp_path):
    # refused when the backend is made, before any model loads
    with pytest.raises(ConfigError, match="does not exist") as info:
        make_backend({"backend": "local", "model": str(tmp_path / "no-such-model")})
    assert info.value.where == "teacher.model"
