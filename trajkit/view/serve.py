"""Serving a written view on 127.0.0.1 (`trajkit view --serve`): a plain static file server."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002  (the stdlib's name)
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def make_server(directory: str | Path, *, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server for `directory` (port 0: a free one); call `serve_forever()` on it."""
    from trajkit.errors import ServiceError

    handler = functools.partial(_QuietHandler, directory=str(directory))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise ServiceError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc})",
            fix="choose another port with --port, or 0 for a free one",
        ) from None


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/index.html"
