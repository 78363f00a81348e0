"""Client for a remote retriever HTTP API, shaped like the one the paper used.

The paper's agent queried a FlashRAG / Search-R1 style server (e5-base-v2 over the 2018
Wikipedia dump, on a GPU box)::

    POST {url}/retrieve   {"queries": ["..."], "topk": 3, "return_scores": true}
    -> {"result": [[{"document": {"id": "...", "contents": "\\"Title\\"\\ntext"}, "score": 0.83}, ...]]}

(with return_scores false, each inner item is the document itself). Documents may also
carry `title`/`text` (or `doc_id`) fields, which are used when present.

`RemoteRetriever(url).search(query, k)` returns the same `Hit`s as the local `Retriever`,
so either plugs into `SearchTool`. Every failure becomes a `ServiceError` that names the URL:
unreachable, timed out, HTTP error, or an answer of the wrong shape.
"""

from __future__ import annotations

import httpx

from trajkit.errors import InputError, ServiceError
from trajkit.schema import stable_hash
from trajkit.tools.retriever import Hit

FIX = "start the retriever server (POST /retrieve) or check the URL"


class RemoteRetriever:
    def __init__(self, url: str, *, timeout: float = 30.0, connect_timeout: float = 5.0):
        if not url.startswith(("http://", "https://")):
            raise InputError(
                f"retriever URL {url!r} must start with http:// or https://", where="url"
            )
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/retrieve") else base + "/retrieve"
        self.url = url
        self.timeout = timeout
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=connect_timeout))

    @property
    def modes(self) -> tuple[str, ...]:
        return ("remote",)

    @property
    def default_mode(self) -> str:
        return "remote"

    @property
    def fingerprint(self) -> str:
        return stable_hash({"remote": self.endpoint})

    def close(self) -> None:
        self._client.close()

    def search(self, query: str, k: int = 3, mode: str | None = None) -> list[Hit]:
        return self.search_batch([query], k=k, mode=mode)[0]

    def search_batch(
        self, queries: list[str], k: int = 3, mode: str | None = None
    ) -> list[list[Hit]]:
        """`mode` is accepted for interface compatibility; the server decides how it searches."""
        if not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a positive integer, got {k!r}", where="k")
        payload = {"queries": [str(q) for q in queries], "topk": k, "return_scores": True}
        try:
            response = self._client.post(self.endpoint, json=payload)
        except httpx.TimeoutException:
            raise ServiceError(
                f"the retriever did not answer within {self.timeout:g} s",
                where=self.endpoint,
                fix="check the server's load, or raise the timeout",
            ) from None
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"the retriever is unreachable ({exc})", where=self.endpoint, fix=FIX
            ) from None
        if response.status_code != 200:
            raise ServiceError(
                f"the retriever answered HTTP {response.status_code}: {response.text[:200]}",
                where=self.endpoint,
                fix="check the server's log",
            )
        try:
            body = response.json()
        except ValueError:
            raise ServiceError(
                "the retriever's answer is not JSON", where=self.endpoint, fix=FIX
            ) from None
        return _parse(body, len(payload["queries"]), k, self.endpoint)


def _parse(body, expected: int, k: int, where: str) -> list[list[Hit]]:
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list) or len(result) != expected:
        raise ServiceError(
            f"the retriever's answer has no 'result' list with {expected} entries",
            where=where,
            fix="the server must follow the POST /retrieve API (queries, topk, return_scores)",
        )
    batches = []
    for entries in result:
        if not isinstance(entries, list):
            raise ServiceError("a 'result' entry is not a list of documents", where=where)
        hits = []
        for rank, entry in enumerate(entries[:k]):
            if not isinstance(entry, dict):
                raise ServiceError("a retrieved document is not a JSON object", where=where)
            document = entry.get("document", entry)
            score = entry.get("score") if "document" in entry else None
            if not isinstance(document, dict):
                raise ServiceError("a retrieved document is not a JSON object", where=where)
            hits.append(_hit(document, score, rank))
        batches.append(hits)
    return batches


def _hit(document: dict, score, rank: int) -> Hit:
    doc_id = document.get("doc_id", document.get("id", document.get("_id")))
    title = document.get("title")
    text = document.get("text")
    contents = document.get("contents", document.get("content"))
    if (title is None or text is None) and isinstance(contents, str):
        first, _, rest = contents.partition("\n")
        if rest:
            title = title if title is not None else first.strip().strip('"')
            text = text if text is not None else rest
        else:
            text = text if text is not None else first
    try:
        numeric = float(score) if score is not None else float("nan")
    except (TypeError, ValueError):
        numeric = float("nan")
    return Hit(
        doc_id=str(doc_id) if doc_id is not None else f"rank-{rank}",
        title=str(title or ""),
        text=str(text or ""),
        score=numeric,
    )
