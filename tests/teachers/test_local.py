"""The local transformers backend on the real embedded SmolLM2 (small generations only)."""

import asyncio

import pytest

from trajkit.schema import Sampling
from trajkit.teachers import GenerationRequest, TeacherError, make_backend

pytestmark = pytest.mark.model

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
STORY = [{"role": "user", "content": "Write a long story about a dragon who bakes bread."}]
QUESTIONS = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "user", "content": "Name a color."}],
    FRANCE,
]


@pytest.fixture(scope="module")
def backend():
    backend = make_backend({"backend": "local", "max_wait_ms": 50})
    backend.load()
    yield backend
    asyncio.run(backend.aclose())


def generate(backend, *requests):
    async def main():
        return await asyncio.gather(*(backend.generate(r) for r in requests),
                                    return_exceptions=True)

    return asyncio.run(main())


def greedy(tokens):
    return Sampling(temperature=0.0, max_tokens=tokens)


def test_concurrent_requests_are_batched_without_changing_greedy_results(backend):
    alone = [generate(backend, GenerationRequest(q, greedy(16)))[0] for q in QUESTIONS]
    before = len(backend.batch_sizes)
    together = generate(backend, *(GenerationRequest(q, greedy(16)) for q in QUESTIONS))
    assert backend.batch_sizes[before:] == [3]  # one forward pass for all three
    assert [r.text for r in together] == [r.text for r in alone]
    assert all(r.text.strip() for r in together)
    assert [r.prompt_tokens for r in together] == [r.prompt_tokens for r in alone]


def test_each_row_keeps_its_own_max_tokens(backend):
    short, long = generate(backend, GenerationRequest(STORY, greedy(4)),
                           GenerationRequest(STORY, greedy(16)))
    assert (short.completion_tokens, short.finish_reason) == (4, "length")
    assert (long.completion_tokens, long.finish_reason) == (16, "length")
    assert long.text.startswith(short.text) and len(long.text) > len(short.text)


def test_eos_ends_a_turn_with_stop(backend):
    (reply,) = generate(backend, GenerationRequest(FRANCE, greedy(32)))
    assert reply.finish_reason == "stop" and 0 < reply.completion_tokens < 32
    assert "Paris" in reply.text


def test_stop_strings_trim_the_text(backend):
    (full,) = generate(backend, GenerationRequest(STORY, greedy(24)))
    words = full.text.split()
    stop = words[len(words) // 2]
    (cut,) = generate(backend, GenerationRequest(STORY, Sampling(max_tokens=24, stop=[stop])))
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.index(stop)]
    assert cut.completion_tokens < full.completion_tokens


def test_prefix_is_continued_not_regenerated(backend):
    (full,) = generate(backend, GenerationRequest(FRANCE, greedy(32)))
    cut = full.text.index(" ", len(full.text) // 3)  # a word boundary inside the answer
    prefix = full.text[:cut]
    (rest,) = generate(backend, GenerationRequest(FRANCE, greedy(32), assistant_prefix=prefix))
    assert prefix + rest.text == full.text
    assert rest.prompt_tokens > full.prompt_tokens  # the prefix is part of the prompt


def test_n_samples_with_a_seed_are_distinct_and_reproducible(backend):
    sampling = Sampling(temperature=1.0, top_p=0.95, max_tokens=12, n=3, seed=7)
    first, second = generate(backend, GenerationRequest(STORY, sampling),
                             GenerationRequest(STORY, sampling))
    assert len(first.choices) == 3
    assert [c.text for c in first.choices] == [c.text for c in second.choices]
    assert len({c.text for c in first.choices}) >= 2
    assert 3 <= first.completion_tokens <= 3 * 12  # summed over the choices
    (other,) = generate(backend, GenerationRequest(STORY, sampling.model_copy(update={"seed": 8})))
    assert [c.text for c in other.choices] != [c.text for c in first.choices]


def test_a_prompt_too_long_fails_alone(backend):
    huge = [{"role": "user", "content": "word " * 9000}]
    error, fine = generate(backend, GenerationRequest(huge, greedy(4)),
                           GenerationRequest(FRANCE, greedy(4)))
    assert isinstance(error, TeacherError) and "reads at most" in str(error)
    assert not isinstance(fine, BaseException) and fine.completion_tokens == 4


def test_shared_prompt_prefill_changes_no_token(backend, monkeypatch):
    """The n samples of a request reuse one prefill of their prompt; the texts must be exactly
    what prefilling every row separately gives, with requests of different lengths in the batch."""
    from trajkit.teachers import local

    seeded = Sampling(temperature=0.7, top_p=0.9, max_tokens=12, n=3, seed=11)
    requests = [GenerationRequest(STORY, seeded), GenerationRequest(FRANCE, greedy(10).model_copy(update={"n": 2}))]
    shared = generate(backend, *requests)
    calls = []
    monkeypatch.setattr(local, "_shared_prompt_cache", lambda *args: calls.append(1))
    separate = generate(backend, *requests)
    assert calls  # the second run really prefilled row by row
    assert [[c.text for c in r.choices] for r in shared] == [[c.text for c in r.choices] for r in separate]
    assert len(shared[1].choices) == 2 and shared[1].choices[0].text == shared[1].choices[1].text
