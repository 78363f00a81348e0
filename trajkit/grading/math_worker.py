"""The math-verify worker process (see `trajkit.grading.math_equivalence`).

Protocol: one JSON object per line on stdin, `{"id", "gold", "answer", "timeout"}`; one JSON
object per line on stdout, the fields of `MathVerdict` plus `id`. The first line written is
`{"ready": true}` once math-verify is imported. Nothing else may write to stdout, so the
worker keeps the protocol stream for itself and points `sys.stdout` at stderr.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys

UNIT_WORDS = {
    "cm", "m", "km", "mm", "meter", "meters", "metre", "metres", "inch", "inches", "ft",
    "foot", "feet", "mile", "miles", "unit", "units", "square", "cubic", "degree", "degrees",
    "dollar", "dollars", "cent", "cents", "second", "seconds", "minute", "minutes", "hour",
    "hours", "day", "days", "year", "years", "kg", "g", "gram", "grams", "pound", "pounds",
    "lb", "lbs", "mph", "percent", "sq", "cm^2", "m^2", "cm^3",
}  # fmt: skip
_NUMBER_THEN_WORDS = re.compile(r"^(?P<number>[-+]?(?:\d[\d,]*)?\.?\d+)\s*(?P<words>[A-Za-z^23 .]+)$")
_PROSE = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}\s+[A-Za-z]{2,}")


class Deadline(BaseException):
    """Raised by the interval timer; a BaseException so math-verify's `except Exception`
    blocks cannot swallow it."""


def _on_alarm(signum, frame):
    raise Deadline()


def plain_cleanup(text: str) -> str:
    """Shapes of plain answers that LaTeX parsing gets wrong: currency, units, words."""
    from trajkit.grading.text_match import words_to_numbers

    text = text.strip().rstrip(".").strip()
    if text.startswith("$") and text.count("$") == 1:
        text = text[1:]
    match = _NUMBER_THEN_WORDS.match(text)
    if match and set(match["words"].lower().replace(".", " ").split()) <= UNIT_WORDS:
        text = match["number"]
    lowered = text.lower()
    if re.fullmatch(r"[a-z -]+", lowered):
        converted = words_to_numbers(lowered)
        if re.fullmatch(r"-?\d+", converted):
            text = converted
    return text


def latexify(text: str) -> str:
    """Plain-text math ("(3, pi/2)", "(-oo, 2] U [3, inf)", "sqrt(2)") as LaTeX."""
    text = re.sub(r"(?<![A-Za-z\\])pi(?![A-Za-z])", r"\\pi", text)
    text = re.sub(r"(?<![A-Za-z\\])(?:oo|inf|infinity)(?![A-Za-z])", r"\\infty", text)
    text = re.sub(r"\s+U\s+", r" \\cup ", text)
    text = re.sub(r"(?<!\\)sqrt\(([^()]*)\)", r"\\sqrt{\1}", text)
    return text.replace("**", "^")


def candidates(text: str) -> list:
    """Every reading of `text` that math-verify can make."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    configs = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    text = text.strip()
    if "\\boxed" in text or text.count("$") >= 2 or _PROSE.search(text):
        return parse(text, extraction_config=configs, parsing_timeout=None)
    plain = plain_cleanup(text)
    found = parse(f"${latexify(plain)}$", extraction_config=configs, parsing_timeout=None)
    found += parse(plain, extraction_config=configs, parsing_timeout=None)
    return found


def _shown(values: list) -> list[str]:
    shown = []
    for value in values[:6]:
        try:
            shown.append(str(value)[:200])
        except Exception:  # str() of a huge number can refuse
            shown.append(f"<{type(value).__name__}>")
    return shown


def check(gold: str, answer: str) -> dict:
    from math_verify import verify

    gold_parsed = candidates(gold)
    answer_parsed = candidates(answer)
    equivalent = bool(
        gold_parsed
        and answer_parsed
        and verify(gold_parsed, answer_parsed, timeout_seconds=None, float_rounding=6)
    )
    return {
        "equivalent": equivalent,
        "gold_parsed": _shown(gold_parsed),
        "answer_parsed": _shown(answer_parsed),
        "error": None if gold_parsed else "gold answer could not be parsed",
    }


def _limit_memory() -> None:
    limit_mb = os.environ.get("TRAJKIT_MATHWORKER_MEMORY_MB")
    if not limit_mb:
        return
    import resource

    limit = int(limit_mb) * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass


def serve() -> None:
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr
    _limit_memory()
    import logging

    logging.disable(logging.WARNING)  # math-verify warns on every timeout; we report them
    import math_verify  # noqa: F401  (import before saying ready)

    check("\\frac{1}{2}", "(0.5, \\sqrt{2}]")  # the parsers build lazily: not on a check's clock
    signal.signal(signal.SIGALRM, _on_alarm)
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        reply = _answer(request)
        reply["id"] = request.get("id")
        protocol.write(json.dumps(reply) + "\n")


def _answer(request: dict) -> dict:
    timeout = request.get("timeout")
    try:
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, float(timeout))
        try:
            return {**check(request["gold"], request["answer"]), "how": "math_verify"}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Deadline:
        return {"equivalent": False, "timed_out": True, "error": "timed out", "how": "soft_timeout"}
    except MemoryError:
        return {"equivalent": False, "error": "memory limit", "how": "memory_limit"}
    except Exception as exc:  # a bug in parsing must not end the worker
        return {"equivalent": False, "error": f"{type(exc).__name__}: {exc}"[:300], "how": "error"}


if __name__ == "__main__":
    serve()
