"""Retries against a fault-injecting proxy: recoverable faults recover, refusals surface."""

import asyncio

import pytest

from trajkit.schema import Sampling
from trajkit.teachers import GenerationRequest, TeacherError, make_backend
from trajkit.teachers.fault_proxy import FaultPlan, FaultProxy

from .conftest import SCRIPT

USER = {"role": "user", "content": "What is the capital of France?"}


def upstream_of(server) -> str:
    return f"127.0.0.1:{server.port}"


def backend_for(proxy, **options):
    config = {"backend": "openai", "base_url": proxy.base_url, "model": "m",
              "backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5, **options}
    return make_backend(config)


def run_all(backend, requests):
    async def main():
        try:
            return await asyncio.gather(*(backend.generate(r) for r in requests),
                                        return_exceptions=True)
        finally:
            await backend.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize("fault", ["429", "500", "503", "reset", "truncate"])
def test_each_recoverable_fault_is_retried(scripted_server, fault):
    plan = FaultPlan(sequence=[fault, fault], retry_after_s=0.2)
    with FaultProxy(upstream_of(scripted_server), plan) as proxy:
        backend = backend_for(proxy)
        (reply,) = run_all(backend, [GenerationRequest([USER])])
        assert proxy.faults() == [fault, fault, "pass"]
    assert reply.text == SCRIPT[0]
    assert backend.retries == 2 and backend.requests_sent == 3


def test_retry_after_is_honoured(scripted_server):
    with FaultProxy(upstream_of(scripted_server),
                    FaultPlan(sequence=["429", "500"], retry_after_s=0.3)) as proxy:
        backend = backend_for(proxy)
        (reply,) = run_all(backend, [GenerationRequest([USER])])
    assert reply.text == SCRIPT[0]
    (first, delay_429), (second, delay_500) = backend.retry_log
    assert "HTTP 429" in first and delay_429 == 0.3  # the server's word, not our backoff
    assert "HTTP 500" in second and delay_500 <= 0.05


def test_slow_responses_time_out_and_are_retried(scripted_server):
    plan = FaultPlan(sequence=["slow"], slow_s=3.0)
    with FaultProxy(upstream_of(scripted_server), plan) as proxy:
        backend = backend_for(proxy, timeout_s=0.5)
        (reply,) = run_all(backend, [GenerationRequest([USER])])
    assert reply.text == SCRIPT[0]
    assert "no complete response within 0.5s" in backend.retry_log[0][0]


@pytest.mark.parametrize(("fault", "status", "words"),
                         [("400", 400, "rejected the request"),
                          ("401", 401, "refused the credentials")])
def test_refusals_are_not_retried(scripted_server, fault, status, words):
    with FaultProxy(upstream_of(scripted_server), FaultPlan(sequence=[fault])) as proxy:
        backend = backend_for(proxy)
        (error,) = run_all(backend, [GenerationRequest([USER])])
        assert proxy.faults() == [fault]
    assert isinstance(error, TeacherError)
    assert error.status == status and not error.retryable and words in str(error)
    assert "injected fault" in str(error)  # the server's own message is kept
    assert backend.retries == 0


def test_a_server_that_keeps_failing_gives_a_clear_error(scripted_server):
    with FaultProxy(upstream_of(scripted_server), FaultPlan(rates={"503": 1.0})) as proxy:
        backend = backend_for(proxy, max_retries=3)
        (error,) = run_all(backend, [GenerationRequest([USER])])
    assert isinstance(error, TeacherError) and error.retryable and error.status == 503
    assert "failed after 4 attempts (last: HTTP 503" in str(error)


def test_twenty_percent_mixed_faults_under_concurrency_all_complete(scripted_server):
    rates = {"429": 0.05, "500": 0.05, "reset": 0.05, "truncate": 0.05}
    with FaultProxy(upstream_of(scripted_server),
                    FaultPlan(rates=rates, seed=3, retry_after_s=0.05)) as proxy:
        backend = backend_for(proxy, max_concurrency=8, max_retries=8)
        requests = [GenerationRequest([USER], Sampling(seed=i)) for i in range(40)]
        replies = run_all(backend, requests)
        faults = proxy.faults()
    assert all(not isinstance(r, BaseException) for r in replies), replies
    assert all(r.text == SCRIPT[0] for r in replies)
    injected = [f for f in faults if f != "pass"]
    assert len(injected) >= 4 and backend.retries == len(injected)
    assert faults.count("pass") == 40


@pytest.mark.server
@pytest.mark.model
def test_llama_server_behind_faults_gives_the_fault_free_answer(llama_server, llama_upstream):
    sampling = Sampling(temperature=0.0, max_tokens=12)
    direct = make_backend({"backend": "openai", "base_url": llama_server.base_url})
    (expected,) = run_all(direct, [GenerationRequest([USER], sampling)])
    plan = FaultPlan(sequence=["429", "500", "reset", "truncate", "slow"], retry_after_s=0.2,
                     slow_s=15.0)
    with FaultProxy(llama_upstream, plan) as proxy:
        backend = backend_for(proxy, model=llama_server.alias, timeout_s=6, max_retries=6)
        (reply,) = run_all(backend, [GenerationRequest([USER], sampling)])
        assert proxy.faults() == ["429", "500", "reset", "truncate", "slow", "pass"]
    assert not isinstance(reply, BaseException), reply
    assert reply.text == expected.text and reply.text.strip()
    assert backend.retries == 5
