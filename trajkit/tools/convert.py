"""Turn values produced by model-written code into JSON values, sensibly.

Used inside the sandbox for `final_answer(x)` and tool-call arguments. Containers are
converted element by element (a dict stays a dict, never `str(dict)`); numbers keep their
exactness where JSON allows it:

- numpy scalars -> Python scalars, arrays -> nested lists
- sympy Integer -> int, Float -> float, Rational -> "p/q", booleans -> bool,
  matrices -> nested lists, finite sets -> sorted lists, other expressions -> str (e.g. "sqrt(2)")
- float nan/inf and complex numbers -> their str; Fraction -> "p/q"; Decimal -> str
- datetime/date/time -> ISO 8601 text; bytes -> text (UTF-8, replacement characters)
- anything else -> str(value)

numpy and sympy are looked up in `sys.modules` only, so this module imports neither.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import fractions
import math
import sys
from typing import Any

MAX_DEPTH = 32


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    if _depth > MAX_DEPTH:
        return _text(value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, complex):
        return str(value)
    converted = _convert_numpy(value, _depth)
    if converted is not _NO:
        return converted
    converted = _convert_sympy(value, _depth)
    if converted is not _NO:
        return converted
    if isinstance(value, dict):
        return {_key(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v, _depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        items = [to_jsonable(v, _depth + 1) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if isinstance(value, fractions.Fraction):
        return str(value) if value.denominator != 1 else int(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return _text(value)


class _Missing:
    pass


_NO = _Missing()


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    converted = to_jsonable(key, MAX_DEPTH)  # numpy/sympy scalars -> plain numbers
    if isinstance(converted, list | dict):
        return _text(key)  # tuple keys read as "(1, 2)"
    return converted if isinstance(converted, str) else _text(converted)


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a hostile __str__
        return f"<unprintable {type(value).__name__}>"


def _convert_numpy(value: Any, depth: int) -> Any:
    np = sys.modules.get("numpy")
    if np is None:
        return _NO
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), depth + 1)
    if isinstance(value, np.generic):
        return to_jsonable(value.item(), depth + 1)
    return _NO


def _convert_sympy(value: Any, depth: int) -> Any:
    sp = sys.modules.get("sympy")
    if sp is None:
        return _NO
    try:
        if isinstance(value, sp.MatrixBase):
            return to_jsonable(value.tolist(), depth + 1)
        if not isinstance(value, sp.Basic):
            return _NO
        if value is sp.true or value is sp.false:
            return bool(value)
        if isinstance(value, sp.Integer):
            return int(value)
        if isinstance(value, sp.Rational):
            return f"{value.p}/{value.q}"
        if isinstance(value, sp.Float):
            return to_jsonable(float(value), depth + 1)
        if isinstance(value, sp.FiniteSet):
            return to_jsonable(set(value), depth + 1)
        if isinstance(value, sp.Tuple):
            return to_jsonable(list(value), depth + 1)
    except Exception:
        return _text(value)
    return _text(value)
