"""Several OpenAI-compatible servers behind one backend: load spread, dead servers rotated out.

    teacher:
      backend: openai
      base_url: [http://gpu-node-1:8000/v1, http://gpu-node-2:8000/v1]   # a list: this pool
      endpoint_cooldown_s: 5     # a failing server is skipped this long (doubling, up to 60 s)

Every request goes to the healthy endpoint with the fewest requests in flight (ties rotate from
a per-process offset, so the actors of a Ray build start on different servers). A retryable
failure (connection refused or reset, timeout, 429, 5xx) takes that endpoint out of rotation for
a cool-down, doubling while it keeps failing, and the request moves to another endpoint; a
success puts it back. When every endpoint is cooling down the request waits for the first to
come back. Non-retryable refusals (400, 401, 404) fail at once, as with one server.

Each endpoint is an `OpenAICompatBackend` with its own retries off (the pool retries across
endpoints) and its own `max_concurrency`.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

from trajkit.errors import ConfigError
from trajkit.teachers.base import BackendBase, GenerationRequest, GenerationResponse, TeacherError
from trajkit.teachers.config import OpenAITeacher
from trajkit.teachers.openai_compat import OpenAICompatBackend

MAX_COOLDOWN_S = 60.0


@dataclass
class Endpoint:
    backend: OpenAICompatBackend
    in_flight: int = 0
    requests: int = 0  # answered
    failures: int = 0  # retryable failures seen
    consecutive: int = 0
    down_until: float = 0.0
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.backend.base_url

    def healthy(self, now: float) -> bool:
        return now >= self.down_until


class EndpointPool(BackendBase):
    name = "openai"

    def __init__(self, config: OpenAITeacher):
        urls = [str(u) for u in config.base_url] if isinstance(config.base_url, list) else [str(config.base_url)]
        if not urls:
            raise ConfigError("teacher.base_url is an empty list", where="teacher.base_url",
                              fix="give one URL or a list of OpenAI-compatible server URLs")
        if len(set(urls)) != len(urls):
            raise ConfigError("teacher.base_url lists a server twice", where="teacher.base_url",
                              fix="list each server once")
        self.endpoints = [
            Endpoint(OpenAICompatBackend(config.model_copy(update={"base_url": url, "max_retries": 0}))) for url in urls
        ]
        self.model = self.endpoints[0].backend.model
        self.cooldown_s = config.endpoint_cooldown_s
        self.max_attempts = max(config.max_retries, len(urls)) + 1
        self._turn = os.getpid() % len(urls)  # where ties start: differs between actors

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        last: TeacherError | None = None
        for _ in range(self.max_attempts):
            endpoint = await self._pick()
            endpoint.in_flight += 1
            try:
                response = await endpoint.backend.generate(request)
            except TeacherError as exc:
                if not exc.retryable:
                    raise
                self._failed(endpoint, exc)
                last = exc
                continue
            finally:
                endpoint.in_flight -= 1
            endpoint.requests += 1
            endpoint.consecutive = 0
            endpoint.down_until = 0.0
            self.model = self.model or endpoint.backend.model
            return response
        urls = ", ".join(e.url for e in self.endpoints)
        raise TeacherError(
            f"all {len(self.endpoints)} teacher servers failed ({self.max_attempts} attempts; last: {last})",
            where=urls,
            fix="check that the servers are up (teacher.base_url); raise teacher.max_retries for busy servers",
            retryable=True,
            attempts=self.max_attempts,
        )

    async def _pick(self) -> Endpoint:
        now = time.monotonic()
        healthy = [e for e in self.endpoints if e.healthy(now)]
        if not healthy:  # everyone is cooling down: wait for the first to come back
            soonest = min(self.endpoints, key=lambda e: e.down_until)
            await asyncio.sleep(max(0.0, soonest.down_until - now))
            return soonest
        count = len(self.endpoints)
        order = {id(e): (i - self._turn) % count for i, e in enumerate(self.endpoints)}
        chosen = min(healthy, key=lambda e: (e.in_flight, order[id(e)]))
        self._turn = (self._turn + 1) % count
        return chosen

    def _failed(self, endpoint: Endpoint, exc: TeacherError) -> None:
        endpoint.failures += 1
        endpoint.consecutive += 1
        pause = min(self.cooldown_s * 2 ** (endpoint.consecutive - 1), MAX_COOLDOWN_S)
        endpoint.down_until = time.monotonic() + pause
        endpoint.log.append(str(exc.args[0]) if exc.args else str(exc))

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.backend.aclose()
