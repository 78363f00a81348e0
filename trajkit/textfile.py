"""Reading a user's text file (task files, seed files): UTF-8 or a one-line error, never a traceback."""

from __future__ import annotations

from pathlib import Path

from trajkit.errors import InputError


def read_utf8(path: Path) -> str:
    """The file's text. A UTF-8 byte-order mark is dropped; CRLF line ends become LF."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read it ({exc.strerror})", where=str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"not UTF-8 text (byte {exc.start}, line {line}: {data[exc.start:exc.start + 1]!r})",
            where=str(path),
            fix="re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8 IN > OUT",
        ) from None
    return text.replace("\r\n", "\n")
