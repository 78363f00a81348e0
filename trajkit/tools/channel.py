"""Framed JSON messages over a Unix stream socket, with optional file descriptors attached.

Used on both sides of the sandbox (parent <-> template/interpreter processes, interpreter <->
step process). Frames are a 4-byte big-endian length followed by UTF-8 JSON. Only JSON crosses
process boundaries (never pickle), and every reader caps the frame size, because the other
end may be running hostile code.

Sending file descriptors uses `sendmsg` (SCM_RIGHTS); receiving always uses `recvmsg` so
descriptors are never silently dropped. `close_fd` and `drop_socket` release descriptors
(including sockets inherited across `fork`) without raising.
"""

from __future__ import annotations

import array
import json
import os
import select
import socket
import struct
import time

HEADER = struct.Struct("!I")
MAX_FRAME = 16 * 1024 * 1024
MAX_FDS = 4


class ProtocolError(Exception):
    """The other end sent something that is not a valid frame."""


class Channel:
    """One end of a socket carrying framed JSON messages."""

    def __init__(self, sock: socket.socket, max_frame: int = MAX_FRAME):
        self.sock = sock
        self.max_frame = max_frame
        self._buf = bytearray()
        self._fds: list[int] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        for fd in self._fds:
            close_fd(fd)
        self._fds = []
        try:
            self.sock.close()
        except OSError:
            pass

    # ------------------------------------------------------------------ sending

    def send(self, message: dict, fds: tuple[int, ...] | list[int] = ()) -> None:
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        frame = HEADER.pack(len(data)) + data
        if fds:
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
            sent = self.sock.sendmsg([frame], ancillary)
            if sent < len(frame):
                self.sock.sendall(frame[sent:])
        else:
            self.sock.sendall(frame)

    # ---------------------------------------------------------------- receiving

    def has_message(self) -> bool:
        if len(self._buf) < HEADER.size:
            return False
        (size,) = HEADER.unpack_from(self._buf)
        return len(self._buf) >= HEADER.size + size

    def recv(self, timeout: float | None = None) -> tuple[dict, list[int]]:
        """Next message and any descriptors that came with it.

        Raises EOFError when the other end closed, TimeoutError when nothing complete arrived
        in time, ProtocolError on a malformed frame.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            message = self._pop()
            if message is not None:
                return message
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no complete message in time")
                ready, _, _ = select.select([self.sock], [], [], remaining)
                if not ready:
                    raise TimeoutError("no complete message in time")
            self._read_some()

    def _read_some(self) -> None:
        try:
            data, ancillary, _flags, _addr = self.sock.recvmsg(
                1 << 16, socket.CMSG_SPACE(MAX_FDS * 4), socket.MSG_CMSG_CLOEXEC
            )
        except ConnectionResetError:
            data, ancillary = b"", []
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                self._fds.extend(fds)
        if not data:
            raise EOFError("channel closed")
        self._buf += data
        if len(self._buf) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buf)
            if size > self.max_frame:
                raise ProtocolError(f"frame of {size} bytes is over the {self.max_frame} limit")

    def _pop(self) -> tuple[dict, list[int]] | None:
        if not self.has_message():
            return None
        (size,) = HEADER.unpack_from(self._buf)
        body = bytes(self._buf[HEADER.size : HEADER.size + size])
        del self._buf[: HEADER.size + size]
        fds, self._fds = self._fds, []
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            for fd in fds:
                close_fd(fd)
            raise ProtocolError(f"frame is not JSON: {exc}") from None
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            for fd in fds:
                close_fd(fd)
            raise ProtocolError("frame is not a message object with an 'op'")
        return message, fds


def close_fd(fd: int) -> None:
    """Close a descriptor, ignoring one that is already closed."""
    try:
        os.close(fd)
    except OSError:
        pass


def drop_socket(sock: socket.socket | None) -> None:
    """Close a socket inherited across fork without a later __del__ closing a reused fd."""
    if sock is None:
        return
    fd = sock.detach()
    if fd >= 0:
        close_fd(fd)
