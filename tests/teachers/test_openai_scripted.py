"""The OpenAI-compatible backend over real HTTP against the scripted server (no model needed)."""

import asyncio

import pytest

from trajkit.schema import Sampling
from trajkit.teachers import GenerationRequest, TeacherError, make_backend
from trajkit.teachers.scripted_server import ScriptedServer

from .conftest import SCRIPT

USER = {"role": "user", "content": "What is 6 times 7?"}


def backend_for(url: str, **options):
    return make_backend({"backend": "openai", "base_url": url, "api_key_env": "TRAJKIT_TEST_KEY",
                         "backoff_base_s": 0.01, **options})


def generate(backend, *requests):
    async def main():
        try:
            return await asyncio.gather(*(backend.generate(r) for r in requests))
        finally:
            await backend.aclose()

    return asyncio.run(main())


def test_chat_turns_usage_and_model_discovery(scripted_server):
    backend = backend_for(scripted_server.base_url)
    first, third = generate(
        backend,
        GenerationRequest([USER]),
        GenerationRequest([USER, {"role": "assistant", "content": "a"},
                           {"role": "user", "content": "obs"}, {"role": "assistant", "content": "b"},
                           {"role": "user", "content": "obs"}]),
    )
    assert backend.model == "scripted"  # taken from GET /models
    assert first.text == SCRIPT[0] and third.text == SCRIPT[2]
    assert first.completion_tokens == len(SCRIPT[0].split())
    assert first.prompt_tokens == 5 and first.latency_ms > 0


def test_sampling_parameters_reach_the_server(scripted_server):
    backend = backend_for(scripted_server.base_url, model="m1")
    sampling = Sampling(temperature=0.7, top_p=0.9, max_tokens=5, seed=11, stop=["<end_code>"])
    (reply,) = generate(backend, GenerationRequest([USER], sampling))
    body = scripted_server.requests[-1]["body"]
    assert body["model"] == "m1"
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.7, 0.9, 5, 11)
    assert body["stop"] == ["<end_code>"] and "n" not in body
    assert reply.finish_reason == "length" and len(reply.text.split()) == 5


def test_stop_strings_are_trimmed_even_when_the_server_ignores_them(scripted_server):
    backend = backend_for(scripted_server.base_url)
    history = [USER, {"role": "assistant", "content": "a"}, {"role": "user", "content": "o"}]
    (reply,) = generate(backend, GenerationRequest(history, Sampling(stop=["6 * 7"])))
    assert reply.text == "Thought: now compute.\nCode:\n```py\nprint("
    assert reply.finish_reason == "stop"


def test_prefix_is_continued_with_continue_final_message(scripted_server):
    backend = backend_for(scripted_server.base_url)
    (reply,) = generate(backend, GenerationRequest([USER], assistant_prefix="Thought: I will"))
    assert "Thought: I will" + reply.text == SCRIPT[0]
    body = scripted_server.requests[-1]["body"]
    assert body["messages"][-1] == {"role": "assistant", "content": "Thought: I will"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


def test_n_is_asked_natively_when_the_server_supports_it(scripted_server):
    backend = backend_for(scripted_server.base_url)
    (reply,) = generate(backend, GenerationRequest([USER], Sampling(n=3, temperature=1.0)))
    assert len(reply.choices) == 3 and not backend.server_ignores_n
    assert [r["body"].get("n") for r in scripted_server.requests if "chat" in r["path"]] == [3]


def test_n_falls_back_to_separate_requests_when_the_server_ignores_it():
    with ScriptedServer(SCRIPT, ignore_n=True) as server:
        backend = backend_for(server.base_url)
        first, second = [], []

        async def main():
            first.append(await backend.generate(GenerationRequest([USER], Sampling(n=3, seed=5))))
            second.append(await backend.generate(GenerationRequest([USER], Sampling(n=2, seed=9))))
            await backend.aclose()

        asyncio.run(main())
        bodies = [r["body"] for r in server.requests if "chat" in r["path"]]
    assert len(first[0].choices) == 3 and len(second[0].choices) == 2
    assert backend.server_ignores_n
    # 1 request asking n=3 (answered with 1 choice), 2 more for the missing samples with their
    # own seeds; then the next n=2 request goes straight to 2 separate requests
    assert [b.get("n") for b in bodies] == [3, None, None, None, None]
    assert sorted(b["seed"] for b in bodies[1:3]) == [6, 7]
    assert sorted(b["seed"] for b in bodies[3:]) == [9, 10]
    assert first[0].completion_tokens == 3 * len(SCRIPT[0].split())


def test_api_key_comes_from_the_environment_and_bad_keys_fail_clearly(monkeypatch):
    with ScriptedServer(SCRIPT, api_key="sk-good-123") as server:
        monkeypatch.setenv("TRAJKIT_TEST_KEY", "sk-good-123")
        (reply,) = generate(backend_for(server.base_url, model="m"), GenerationRequest([USER]))
        assert reply.text == SCRIPT[0]

        monkeypatch.setenv("TRAJKIT_TEST_KEY", "sk-wrong-456")
        backend = backend_for(server.base_url, model="m")
        with pytest.raises(TeacherError) as info:
            generate(backend, GenerationRequest([USER]))
    error = info.value
    assert error.status == 401 and not error.retryable and backend.retries == 0
    assert "refused the credentials" in str(error) and "TRAJKIT_TEST_KEY" in str(error)
    assert "sk-wrong-456" not in str(error) and "sk-wrong-456" not in repr(error)


def test_wrong_endpoint_is_a_clear_not_found(scripted_server):
    backend = backend_for(scripted_server.base_url.replace("/v1", "/nope"), model="m")
    with pytest.raises(TeacherError, match="not found") as info:
        generate(backend, GenerationRequest([USER]))
    assert info.value.status == 404 and backend.retries == 0


def test_unreachable_server_fails_after_the_retry_budget():
    from trajkit.teachers.llama_server import free_port

    backend = backend_for(f"http://127.0.0.1:{free_port()}/v1", model="m", max_retries=2)
    with pytest.raises(TeacherError) as info:
        generate(backend, GenerationRequest([USER]))
    assert "failed after 3 attempts" in str(info.value)
    assert "connection failed" in str(info.value) and info.value.retryable
    assert backend.requests_sent == 3


def test_scripted_server_runs_as_its_own_process(tmp_path):
    import json
    import subprocess
    import sys

    script = tmp_path / "responses.json"
    script.write_text(json.dumps(["first", "second"]))
    process = subprocess.Popen(
        [sys.executable, "-m", "trajkit.teachers.scripted_server", "--responses", str(script)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        base_url = line.split()[-1]
        history = [USER, {"role": "assistant", "content": "first"}, USER]
        (reply,) = generate(backend_for(base_url), GenerationRequest(history))
        assert reply.text == "second"
    finally:
        process.terminate()
        process.wait(10)
