"""Token-exact capture: the local backend and llama.cpp's server return each choice's completion
token ids and logprobs when asked (and nothing when not)."""

from __future__ import annotations

import asyncio
import math

import pytest

from trajkit.schema import Sampling
from trajkit.teachers import GenerationRequest, make_backend

pytestmark = [pytest.mark.model]

COUNT = [{"role": "user", "content": "Count from one to ten in words."}]


def _run(backend, request):
    async def main():
        try:
            return await backend.generate(request)
        finally:
            await backend.aclose()

    return asyncio.run(main())


def test_local_backend_captures_tokens_matching_a_forward_pass():
    import torch

    backend = make_backend({"backend": "local", "max_wait_ms": 20})
    request = GenerationRequest(COUNT, Sampling(temperature=0.8, top_p=0.9, max_tokens=12, n=2, seed=3), logprobs=True)
    response = _run(backend, request)
    tokenizer, lm = backend._tokenizer, backend._lm
    prompt = tokenizer.apply_chat_template(COUNT, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    for choice in response.choices:
        assert choice.token_ids and len(choice.token_ids) == len(choice.logprobs)
        assert tokenizer.decode(choice.token_ids, skip_special_tokens=True) == choice.text
        # the recorded logprobs are the model's own (raw, temperature 1) for the sampled tokens
        ids = torch.tensor([prompt_ids + choice.token_ids])
        with torch.inference_mode():
            logits = lm(ids).logits[0, len(prompt_ids) - 1 : -1].float()
        expected = torch.log_softmax(logits, -1).gather(-1, torch.tensor(choice.token_ids)[:, None])[:, 0]
        assert torch.allclose(expected, torch.tensor(choice.logprobs), atol=1e-3)
    plain = _run(make_backend({"backend": "local"}), GenerationRequest(COUNT, Sampling(max_tokens=4)))
    assert plain.choices[0].token_ids is None and plain.choices[0].logprobs is None


@pytest.mark.server
def test_llama_cpp_server_returns_token_ids_and_logprobs(llama_server):
    from tests.sft.conftest import load_embedded_tokenizer

    backend = make_backend({"backend": "openai", "base_url": llama_server.base_url})
    response = _run(backend, GenerationRequest(COUNT, Sampling(temperature=0.0, max_tokens=16, n=2), logprobs=True))
    tokenizer = load_embedded_tokenizer()
    for choice in response.choices:
        assert choice.token_ids, "llama.cpp's chat logprobs carry each token's id"
        assert len(choice.token_ids) == len(choice.logprobs)
        assert all(value <= 0 and math.isfinite(value) for value in choice.logprobs)
        assert tokenizer.decode(choice.token_ids, skip_special_tokens=True) == choice.text


@pytest.mark.server
def test_llama_cpp_backend_tells_an_end_of_turn_from_a_stop_string(llama_server):
    """The server cuts stop strings without naming them; its last logprob entry (an empty token)
    shows the model ended its turn itself (the llama.cpp backend asks for it on every request)."""
    backend = make_backend({"backend": "openai", "base_url": llama_server.base_url})
    ended = _run(backend, GenerationRequest(COUNT, Sampling(temperature=0.0, max_tokens=64), logprobs=True))
    assert ended.choices[0].finish_reason == "stop" and ended.choices[0].end_of_turn
    backend = make_backend({"backend": "openai", "base_url": llama_server.base_url})
    cut = _run(backend, GenerationRequest(COUNT, Sampling(temperature=0.0, max_tokens=64, stop=["5"]), logprobs=True))
    assert cut.choices[0].finish_reason == "stop" and not cut.choices[0].end_of_turn
    assert cut.choices[0].text and "5" not in cut.choices[0].text
