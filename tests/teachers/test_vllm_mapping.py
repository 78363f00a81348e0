"""vLLM: the request/response mapping (pure, runs everywhere) and a real run where vLLM exists."""

import asyncio
import importlib.util
from types import SimpleNamespace

import pytest

from trajkit.errors import MissingExtraError
from trajkit.schema import Sampling
from trajkit.teachers import GenerationRequest, make_backend
from trajkit.teachers.vllm_mapping import response_from_output, sampling_kwargs

USER = {"role": "user", "content": "What is 6 times 7?"}
HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_sampling_maps_to_sampling_params_kwargs():
    kwargs = sampling_kwargs(Sampling(temperature=0.6, top_p=0.9, max_tokens=64, n=4, seed=3,
                                      stop=["<end_code>"]))
    assert kwargs == {"n": 4, "temperature": 0.6, "top_p": 0.9, "max_tokens": 64, "seed": 3,
                      "stop": ["<end_code>"]}
    defaults = sampling_kwargs(Sampling(), default_max_tokens=100)
    assert defaults == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 100}


def test_request_output_maps_to_a_response():
    output = SimpleNamespace(
        prompt_token_ids=[1, 2, 3, 4],
        outputs=[
            SimpleNamespace(text="print(42)\n<end_code> more", token_ids=[7, 8, 9],
                            finish_reason="length"),
            SimpleNamespace(text="final_answer(42)", token_ids=[5, 6], finish_reason="stop"),
        ],
    )
    response = response_from_output(output, stop=["<end_code>"])
    assert [(c.text, c.finish_reason) for c in response.choices] == [
        ("print(42)\n", "stop"), ("final_answer(42)", "stop")]
    assert (response.prompt_tokens, response.completion_tokens) == (4, 5)


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_without_vllm_the_error_names_the_extra():
    with pytest.raises(MissingExtraError, match=r"trajkit\[vllm\]"):
        make_backend({"backend": "vllm", "model": "Qwen/Qwen2.5-0.5B-Instruct"})


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.gpu
def test_real_vllm_generates_batched_chat():
    pytest.importorskip("vllm")
    from trajkit.models.embedded_llm import embedded_model_path

    backend = make_backend({"backend": "vllm", "model": str(embedded_model_path()),
                            "gpu_memory_utilization": 0.3, "max_model_len": 2048})

    async def main():
        try:
            return await asyncio.gather(
                backend.generate(GenerationRequest([USER], Sampling(max_tokens=16))),
                backend.generate(GenerationRequest([USER], Sampling(max_tokens=8, n=2,
                                                                    temperature=1.0, seed=1))),
                backend.generate(GenerationRequest([USER], Sampling(max_tokens=16),
                                                   assistant_prefix="6 times 7 is")),
            )
        finally:
            await backend.aclose()

    plain, sampled, prefixed = asyncio.run(main())
    assert plain.text.strip() and plain.completion_tokens <= 16 and plain.prompt_tokens > 0
    assert len(sampled.choices) == 2 and sampled.completion_tokens <= 16
    assert not prefixed.text.startswith("6 times 7 is")  # continuation only
