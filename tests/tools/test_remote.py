"""The remote retriever client against a real HTTP server on 127.0.0.1 (Search-R1 API shape)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from trajkit.errors import ServiceError
from trajkit.tools.registry import SearchTool, open_retriever
from trajkit.tools.remote import RemoteRetriever
from trajkit.tools.retriever import Retriever


class RetrievalServer:
    """POST /retrieve like the paper's server; `behaviour` switches it into failure modes."""

    def __init__(self, retriever: Retriever):
        self.retriever = retriever
        self.behaviour = "ok"
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                if self.path != "/retrieve":
                    return self._send(404, b"not found")
                if server.behaviour == "slow":
                    time.sleep(2)
                if server.behaviour == "error":
                    return self._send(500, b"index not loaded")
                if server.behaviour == "garbage":
                    return self._send(200, b'{"unexpected": true}')
                result = []
                for hits in server.retriever.search_batch(
                    body["queries"], k=body["topk"], mode="bm25"
                ):
                    docs = [{"id": h.doc_id, "contents": f'"{h.title}"\n{h.text}'} for h in hits]
                    if body.get("return_scores"):
                        docs = [
                            {"document": d, "score": h.score}
                            for d, h in zip(docs, hits, strict=True)
                        ]
                    result.append(docs)
                self._send(200, json.dumps({"result": result}).encode())

            def _send(self, status, payload):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(small_index):
    running = RetrievalServer(Retriever.load(small_index))
    yield running
    running.close()


@pytest.fixture(autouse=True)
def _reset(server):
    server.behaviour = "ok"
    server.requests.clear()


def test_remote_search_parses_the_paper_api(server):
    remote = RemoteRetriever(server.url)
    hits = remote.search("capital of Japan", k=2)
    assert server.requests == [{"queries": ["capital of Japan"], "topk": 2, "return_scores": True}]
    assert hits[0].doc_id == "tokyo" and hits[0].title == "Tokyo"
    assert hits[0].text.startswith("Tokyo is the capital")
    assert hits[0].score > 0
    batch = remote.search_batch(["river in Africa", "keyboard instrument"], k=1)
    assert [b[0].doc_id for b in batch] == ["nile", "piano"]
    assert open_retriever(server.url + "/retrieve").endpoint == remote.endpoint


def test_remote_search_tool_called_from_the_sandbox(pool, server):
    """The sandbox has no network; the call goes through the parent to the HTTP server."""
    interp = pool.new_interpreter(tools={"search": SearchTool(RemoteRetriever(server.url))})
    try:
        result = interp.run("print(search('highest mountain')[:60])")
        assert result.error is None, result.error
        assert "similarity" in result.stdout
        assert result.tool_calls[0].retrieved[0].doc_id == "everest"
        assert len(server.requests) == 1
    finally:
        interp.close()


def _free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_unreachable_server_is_a_clear_error():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(ServiceError) as caught:
        RemoteRetriever(url, timeout=2).search("x")
    assert "unreachable" in caught.value.what
    assert url in caught.value.where and caught.value.fix


def test_timeout_is_a_clear_error(server):
    server.behaviour = "slow"
    with pytest.raises(ServiceError, match="did not answer within 0.5 s"):
        RemoteRetriever(server.url, timeout=0.5).search("x")


def test_http_error_and_bad_answers(server):
    server.behaviour = "error"
    with pytest.raises(ServiceError, match="HTTP 500"):
        RemoteRetriever(server.url).search("x")
    server.behaviour = "garbage"
    with pytest.raises(ServiceError, match="no 'result' list"):
        RemoteRetriever(server.url).search("x")


def test_tool_error_in_the_sandbox_when_the_server_is_down(pool):
    tool = SearchTool(RemoteRetriever(f"http://127.0.0.1:{_free_port()}", timeout=2))
    interp = pool.new_interpreter(tools={"search": tool})
    try:
        result = interp.run("search('anything')")
        assert result.error.type == "tool_error"
        assert "unreachable" in result.error.message
        assert result.tool_calls[0].error and "unreachable" in result.tool_calls[0].error
    finally:
        interp.close()
