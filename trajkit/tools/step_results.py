"""The result messages of a step, as the interpreter process sends them to the parent.

A step's result is a JSON message (`op: "result"`): stdout, the last expression's value,
the final answer, and a typed error (`{type, message, exception, line}`). The step process
builds it for code that finished (`trajkit.tools.step_process`); the interpreter process
rebuilds it from known fields only (`clean_result`: the step process ran model code, so
its message is not trusted), or makes one when the step process never answered
(`classify_death`: timeout, memory, crash, exit) or could not start (`error_result`).
"""

from __future__ import annotations

import os
import signal


def error_result(
    kind: str, message: str, exception: str | None = None, line: int | None = None
) -> dict:
    """A step's result message that carries only a typed error (no output, no answer)."""
    return {
        "op": "result",
        "stdout": "",
        "stdout_dropped": 0,
        "value": None,
        "answered": False,
        "answer": None,
        "error": {"type": kind, "message": message, "exception": exception, "line": line},
    }


def clean_result(result: dict, config: dict) -> dict:
    """Rebuild a step process's result from known fields only, sizes capped."""
    error = result.get("error")
    if not isinstance(error, dict):
        error = None
    stdout = result.get("stdout")
    value = result.get("value")
    return {
        "op": "result",
        "stdout": stdout[: int(config["max_output_chars"])] if isinstance(stdout, str) else "",
        "stdout_dropped": int(result.get("stdout_dropped") or 0)
        if isinstance(result.get("stdout_dropped"), int)
        else 0,
        "value": value[: int(config["max_value_chars"]) + 100] if isinstance(value, str) else None,
        "answered": result.get("answered") is True,
        "answer": result.get("answer"),
        "error": error,
        "rolled_back": False,
    }


_SIGNAL_NAMES = {
    signal.SIGSEGV: "SIGSEGV",
    signal.SIGBUS: "SIGBUS",
    signal.SIGABRT: "SIGABRT",
    signal.SIGILL: "SIGILL",
    signal.SIGFPE: "SIGFPE",
}


def classify_death(
    status: int, usage, timed_out: bool, wall: float, cpu: float, config: dict
) -> dict:
    """The typed error of a step whose process never sent a result (timeout, crash, exit)."""
    cpu_used = (usage.ru_utime + usage.ru_stime) if usage is not None else 0.0
    if timed_out:
        return {
            "type": "timeout",
            "message": f"the step ran longer than the {wall:g} s wall-time limit and was stopped; "
            "its changes were rolled back",
        }
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if signum == signal.SIGXCPU or (signum == signal.SIGKILL and cpu_used >= cpu - 0.5):
            return {
                "type": "timeout",
                "message": f"the step used more than the {cpu:g} s CPU-time limit and was stopped; "
                "its changes were rolled back",
            }
        name = _SIGNAL_NAMES.get(signum) or signal.Signals(signum).name
        max_rss_mb = (usage.ru_maxrss / 1024) if usage is not None else 0
        if max_rss_mb >= 0.9 * float(config["memory_mb"]):
            return {
                "type": "memory_limit",
                "message": f"the step ran out of memory ({config['memory_mb']} MiB) and its process "
                f"died ({name}); its changes were rolled back",
                "exception": name,
            }
        return {
            "type": "execution_error",
            "message": f"the code crashed the Python process ({name}, for example unbounded "
            "recursion in native code); its changes were rolled back",
            "exception": name,
        }
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return {
        "type": "forbidden_operation",
        "message": f"the code ended the interpreter process (exit status {code}, e.g. os._exit); "
        "its changes were rolled back",
    }
