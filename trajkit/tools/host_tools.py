"""Host-side tools called from sandboxed code, and the `ToolCall` record of each call.

A pool or interpreter is given `tools={"name": callable}`; `check_tools` refuses names the
model's code could not call or that would shadow the sandbox's own functions. When code in
the sandbox calls `name(...)`, the request reaches the parent, and `call_tool` runs the
callable here (outside the sandbox: the sandbox itself has no network and no files). It
returns the reply for the sandbox and the `trajkit.schema.ToolCall` to record: the bound
arguments, the text the model saw, the error, the latency and any retrieved documents
(when the tool returns a `ToolOutput`). A tool may also return a string or any JSON value.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable

from trajkit.errors import ConfigError, TrajkitError
from trajkit.schema import RetrievedDoc, ToolCall
from trajkit.tools.protocol import ToolOutput

RESERVED_NAMES = ("final_answer", "print")


def check_tools(tools: dict[str, Callable]) -> dict[str, Callable]:
    """A copy of `tools`, after checking every name is callable from the sandbox."""
    for name, tool in tools.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ConfigError(f"tool name {name!r} is not a valid Python identifier", where="tools")
        if name in RESERVED_NAMES:
            raise ConfigError(f"tool name {name!r} is reserved", where="tools")
        if not callable(tool):
            raise ConfigError(f"tool {name!r} is not callable", where="tools")
    return dict(tools)


def call_tool(tools: dict[str, Callable], request: dict) -> tuple[ToolCall, dict]:
    """Run the tool a sandbox request names: (the call's record, the reply for the sandbox)."""
    name = str(request.get("name", ""))
    args = request.get("args") if isinstance(request.get("args"), list) else []
    kwargs = request.get("kwargs") if isinstance(request.get("kwargs"), dict) else {}
    tool = tools.get(name)
    started = time.perf_counter()
    output: str | None = None
    error: str | None = None
    retrieved: list[RetrievedDoc] = []
    arguments = {"args": args, "kwargs": kwargs}
    if tool is None:
        error = f"there is no tool named {name!r}"
    else:
        try:
            arguments = _bind_arguments(tool, args, kwargs)
            value = tool(*args, **kwargs)
            if isinstance(value, ToolOutput):
                output, retrieved = value.text, list(value.retrieved)
            elif isinstance(value, str):
                output = value
            else:
                output = value  # any JSON value travels as is
                json.dumps(value)
        except TrajkitError as exc:
            error = exc.one_line()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
    latency = (time.perf_counter() - started) * 1000
    text = (
        output
        if isinstance(output, str) or output is None
        else json.dumps(output, ensure_ascii=False)
    )
    record = ToolCall(
        name=name,
        arguments=json.dumps(arguments, ensure_ascii=False, default=str),
        output=text,
        error=error,
        latency_ms=latency,
        retrieved=retrieved,
    )
    return record, {"op": "tool_result", "output": None if error else output, "error": error}


def _bind_arguments(tool: Callable, args: list, kwargs: dict) -> dict:
    try:
        signature = inspect.signature(tool)
    except (TypeError, ValueError):
        return {"args": args, "kwargs": kwargs}
    bound = signature.bind(*args, **kwargs)  # TypeError names the wrong argument
    return dict(bound.arguments)
