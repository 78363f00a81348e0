"""The typed seam between an agent loop and a Python interpreter.

    from trajkit.tools.protocol import ExecResult, Interpreter

    def act(interpreter: Interpreter, code: str) -> ExecResult:
        return interpreter.run(code)

- `Interpreter`: what an agent loop needs from an interpreter whose state persists across
  steps: `run(code) -> ExecResult`, `fork()` (an independent copy of the state, for
  self-consistent action generation) and `close()`. `trajkit.tools.sandbox.SandboxInterpreter`
  is the implementation; tests may pass any object with these methods.
- `ExecResult`: what one step's code did: stdout (capped), the last expression's value (as
  text), the final answer (a JSON value), a typed `trajkit.schema.StepError`, the duration,
  the `trajkit.schema.ToolCall`s the code made, and whether the step was rolled back.
- `ToolOutput`: what a host-side tool returns to the sandbox (text + retrieved documents).
- `SandboxError`: the sandbox could not start, or an interpreter cannot be used any more.

This module imports only the schema, so any layer can depend on it without an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from trajkit.errors import TrajkitError
from trajkit.schema import RetrievedDoc, StepError, ToolCall


class SandboxError(TrajkitError):
    """The sandbox could not start, or an interpreter cannot be used any more."""


@dataclass
class ToolOutput:
    """What a host-side tool returns: the text the model sees, plus structured records."""

    text: str
    retrieved: list[RetrievedDoc] = field(default_factory=list)


@dataclass
class ExecResult:
    """The outcome of running one step's code in an interpreter."""

    stdout: str = ""
    value: str | None = None  # str() of the last expression's value, if it was not None
    final_answer: Any = None  # JSON value passed to final_answer(...)
    answered: bool = False
    error: StepError | None = None
    duration_ms: float = 0.0
    tool_calls: list[ToolCall] = field(default_factory=list)
    rolled_back: bool = False  # the step was undone (timeout, crash): state is as before it
    stdout_dropped: int = 0  # characters printed beyond the kept part

    @property
    def ok(self) -> bool:
        return self.error is None


class Interpreter(Protocol):
    """A Python interpreter whose namespace persists across `run` calls."""

    def run(self, code: str) -> ExecResult:
        """Run one step's code; failures of the code come back as `ExecResult.error`."""
        ...

    def fork(self) -> Interpreter:
        """An independent copy of this interpreter's state."""
        ...

    def close(self) -> None:
        """Release the interpreter; it cannot be used afterwards."""
        ...
