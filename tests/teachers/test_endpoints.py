"""Several OpenAI-compatible servers behind one backend, over real HTTP: load spread, a dead
server taken out of rotation, and a build that completes through it."""

import asyncio
import socket

import pytest

from tests.build.conftest import STEP_1, STEP_2, task_file, write_recipe  # noqa: F401  (fixture)
from trajkit.build import build
from trajkit.errors import ConfigError
from trajkit.schema import Sampling
from trajkit.teachers import GenerationRequest, TeacherError, make_backend
from trajkit.teachers.endpoints import EndpointPool
from trajkit.teachers.scripted_server import ScriptedServer

USER = {"role": "user", "content": "What is 6 times 7?"}


def _dead_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def _teacher(urls, **extra):
    return {"backend": "openai", "base_url": urls, "model": "scripted", "api_key_env": None, **extra}


def _ask(backend, *waves):
    """Waves of concurrent requests, one after the other; then the backend is closed."""
    async def main():
        try:
            replies = []
            for count in waves:
                replies += await asyncio.gather(*(
                    backend.generate(GenerationRequest([USER], Sampling(max_tokens=32))) for _ in range(count)))
            return replies
        finally:
            await backend.aclose()

    return asyncio.run(main())


def test_load_spreads_over_servers():
    with ScriptedServer(["a"], latency_s=0.02) as one, ScriptedServer(["b"], latency_s=0.02) as two:
        backend = make_backend(_teacher([one.base_url, two.base_url]))
        assert isinstance(backend, EndpointPool)
        replies = _ask(backend, 40)
        counts = [e.requests for e in backend.endpoints]
    assert sum(counts) == 40 and min(counts) >= 10, counts
    assert {r.text for r in replies} == {"a", "b"}


def test_dead_server_is_taken_out_of_rotation():
    with ScriptedServer(["ok"]) as live:
        backend = make_backend(_teacher([_dead_url(), live.base_url], endpoint_cooldown_s=30))
        dead, alive = backend.endpoints
        first = _ask(backend, 1)  # the first request may try the dead server, then moves on
        failures = dead.failures
        backend = make_backend(_teacher([_dead_url(), live.base_url], endpoint_cooldown_s=30))
        dead, alive = backend.endpoints
        replies = _ask(backend, 10, 10, 10)  # requests in flight when it fails all move over
        failures_total = dead.failures
    assert [r.text for r in first + replies] == ["ok"] * 31
    assert failures <= 1 and alive.requests == 30 and dead.requests == 0
    assert 1 <= failures_total <= 10  # only the first wave tried it
    assert "connection" in dead.log[0]


def test_all_servers_dead_is_a_retryable_teacher_error():
    backend = make_backend(_teacher([_dead_url(), _dead_url()], endpoint_cooldown_s=0.01, max_retries=3))
    with pytest.raises(TeacherError, match="all 2 teacher servers failed") as info:
        _ask(backend, 1)
    assert info.value.retryable


def test_repeated_server_is_an_error():
    with pytest.raises(ConfigError, match="lists a server twice"):
        make_backend(_teacher(["http://a/v1", "http://a/v1"]))


def test_build_through_a_pool_with_one_dead_server(tmp_path, task_file):  # noqa: F811
    with ScriptedServer([STEP_1, STEP_2]) as live:
        recipe = write_recipe(tmp_path, task_file, teacher=_teacher([live.base_url, _dead_url()]))
        dataset, stats = build(recipe, show_progress=False)
    assert len(dataset) == 48 and stats.failed == 0
    assert {t.outcome.status for t in dataset.trajectories()} == {"answered"}
