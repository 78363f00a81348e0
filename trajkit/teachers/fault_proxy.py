"""A fault-injecting HTTP proxy for testing teacher backends against flaky servers.

It sits on 127.0.0.1 in front of a real server and, for each POST it receives, either forwards
it or injects a fault: an HTTP error (429 with Retry-After, 500, 503, 400, 401), a connection
reset, a response cut in the middle, or a slow response. GETs (model listings) always pass.

    plan = FaultPlan(sequence=["429", "reset"], rates={"500": 0.2}, seed=1)
    with FaultProxy("http://127.0.0.1:8080", plan) as proxy:
        backend = make_backend({"backend": "openai", "base_url": proxy.base_url})

Faults come first from `sequence` (in order), then at random from `rates`. `proxy.log` lists
what was done to each request. The proxy speaks just enough HTTP/1.1 for JSON APIs: requests
with Content-Length bodies, keep-alive towards the client, one upstream connection per request.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

STATUS_FAULTS = {"400": 400, "401": 401, "429": 429, "500": 500, "503": 503}
FAULTS = ("pass", "reset", "truncate", "slow", *STATUS_FAULTS)
_REASONS = {400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class FaultPlan:
    sequence: Sequence[str] = ()
    rates: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0
    retry_after_s: float = 1.0  # sent with 429
    slow_s: float = 5.0  # delay of a "slow" response

    def __post_init__(self) -> None:
        unknown = [f for f in [*self.sequence, *self.rates] if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {FAULTS}")
        if sum(self.rates.values()) > 1.0:
            raise ValueError("fault rates add up to more than 1")
        self._queue = list(self.sequence)
        self._rng = random.Random(self.seed)

    def next_fault(self) -> str:
        if self._queue:
            return self._queue.pop(0)
        draw, edge = self._rng.random(), 0.0
        for fault, rate in self.rates.items():
            edge += rate
            if draw < edge:
                return fault
        return "pass"


@dataclass(frozen=True)
class ProxyEvent:
    method: str
    path: str
    fault: str


class FaultProxy:
    def __init__(self, upstream: str, plan: FaultPlan | None = None, *, host: str = "127.0.0.1",
                 port: int = 0):
        parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.plan = plan or FaultPlan()
        self.log: list[ProxyEvent] = []
        self._host, self._port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy",
                                        daemon=True)
        self._server: asyncio.base_events.Server | None = None

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/v1"

    def faults(self) -> list[str]:
        return [event.fault for event in self.log]

    def start(self) -> FaultProxy:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, self._host, self._port), self._loop
        )
        self._server = started.result(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        if self._server is not None:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------ connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                method, path, headers = _parse_head(head)
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                fault = self.plan.next_fault() if method == "POST" else "pass"
                self.log.append(ProxyEvent(method, path, fault))
                if fault == "reset":
                    _reset(writer)
                    return
                if fault in STATUS_FAULTS:
                    writer.write(_error_response(STATUS_FAULTS[fault], self.plan.retry_after_s))
                    await writer.drain()
                    continue
                if fault == "slow":
                    await asyncio.sleep(self.plan.slow_s)
                response = await self._forward(head, body)
                if fault == "truncate":
                    writer.write(response[: max(len(response) * 2 // 3, 1)])
                    await writer.drain()
                    _reset(writer)
                    return
                writer.write(response)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if not writer.is_closing():
                writer.close()

    async def _forward(self, head: bytes, body: bytes) -> bytes:
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            up_writer.write(_with_header(head, "Connection", "close") + body)
            await up_writer.drain()
            raw = await up_reader.read()
        finally:
            up_writer.close()
        status_and_headers, _, payload = raw.partition(b"\r\n\r\n")
        lines = status_and_headers.split(b"\r\n")
        kept = [line for line in lines[1:]
                if not line.lower().startswith((b"connection:", b"keep-alive:"))]
        framed = any(line.lower().startswith((b"content-length:", b"transfer-encoding:"))
                     for line in kept)
        if not framed:  # body-until-close upstream: give the client a length instead
            kept.append(b"Content-Length: " + str(len(payload)).encode())
        kept.append(b"Connection: keep-alive")
        return b"\r\n".join([lines[0], *kept]) + b"\r\n\r\n" + payload


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return method, path, headers


def _with_header(head: bytes, name: str, value: str) -> bytes:
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    lines = [line for line in lines if not line.lower().startswith(name.lower().encode() + b":")]
    lines.append(f"{name}: {value}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _error_response(status: int, retry_after_s: float) -> bytes:
    body = json.dumps(
        {"error": {"message": f"injected fault: HTTP {status}", "type": "injected", "code": status}}
    ).encode()
    headers = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: keep-alive",
    ]
    if status == 429:
        headers.append(f"Retry-After: {retry_after_s:g}")
    return "\r\n".join(headers).encode() + b"\r\n\r\n" + body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed server or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()
