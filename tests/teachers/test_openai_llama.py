"""The OpenAI-compatible backend against a real third-party server: llama.cpp's server."""

import asyncio

import pytest

from trajkit.schema import Sampling
from trajkit.teachers import GenerationRequest, make_backend

pytestmark = [pytest.mark.server, pytest.mark.model]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
STORY = [{"role": "user", "content": "Write a long story about a dragon who bakes bread."}]


def backend_for(server, **options):
    return make_backend({"backend": "openai", "base_url": server.base_url, **options})


def generate(backend, *requests):
    async def main():
        try:
            return await asyncio.gather(*(backend.generate(r) for r in requests))
        finally:
            await backend.aclose()

    return asyncio.run(main())


def test_chat_usage_and_length_limit(llama_server):
    backend = backend_for(llama_server)
    (reply,) = generate(backend, GenerationRequest(STORY, Sampling(max_tokens=8)))
    assert backend.model == llama_server.alias  # discovered from /v1/models
    assert reply.finish_reason == "length" and reply.completion_tokens == 8
    assert reply.prompt_tokens > 10 and reply.text.strip()


def test_stop_strings(llama_server):
    (full,) = generate(backend_for(llama_server), GenerationRequest(STORY, Sampling(max_tokens=24)))
    stop = full.text.split()[len(full.text.split()) // 2]
    (cut,) = generate(backend_for(llama_server),
                      GenerationRequest(STORY, Sampling(max_tokens=24, stop=[stop])))
    assert cut.finish_reason == "stop" and cut.text == full.text[: full.text.index(stop)]


def test_n_choices_come_from_one_request(llama_server):
    backend = backend_for(llama_server)
    sampling = Sampling(temperature=1.0, max_tokens=8, n=3, seed=1)
    (reply,) = generate(backend, GenerationRequest(STORY, sampling))
    assert not backend.server_ignores_n  # the native server honours n
    assert backend.requests_sent == 2  # /models, then one chat request for all three choices
    assert len(reply.choices) == 3
    assert len({c.text for c in reply.choices}) >= 2  # separate seeds, separate samples
    (again,) = generate(backend_for(llama_server), GenerationRequest(STORY, sampling))
    assert [c.text for c in again.choices] == [c.text for c in reply.choices]  # seeded


def test_completions_mode_renders_the_same_prompt_as_the_server(llama_server):
    chat = backend_for(llama_server)
    local = backend_for(llama_server, prefix_mode="completions", tokenizer="embedded")
    sampling = Sampling(max_tokens=16)
    (via_chat,) = generate(chat, GenerationRequest(FRANCE, sampling))
    (via_template,) = generate(local, GenerationRequest(FRANCE, sampling))
    assert via_template.text == via_chat.text
    assert via_template.prompt_tokens == via_chat.prompt_tokens


def test_prefix_is_continued_through_the_completions_endpoint(llama_server):
    backend = backend_for(llama_server, prefix_mode="completions", tokenizer="embedded")
    (rest,) = generate(backend,
                       GenerationRequest(FRANCE, Sampling(max_tokens=16), assistant_prefix="The capital"))
    assert rest.text.startswith(" of France")  # a continuation, not a new answer
    assert "The capital" not in rest.text


def test_concurrent_requests_all_complete(llama_server):
    backend = backend_for(llama_server, max_concurrency=3)
    replies = generate(backend, *(GenerationRequest(STORY, Sampling(max_tokens=4, seed=i))
                                  for i in range(6)))
    assert all(r.completion_tokens == 4 for r in replies)
