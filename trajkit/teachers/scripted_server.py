"""A scripted teacher: replays fixed completions instantly.

The reply to a conversation is `responses[k]`, where k is the number of assistant turns it
already holds (the last response repeats), so concurrent rollouts each walk the script in
order. With an assistant prefix, the reply's continuation after the prefix is returned.

Two ways to use it:
- `ScriptedServer`: a real OpenAI-compatible HTTP server on 127.0.0.1 (models, chat
  completions, completions), for tests and benchmarks that need an instant teacher behind
  real HTTP. Run it in a thread (`with ScriptedServer(responses) as server: server.base_url`)
  or as a process: `python -m trajkit.teachers.scripted_server --responses FILE.json`.
- `ScriptedBackend`: the same script in process (`{backend: scripted, responses: [...]}`), for
  deterministic demos.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from trajkit.teachers.base import (
    BackendBase,
    Choice,
    GenerationRequest,
    GenerationResponse,
    Stopwatch,
    trim_at_stop,
)

ASSISTANT_MARKER = "<|im_start|>assistant\n"  # ChatML, for prompts sent to /v1/completions


class Script:
    def __init__(self, responses: Sequence[str]):
        if not responses:
            raise ValueError("a script needs at least one response")
        self.responses = [str(r) for r in responses]

    def reply(self, assistant_turns: int) -> str:
        return self.responses[min(assistant_turns, len(self.responses) - 1)]

    def continue_chat(self, messages: Sequence[Any], prefix: str | None) -> str:
        turns = sum(1 for m in messages if m.get("role") == "assistant")
        return _after_prefix(self.reply(turns), prefix)

    def continue_prompt(self, prompt: str) -> str:
        turns = max(prompt.count(ASSISTANT_MARKER) - 1, 0)
        prefix = prompt.rsplit(ASSISTANT_MARKER, 1)[-1] if ASSISTANT_MARKER in prompt else ""
        return _after_prefix(self.reply(turns), prefix)


def _after_prefix(reply: str, prefix: str | None) -> str:
    if prefix and reply.startswith(prefix):
        return reply[len(prefix) :]
    return reply


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: whitespace-separated pieces."""
    return len(text.split())


def limit(text: str, stop: Sequence[str], max_tokens: int | None) -> tuple[str, str, str | None]:
    """The reply as a server returns it: cut at the first stop string (dropped, as llama.cpp and
    vLLM do) or at `max_tokens`; with the finish reason and the stop string found."""
    text, stopped = trim_at_stop(text, stop)
    if max_tokens is not None and count_tokens(text) > max_tokens:
        return " ".join(text.split()[:max_tokens]), "length", None
    return text, "stop", stopped


# ----------------------------------------------------------------------- in process


class ScriptedBackend(BackendBase):
    name = "scripted"

    def __init__(self, responses: Sequence[str], *, model: str = "scripted"):
        self.script = Script(responses)
        self.model = model

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        watch = Stopwatch()
        sampling = request.sampling
        text = self.script.continue_chat(request.messages, request.assistant_prefix)
        text, reason, stopped = limit(text, sampling.stop, sampling.max_tokens)
        prompt_tokens = sum(count_tokens(str(m.get("content") or "")) for m in request.messages)
        return GenerationResponse(
            choices=[Choice(text, reason, stop=stopped) for _ in range(sampling.n)],
            prompt_tokens=prompt_tokens,
            completion_tokens=count_tokens(text) * sampling.n,
            latency_ms=watch.ms(),
        )


# -------------------------------------------------------------------- HTTP server


class ScriptedServer:
    """An OpenAI-compatible server replaying `responses` on 127.0.0.1 (a thread).

    `ignore_n` mimics servers that return one choice whatever `n` is (llama.cpp);
    `api_key`, when set, is required as a Bearer token (401 otherwise);
    `requests` keeps the last request bodies received, for tests to inspect;
    `latency_s` delays every completion (a stand-in for generation time, for benchmarks)."""

    def __init__(
        self,
        responses: Sequence[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = "scripted",
        ignore_n: bool = False,
        api_key: str | None = None,
        keep_requests: int = 1000,
        latency_s: float = 0.0,
    ):
        self.script = Script(responses)
        self.latency_s = latency_s
        self.model = model
        self.ignore_n = ignore_n
        self.api_key = api_key
        self.requests: deque[dict] = deque(maxlen=keep_requests)
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self.port}/v1"

    def start(self) -> ScriptedServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="scripted-teacher", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------- responses

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        path = path.split("?", 1)[0].rstrip("/")
        if path == "/v1/chat/completions":
            messages = body.get("messages") or []
            prefix = None
            if body.get("continue_final_message") and messages and messages[-1].get("role") == "assistant":
                prefix = str(messages[-1].get("content") or "")
                messages = messages[:-1]
            text = self.script.continue_chat(messages, prefix)
            prompt_tokens = sum(count_tokens(str(m.get("content") or "")) for m in messages)
            return 200, self._completion(body, text, prompt_tokens, chat=True)
        if path == "/v1/completions":
            prompt = body.get("prompt") or ""
            prompt = prompt if isinstance(prompt, str) else str(prompt[0])
            text = self.script.continue_prompt(prompt)
            return 200, self._completion(body, text, count_tokens(prompt), chat=False)
        return 404, {"error": {"message": f"no route {path}", "type": "not_found"}}

    def _completion(self, body: dict, text: str, prompt_tokens: int, *, chat: bool) -> dict:
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        text, reason, _stopped = limit(text, stop, body.get("max_tokens"))  # cut silently, as servers do
        n = 1 if self.ignore_n else int(body.get("n") or 1)
        if chat:
            choices = [
                {"index": i, "message": {"role": "assistant", "content": text},
                 "finish_reason": reason}
                for i in range(n)
            ]
        else:
            choices = [{"index": i, "text": text, "finish_reason": reason} for i in range(n)]
        return {
            "id": f"scripted-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": count_tokens(text) * n,
                "total_tokens": prompt_tokens + count_tokens(text) * n,
            },
        }


def _handler_for(server: ScriptedServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if server.api_key is None:
                return True
            if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                return True
            self._send(401, {"error": {"message": "invalid API key", "type": "auth_error"}})
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if self.path.split("?", 1)[0].rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [
                    {"id": server.model, "object": "model", "owned_by": "trajkit"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self._authorized():
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(HTTPStatus.BAD_REQUEST, {"error": {"message": "body is not JSON"}})
                return
            server.requests.append({"path": self.path, "body": body})
            if server.latency_s:
                time.sleep(server.latency_s)  # one thread per connection: requests overlap
            status, payload = server.answer(self.path, body)
            self._send(status, payload)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", required=True, help="JSON file: a list of reply strings")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default="scripted")
    parser.add_argument("--ignore-n", action="store_true")
    args = parser.parse_args(argv)
    with open(args.responses, encoding="utf-8") as handle:
        responses = json.load(handle)
    server = ScriptedServer(
        responses, host=args.host, port=args.port, model=args.model, ignore_n=args.ignore_n
    )
    print(f"listening on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
        sys.exit(0)


if __name__ == "__main__":
    main()
