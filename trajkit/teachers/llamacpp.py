"""The `llamacpp` backend: trajkit runs llama.cpp's native server itself and talks to it over HTTP.

    teacher: {backend: llamacpp, model: qwen2.5-coder-1.5b, parallel: 4, context: 16384}

`model` is a registry name (`trajkit models list`; assembled and hash-checked on first use) or a
local `.gguf`. The server starts on 127.0.0.1 on a free port when the backend is made and stops
on `aclose()` or when trajkit dies. Requests go through the `openai` backend's client path
(bounded concurrency, retries, `n`, stop strings). A server that dies mid-build is restarted
once on the same port; requests in flight retry against it. After that, requests fail at once
as teacher errors, which `trajkit build --retry-failed` redoes.

llama.cpp's server continues a chat that ends with an assistant message and returns the prefix
with the continuation; the prefix is cut off here so callers get the continuation only, as the
backend interface says.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from trajkit.teachers.base import GenerationRequest, TeacherError
from trajkit.teachers.config import LlamaCppTeacher, OpenAITeacher
from trajkit.teachers.llama_server import LlamaServer
from trajkit.teachers.openai_compat import OpenAICompatBackend, _Failure, _Part

log = logging.getLogger("trajkit.teachers")

DEFAULT_MODEL = "qwen2.5-coder-1.5b"


class LlamaCppBackend(OpenAICompatBackend):
    name = "llamacpp"

    def __init__(self, config: LlamaCppTeacher | None = None):
        from trajkit.models.specs import resolve_gguf

        config = config or LlamaCppTeacher()
        model, parallel = config.model or DEFAULT_MODEL, config.parallel
        gguf = resolve_gguf(model)
        self.server = LlamaServer(
            gguf, port=config.port, context=config.context, parallel=parallel, threads=config.threads,
            alias=str(model), startup_timeout_s=config.startup_timeout_s,
        ).start()
        try:
            super().__init__(
                OpenAITeacher(
                    base_url=self.server.base_url, model=str(model), api_key_env=None,
                    max_concurrency=parallel * 2, timeout_s=config.timeout_s, max_retries=config.max_retries,
                    backoff_base_s=config.backoff_base_s, backoff_max_s=config.backoff_max_s,
                    extra_body={"cache_prompt": True, **(config.extra_body or {})},
                )
            )
        except BaseException:
            self.server.stop()
            raise
        self.max_n = parallel  # the server refuses n above its slot count
        self.model_spec = str(model)
        self.gguf_path = gguf
        self.restarts_left = config.restarts
        self._restart_lock = asyncio.Lock()

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            self.server.stop()

    async def _chat(self, request: GenerationRequest, n: int, seed: int | None) -> _Part:
        # always with token logprobs: they tell a turn the model ended with its end-of-turn token
        # from one cut at a stop string, which the server does not name (`Choice.end_of_turn`)
        part = await super()._chat(replace(request, logprobs=True), n, seed)
        prefix = request.assistant_prefix
        part.choices = [
            replace(
                c,
                text=c.text[len(prefix):] if prefix and c.text.startswith(prefix) else c.text,
                token_ids=c.token_ids if request.logprobs else None,
                logprobs=c.logprobs if request.logprobs else None,
            )
            for c in part.choices
        ]
        return part

    async def _before_retry(self, failure: _Failure) -> None:
        """A failed request: if the server process died, restart it once, else give up now."""
        if self.server.alive():
            return
        async with self._restart_lock:
            if self.server.alive():
                return  # another request restarted it meanwhile
            if self.restarts_left <= 0:
                raise TeacherError(
                    f"the llama.cpp server died again and is not restarted ({failure.detail})",
                    where=self.base_url,
                    fix="check memory and the model file, then re-run with --retry-failed",
                    retryable=True,
                )
            self.restarts_left -= 1
            log.warning("the llama.cpp server died (%s); restarting it on port %d",
                        failure.detail, self.server.port)
            # on the event loop's thread on purpose: the parent-death signal follows the thread
            self.server.restart()
