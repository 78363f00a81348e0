"""An LLM judge for factual answers, with a versioned prompt and an on-disk cache.

The judge talks to a model through the smallest protocol there is: a callable that takes
chat messages (`[{"role", "content"}]`) and returns the reply text, or an awaitable of it.
`chat_from_backend` makes one from any teacher backend (`trajkit.teachers`).

The prompt has an id and a content hash; both go into every verdict's detail and into the
cache key, so editing the prompt re-judges and re-grading with the same prompt, model and
inputs never calls the model twice. The cache stores the raw reply; the verdict is parsed
from it on every read, so a better parser applies to old replies too.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import re
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trajkit.schema import stable_hash

ChatFn = Callable[[list[dict[str, str]]], "str | Awaitable[str]"]

PROMPT_ID = "qa-judge-v1"
SYSTEM_PROMPT = """\
You grade answers to factual questions. You are given a question, the gold answer (and other
accepted forms of it) and a candidate answer. The candidate is correct when it states the same
fact as the gold answer: different wording, spelling, abbreviation, extra honorifics or a more
precise form of the same value are fine; a different entity, a different value, a hedge between
several values, or a refusal is incorrect.
Reply with one JSON object and nothing else:
{"rationale": "<one or two sentences>", "verdict": "correct" or "incorrect"}"""
USER_TEMPLATE = """\
Question: {question}
Gold answer: {gold}
Also accepted: {aliases}
Candidate answer: {answer}"""
PROMPT_HASH = hashlib.sha256((SYSTEM_PROMPT + "\x00" + USER_TEMPLATE).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class JudgeVerdict:
    correct: bool | None  # None: the reply held no verdict
    rationale: str
    raw: str
    model: str
    prompt_id: str = PROMPT_ID
    prompt_hash: str = PROMPT_HASH
    cached: bool = False

    def detail(self) -> dict[str, Any]:
        return asdict(self)


def judge_messages(question: str, gold: str, answer: str, aliases: Sequence[str] = ()) -> list[dict]:
    user = USER_TEMPLATE.format(
        question=question.strip(),
        gold=gold.strip(),
        aliases="; ".join(a.strip() for a in aliases) or "(none)",
        answer=answer.strip(),
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_VERDICT_LINE = re.compile(r"verdict\W{0,5}\s*(correct|incorrect|wrong|right)\b", re.IGNORECASE)
_WORDS = {"correct": True, "right": True, "incorrect": False, "wrong": False}


def parse_verdict(text: str) -> tuple[bool | None, str]:
    """(correct, rationale) from a judge reply; correct is None when no verdict is found."""
    for match in reversed(_JSON_OBJECT.findall(text)):
        try:
            body = json.loads(match)
        except ValueError:
            continue
        verdict = str(body.get("verdict", "")).strip().lower()
        if verdict in _WORDS:
            return _WORDS[verdict], str(body.get("rationale", "")).strip()
    probe = re.sub(r"\bnot\s+correct\b", "incorrect", text, flags=re.IGNORECASE)
    lines = _VERDICT_LINE.findall(probe)
    if lines:
        return _WORDS[lines[-1].lower()], text.strip()
    words = re.findall(r"\b(correct|incorrect)\b", probe, re.IGNORECASE)
    if words and len({w.lower() for w in words}) == 1:
        return _WORDS[words[0].lower()], text.strip()
    return None, text.strip()


class JudgeCache:
    """Raw judge replies keyed by a hash of everything that shaped them (SQLite, one file)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, "
                "prompt_id TEXT, prompt_hash TEXT, reply TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def get(self, key: str) -> str | None:
        with self._lock, self._connect() as db:
            row = db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, model: str, reply: str) -> None:
        with self._lock, self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
                (key, model, PROMPT_ID, PROMPT_HASH, reply),
            )

    def __len__(self) -> int:
        with self._lock, self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]


def default_cache_path() -> Path:
    from trajkit.cache import cache_root

    return cache_root() / "judge" / "replies.sqlite"


class LLMJudge:
    """Judge answers with `chat`; `model` names the judge in grader ids and cache keys."""

    def __init__(
        self,
        chat: ChatFn,
        model: str,
        *,
        cache: JudgeCache | Path | None = None,
        closer: Callable[[], Awaitable[None]] | None = None,
    ):
        self.chat = chat
        self.model = model
        if cache is None:
            cache = default_cache_path()
        self.cache = cache if isinstance(cache, JudgeCache) else JudgeCache(cache)
        self.calls = 0  # model calls made (cache misses)
        self._closer = closer
        self._loop: _LoopThread | None = None

    @property
    def grader_name(self) -> str:
        return f"llm_judge:{self.model}"

    def cache_key(self, question: str, gold: str, answer: str, aliases: Sequence[str]) -> str:
        return stable_hash(
            [PROMPT_ID, PROMPT_HASH, self.model, question, gold, sorted(aliases), answer], length=32
        )

    async def ajudge(
        self, question: str, gold: str, answer: str, aliases: Sequence[str] = ()
    ) -> JudgeVerdict:
        key = self.cache_key(question, gold, answer, aliases)
        reply = self.cache.get(key)
        cached = reply is not None
        if reply is None:
            result = self.chat(judge_messages(question, gold, answer, aliases))
            reply = await result if inspect.isawaitable(result) else result
            if not isinstance(reply, str):
                raise TypeError(f"the judge's chat function returned {type(reply).__name__}, not str")
            self.calls += 1
            self.cache.put(key, self.model, reply)
        correct, rationale = parse_verdict(reply)
        return JudgeVerdict(correct, rationale, reply, self.model, cached=cached)

    def judge(
        self, question: str, gold: str, answer: str, aliases: Sequence[str] = ()
    ) -> JudgeVerdict:
        """Synchronous `ajudge`. Every sync call runs on one private event loop (backends hold
        clients bound to the loop that first used them); use either this or `ajudge`."""
        if self._loop is None:
            self._loop = _LoopThread()
        return self._loop.run(self.ajudge(question, gold, answer, aliases))

    async def aclose(self) -> None:
        if self._closer is not None:
            closer, self._closer = self._closer, None
            await closer()

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run(self.aclose())
            self._loop.stop()
            self._loop = None
        elif self._closer is not None:
            run_sync(self.aclose())


class _LoopThread:
    """An event loop running in a daemon thread, for synchronous callers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def chat_from_backend(backend: Any, *, max_tokens: int = 256) -> ChatFn:
    """A chat function over a teacher backend (`await backend.generate(request)`), greedy."""
    from trajkit.schema import Sampling
    from trajkit.teachers.base import GenerationRequest

    async def chat(messages: list[dict[str, str]]) -> str:
        request = GenerationRequest(
            messages=messages, sampling=Sampling(temperature=0.0, max_tokens=max_tokens)
        )
        response = await backend.generate(request)
        return response.text

    return chat


def judge_from_backend(
    backend: Any, *, cache: JudgeCache | Path | None = None, model: str | None = None
) -> LLMJudge:
    """A judge over a teacher backend; closing the judge closes the backend."""
    return LLMJudge(
        chat_from_backend(backend), model or backend.model, cache=cache, closer=backend.aclose
    )


def run_sync(coroutine):
    """Run a coroutine from synchronous code, also when an event loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: dict[str, Any] = {}

    def runner() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed back to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=runner)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
