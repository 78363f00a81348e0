"""The namespace model code runs in, inside an interpreter process.

`new_namespace` builds the globals of one trajectory's code: the sandbox's builtins,
`final_answer(...)` and one stub per host tool. The stubs do not run the tools: a call
travels as a framed message from the step process to its interpreter, which relays it to
the parent (see `trajkit.tools.interpreter_process`). `StepContext` is the per-process
state those functions reach: the channel of the running step and its final answer.
"""

from __future__ import annotations

import json

from trajkit.tools import guard
from trajkit.tools.channel import Channel
from trajkit.tools.convert import to_jsonable


class StepContext:
    """Per-process bookkeeping the namespace's helper functions reach: the channel to the
    interpreter (for tool calls) and the final answer of the running step."""

    def __init__(self, config: dict):
        self.channel: Channel | None = None
        self.answered = False
        self.answer = None
        self.max_answer_chars = int(config["max_answer_chars"])


def new_namespace(
    state: guard.GuardState, tools: list[str], config: dict
) -> tuple[dict, StepContext]:
    context = StepContext(config)
    namespace: dict = {
        "__name__": guard.SANDBOX_MODULE_NAME,
        "__builtins__": guard.sandbox_builtins(),
    }

    def final_answer(answer=None):
        """End the task with this answer (any JSON-like value; numpy/sympy are converted)."""
        value = to_jsonable(answer)
        text = json.dumps(value, ensure_ascii=False)
        if len(text) > context.max_answer_chars:
            raise guard.OutputLimitExceeded(
                f"final_answer(...) is {len(text):,} characters of JSON, over the "
                f"{context.max_answer_chars:,} limit"
            )
        context.answered = True
        context.answer = value
        raise guard.FinalAnswerSignal()

    namespace["final_answer"] = final_answer
    for name in tools:
        namespace[name] = _tool_stub(name, context)
    return namespace, context


def _tool_stub(name: str, context: StepContext):
    def call(*args, **kwargs):
        channel = context.channel
        if channel is None:
            raise guard.ToolError(f"{name}() is not available here")
        channel.send(
            {
                "op": "tool",
                "name": name,
                "args": to_jsonable(list(args)),
                "kwargs": to_jsonable(kwargs),
            }
        )
        reply, _ = channel.recv()
        if reply.get("op") != "tool_result":
            raise guard.ToolError(f"{name}(): unexpected reply from the sandbox")
        if reply.get("error") is not None:
            raise guard.ToolError(str(reply["error"]))
        return reply.get("output")

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Call the {name} tool (runs outside the sandbox)."
    return call
