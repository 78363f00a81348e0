"""The OpenAI-compatible backend: vLLM serve, llama.cpp's server, OpenAI and friends.

- bounded concurrency: at most `max_concurrency` HTTP requests in flight;
- retries with exponential backoff and jitter on 408/409/425/429/5xx, timeouts and connection
  errors, honouring Retry-After; 400/401/403/404/422 fail at once with a clear TeacherError;
- a per-request deadline (`timeout_s`, the whole response, not just each read);
- n > 1: asks for n choices and, when the server returns fewer (llama.cpp ignores `n`), makes
  the missing samples as separate requests and from then on splits every n > 1 request;
- assistant prefixes (`prefix_mode`):
    `continue_final_message` (default; vLLM): the prefix is sent as a final assistant message
      with `continue_final_message=true, add_generation_prompt=false`;
    `completions`: the chat template is rendered locally (`tokenizer`) and the prompt, prefix
      included, goes to the completions endpoint; every request then uses that endpoint so
      prefixed and unprefixed turns share one template.
- the API key comes from the environment variable named by `api_key_env` and is never
  logged, stored or put into an error message.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from trajkit.errors import ConfigError
from trajkit.teachers.base import (
    BackendBase,
    Choice,
    GenerationRequest,
    GenerationResponse,
    Stopwatch,
    TeacherError,
    trim_at_stop,
)
from trajkit.teachers.chat_template import load_tokenizer, plain_messages, render_chat
from trajkit.teachers.config import OpenAITeacher
from trajkit.teachers.retry import RetryPolicy, is_retryable_status, parse_retry_after

log = logging.getLogger("trajkit.teachers")

PREFIX_MODES = ("continue_final_message", "completions")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
T = TypeVar("T")


@dataclass(frozen=True)
class _Failure:
    retryable: bool
    status: int | None
    retry_after_s: float | None
    detail: str


@dataclass
class _Part:
    choices: list[Choice]
    prompt_tokens: int
    completion_tokens: int


class OpenAICompatBackend(BackendBase):
    name = "openai"

    def __init__(self, config: OpenAITeacher):
        """One server: `config.base_url` is one URL here (a list is `endpoints.EndpointPool`)."""
        import openai  # a core dependency, imported here to keep `import trajkit` fast

        prefix_mode, api_key_env, timeout_s = config.prefix_mode, config.api_key_env, config.timeout_s
        if prefix_mode not in PREFIX_MODES:
            raise ConfigError(
                f"prefix_mode {prefix_mode!r} is not one of {', '.join(PREFIX_MODES)}",
                where="teacher.prefix_mode",
                fix="use continue_final_message for vLLM, completions for other servers",
            )
        if config.max_concurrency < 1:
            raise ConfigError("max_concurrency must be >= 1", where="teacher.max_concurrency")
        if isinstance(config.base_url, list):
            raise ValueError("one OpenAI-compatible backend talks to one base_url (a list is an EndpointPool)")
        self.base_url = (config.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.model = config.model or ""
        self.prefix_mode = prefix_mode
        self._api_key_env = api_key_env
        key = os.environ.get(api_key_env) if api_key_env else None
        if not key and config.api_key_required:
            raise ConfigError(
                f"the environment variable {api_key_env} holding the API key is not set",
                where="teacher.api_key_env",
                fix=f"export {api_key_env}=... before running (keys never go into recipes)",
            )
        self._openai = openai
        # retries are ours (Retry-After, jitter, one budget per request), so the client's are off
        self._client = openai.AsyncOpenAI(
            api_key=key or "no-key", base_url=self.base_url, max_retries=0, timeout=timeout_s
        )
        self._timeout_s = timeout_s
        self._policy = RetryPolicy(config.max_retries, config.backoff_base_s, config.backoff_max_s)
        self._semaphore = asyncio.Semaphore(config.max_concurrency)
        self._extra_body = dict(config.extra_body or {})
        self._tokenizer = load_tokenizer(config.tokenizer or config.model) if prefix_mode == "completions" else None
        self._model_lock = asyncio.Lock()
        self.server_ignores_n = False
        self.max_n: int | None = None  # most choices one request may ask for (None: no limit)
        self.requests_sent = 0  # HTTP attempts, retries included
        self.retries = 0
        self.retry_log: deque[tuple[str, float]] = deque(maxlen=1000)  # (failure, delay in s)

    # ------------------------------------------------------------------ public

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        watch = Stopwatch()
        await self._resolve_model()
        n, seed = request.sampling.n, request.sampling.seed
        if self.server_ignores_n and n > 1:
            parts = await self._split(request, range(n), seed)
        elif self.max_n is not None and n > self.max_n:
            parts = await self._in_groups(request, n, seed)
        else:
            parts = [await self._request(request, n, seed)]
            missing = n - len(parts[0].choices)
            if missing > 0:
                log.info("%s returned %d of %d choices: sampling n separately from now on",
                         self.base_url, len(parts[0].choices), n)
                self.server_ignores_n = True
                parts += await self._split(request, range(n - missing, n), seed)
        choices = [choice for part in parts for choice in part.choices][:n]
        return GenerationResponse(
            choices=choices,
            prompt_tokens=parts[0].prompt_tokens,
            completion_tokens=sum(part.completion_tokens for part in parts),
            latency_ms=watch.ms(),
        )

    async def aclose(self) -> None:
        await self._client.close()

    # ----------------------------------------------------------------- requests

    async def _in_groups(self, request: GenerationRequest, n: int, seed: int | None):
        """n choices as requests of at most `max_n` each (llama.cpp caps n at its slot count)."""
        starts = range(0, n, self.max_n)
        return await asyncio.gather(*(
            self._request(request, min(self.max_n, n - start), None if seed is None else seed + start)
            for start in starts
        ))

    async def _split(self, request: GenerationRequest, samples: range, seed: int | None):
        """One n=1 request per sample; distinct seeds so a seeded request still gives n samples."""
        return await asyncio.gather(
            *(self._request(request, 1, None if seed is None else seed + i) for i in samples)
        )

    async def _request(self, request: GenerationRequest, n: int, seed: int | None) -> _Part:
        if self.prefix_mode == "completions":
            part = await self._with_retries(lambda: self._completion(request, n, seed))
        else:
            part = await self._with_retries(
                lambda: self._chat(request, n, seed), prefixed=request.assistant_prefix is not None
            )
        stop = request.sampling.stop
        if stop:  # servers differ in honouring or echoing stop strings: make it uniform
            trimmed = []
            for choice in part.choices:
                text, hit = trim_at_stop(choice.text, stop)
                trimmed.append(replace(choice, text=text, finish_reason="stop" if hit else choice.finish_reason,
                                       stop=hit or choice.stop))
            part.choices = trimmed
        return part

    def _sampling_kwargs(self, request: GenerationRequest, n: int, seed: int | None) -> dict:
        sampling = request.sampling
        kwargs: dict[str, Any] = {
            "model": self.model,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if n > 1:
            kwargs["n"] = n
        if sampling.max_tokens is not None:
            kwargs["max_tokens"] = sampling.max_tokens
        if sampling.stop:
            kwargs["stop"] = list(sampling.stop)
        if seed is not None:
            kwargs["seed"] = seed
        return kwargs

    async def _chat(self, request: GenerationRequest, n: int, seed: int | None) -> _Part:
        kwargs = self._sampling_kwargs(request, n, seed)
        messages = plain_messages(request.messages)
        extra = dict(self._extra_body)
        if request.assistant_prefix is not None:
            messages.append({"role": "assistant", "content": request.assistant_prefix})
            extra.update(continue_final_message=True, add_generation_prompt=False)
        if request.logprobs:
            kwargs["logprobs"] = True
        response = await self._client.chat.completions.create(
            messages=messages, extra_body=extra or None, **kwargs
        )
        choices = [_chat_choice(c) for c in response.choices]
        return _Part(choices, *_usage(response))

    async def _completion(self, request: GenerationRequest, n: int, seed: int | None) -> _Part:
        kwargs = self._sampling_kwargs(request, n, seed)
        prompt = render_chat(self._tokenizer, request.messages, request.assistant_prefix)
        if request.logprobs:
            kwargs["logprobs"] = 1
        response = await self._client.completions.create(
            prompt=prompt, extra_body=self._extra_body or None, **kwargs
        )
        choices = [Choice(c.text or "", c.finish_reason or "stop", *_completion_tokens(c)) for c in response.choices]
        return _Part(choices, *_usage(response))

    async def _resolve_model(self) -> None:
        """No model configured: use the first one the server lists (vLLM, llama.cpp)."""
        if self.model:
            return
        async with self._model_lock:
            if self.model:
                return
            listing = await self._with_retries(self._client.models.list)
            ids = [entry.id for entry in listing.data]
            if not ids:
                raise TeacherError(
                    "the server lists no models", where=self.base_url,
                    fix="set teacher.model to the model name the server expects",
                )
            self.model = ids[0]

    # ------------------------------------------------------------------ retries

    async def _with_retries(
        self, operation: Callable[[], Awaitable[T]], *, prefixed: bool = False
    ) -> T:
        attempts = self._policy.max_retries + 1
        for attempt in range(attempts):
            try:
                async with self._semaphore:
                    self.requests_sent += 1
                    async with asyncio.timeout(self._timeout_s):
                        return await operation()
            except (self._openai.OpenAIError, TimeoutError) as exc:
                failure = self._classify(exc)
            if not failure.retryable:
                raise self._refusal(failure, prefixed)
            await self._before_retry(failure)
            if attempt + 1 == attempts:
                raise TeacherError(
                    f"the teacher server failed after {attempts} attempts (last: {failure.detail})",
                    where=self.base_url,
                    fix="check that the server is up and reachable (teacher.base_url); for a busy "
                    "server raise teacher.max_retries or teacher.timeout_s",
                    status=failure.status,
                    retryable=True,
                    attempts=attempts,
                )
            delay = self._policy.delay(attempt, failure.retry_after_s)
            self.retries += 1
            self.retry_log.append((failure.detail, delay))
            log.warning("teacher request failed (%s); retry %d/%d in %.1fs",
                        failure.detail, attempt + 1, attempts - 1, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _before_retry(self, failure: _Failure) -> None:
        """Called before a retryable failure is retried; a subclass may repair or give up."""

    def _classify(self, exc: BaseException) -> _Failure:
        openai = self._openai
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            return _Failure(
                is_retryable_status(status),
                status,
                parse_retry_after(exc.response.headers),
                f"HTTP {status}: {_short(_server_message(exc))}",
            )
        if isinstance(exc, openai.APITimeoutError | TimeoutError):
            return _Failure(True, None, None, f"no complete response within {self._timeout_s:g}s")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            reason = _describe(cause) if cause else str(exc)
            return _Failure(True, None, None, f"connection failed ({_short(reason)})")
        # a malformed or truncated body (a proxy cut it, a server crashed mid-write)
        return _Failure(True, None, None, _short(_describe(exc)))

    def _refusal(self, failure: _Failure, prefixed: bool) -> TeacherError:
        status = failure.status
        if status in (401, 403):
            key = self._api_key_env or "the API key variable"
            what, fix = (
                f"the server refused the credentials ({failure.detail})",
                f"set {key} to a valid key (teacher.api_key_env names the variable)",
            )
        elif status == 404:
            what, fix = (
                f"model {self.model!r} or its endpoint was not found ({failure.detail})",
                "check teacher.model and teacher.base_url (it usually ends in /v1)",
            )
        else:
            what, fix = (
                f"the server rejected the request ({failure.detail})",
                "check the sampling parameters, the model name and the prompt length",
            )
            if prefixed:
                fix += "; servers other than vLLM may refuse continue_final_message: set "
                fix += "teacher.prefix_mode: completions"
        return TeacherError(what, where=self.base_url, fix=fix, status=status, retryable=False)


def _chat_choice(choice) -> Choice:
    ids, logprobs = _chat_tokens(choice)
    return Choice(choice.message.content or "", choice.finish_reason or "stop", ids, logprobs,
                  end_of_turn=_ends_with_end_of_turn(choice))


def _ends_with_end_of_turn(choice) -> bool:
    """llama.cpp lists the end-of-turn token last, as an entry with empty text (a stop string's
    tokens are not listed): the model ended its turn itself."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content or (choice.finish_reason or "stop") != "stop":
        return False
    last = content[-1]
    return getattr(last, "token", None) == "" and getattr(last, "id", None) is not None


def _chat_tokens(choice) -> tuple[list[int] | None, list[float] | None]:
    """(token ids, logprobs) of a chat choice's `logprobs.content`: llama.cpp's server adds each
    token's `id`; OpenAI gives logprobs only (ids None)."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None, None
    logprobs = [float(entry.logprob) for entry in content]
    ids = [getattr(entry, "id", None) for entry in content]
    return (None if any(i is None for i in ids) else [int(i) for i in ids]), logprobs


def _completion_tokens(choice) -> tuple[list[int] | None, list[float] | None]:
    """(None, logprobs) of a completions choice (`logprobs.token_logprobs`); llama.cpp's
    completions endpoint does not name token ids in this form."""
    values = getattr(getattr(choice, "logprobs", None), "token_logprobs", None)
    if not values:
        return None, None
    return None, [float(v) for v in values if v is not None]


def _usage(response) -> tuple[int, int]:
    usage = getattr(response, "usage", None)
    if usage is None:
        return 0, 0
    return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)


def _server_message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("detail"):
            return str(body["detail"])
    return getattr(exc, "message", "") or str(exc)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
