"""The step process: one step's model code, run under the guards, in a fork of its interpreter.

An interpreter process keeps one idle step process forked in advance
(`trajkit.tools.interpreter_process`). When a step arrives, the step process compiles the
code, runs it with stdout captured and the CPU limit set, and sends back a result: stdout,
the last expression's value, the final answer, or a typed error (`parse_error`,
`execution_error`, `forbidden_import`, `forbidden_operation`, `memory_limit`,
`output_limit`, `tool_error`). Tool calls go to the interpreter over the step's own channel;
the step process never holds the parent's socket while model code runs.

If the interpreter then sends `commit` with the parent's socket, the step process answers
`committed` and `serve` returns that socket: the caller makes this process the interpreter,
so the state the code left is kept. Anything else ends the process: the step is rolled back.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import sys

from trajkit.tools import confine, guard, procfs
from trajkit.tools.channel import Channel, ProtocolError, drop_socket
from trajkit.tools.namespace import StepContext
from trajkit.tools.step_results import error_result


class StepProcess:
    """Runs one step in a fork of the interpreter; on commit, hands back the parent's socket."""

    def __init__(
        self,
        channel: Channel,
        namespace: dict,
        context: StepContext,
        state: guard.GuardState,
        config: dict,
    ):
        self.channel = channel  # to the interpreter, never to the parent
        self.namespace = namespace
        self.context = context
        self.state = state
        self.config = config

    def serve(self) -> socket.socket:
        """Wait for the step, run it, report; return the parent's socket if it is committed.

        Returns only after a commit: in every other case the process exits here."""
        _warm_up(self.config)
        try:
            message, _ = self.channel.recv()
        except (EOFError, ProtocolError, OSError):
            os._exit(0)
        if message.get("op") != "run":
            os._exit(0)
        result = self.execute(message)
        if procfs.thread_count() > 1:  # threads left behind by the code must not live on
            result = error_result(
                "forbidden_operation", "the code left threads running; the step was rolled back"
            )
            result["commit"] = False
        self.channel.send(result)
        try:
            verdict, fds = self.channel.recv()
        except (EOFError, ProtocolError, OSError):
            os._exit(0)
        if verdict.get("op") != "commit" or len(fds) != 1:
            os._exit(0)
        parent_socket = socket.socket(fileno=fds[0])
        confine.set_parent_death_signal(0)  # the old interpreter is about to exit
        self.channel.send({"op": "committed"})
        drop_socket(self.channel.sock)
        return parent_socket

    def execute(self, message: dict) -> dict:
        config = self.config
        context = self.context
        state = self.state
        code = message.get("code", "")
        filename = f"<step {int(message.get('step', 0))}>"
        compiled = _compile(code, filename)
        if isinstance(compiled, dict):
            return compiled
        body, last = compiled
        output = guard.CapturedOutput(
            int(config["max_output_chars"]), int(config["max_output_total_chars"])
        )
        saved = sys.stdout, sys.stderr
        context.channel = self.channel
        context.answered = False
        context.answer = None
        confine.set_step_cpu_limit(float(message.get("cpu_time_s") or config["cpu_time_s"]))
        error: BaseException | None = None
        value_text = None
        namespace = self.namespace
        sys.stdout = sys.stderr = output
        with state.guarded_section():
            try:
                exec(body, namespace)
                if last is not None:
                    value = eval(last, namespace)
                    if value is not None:
                        value_text = _text(value, int(config["max_value_chars"]))
            except guard.FinalAnswerSignal:
                pass
            except BaseException as exc:  # every failure of model code becomes a typed error
                error = exc
        sys.stdout, sys.stderr = saved
        context.channel = None
        result = {
            "op": "result",
            "stdout": output.getvalue(),
            "stdout_dropped": output.dropped,
            "value": value_text,
            "answered": context.answered,
            "answer": context.answer,
            "error": _describe_error(error, code, filename, config) if error is not None else None,
        }
        return result


def _warm_up(config: dict) -> None:
    """Run the step machinery once while idle: this fork's copy-on-write page faults then
    happen before the step arrives, not while the parent waits for it."""
    compiled = _compile("_ = 1\n_", "<warm-up>")
    output = guard.CapturedOutput(
        int(config["max_output_chars"]), int(config["max_output_total_chars"])
    )
    exec(compiled[0], {"__builtins__": {}})
    output.write("warm")
    json.dumps(error_result("execution_error", "warm-up", exception="X", line=1))
    confine.set_step_cpu_limit(float(config["cpu_time_s"]))


def _compile(code: str, filename: str):
    try:
        tree = ast.parse(code, filename, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        body = compile(tree, filename, "exec")
        last_code = compile(last, filename, "eval") if last is not None else None
        return body, last_code
    except SyntaxError as exc:
        line = exc.lineno
        where = f" (line {line})" if line else ""
        return error_result(
            "parse_error", f"SyntaxError: {exc.msg}{where}", exception=type(exc).__name__, line=line
        )
    except (ValueError, MemoryError, RecursionError, OverflowError) as exc:
        return error_result(
            "parse_error", f"{type(exc).__name__}: {exc}", exception=type(exc).__name__
        )


def _describe_error(error: BaseException, code: str, filename: str, config: dict) -> dict:
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    name = type(error).__name__
    detail = _text(error, 2000)
    message = f"{name}: {detail}" if detail else name
    if line is not None:
        lines = code.splitlines()
        if 0 < line <= len(lines):
            message += f" (line {line}: {lines[line - 1].strip()[:200]})"
    if isinstance(error, SystemExit):
        kind = "forbidden_operation"
        message = (
            "exit()/sys.exit() is not allowed in the sandbox: the interpreter keeps running; "
            "call final_answer(...) to finish"
        )
    elif isinstance(error, guard.ForbiddenImport):
        kind = "forbidden_import"
    elif isinstance(error, guard.ForbiddenOperation):
        kind = "forbidden_operation"
    elif isinstance(error, MemoryError):
        kind = "memory_limit"
        message = f"MemoryError: the step went over the memory limit of {config['memory_mb']} MiB"
        if line is not None:
            message += f" (line {line})"
    elif isinstance(error, guard.OutputLimitExceeded):
        kind = "output_limit"
    elif isinstance(error, guard.ToolError):
        kind = "tool_error"
    else:
        kind = "execution_error"
    return {"type": kind, "message": message, "exception": name, "line": line}


def _text(value, limit: int) -> str:
    try:
        text = str(value)
    except BaseException:  # hostile __str__
        try:
            text = object.__repr__(value)
        except BaseException:
            text = "<unprintable>"
    if len(text) > limit:
        text = text[:limit] + f"... [{len(text) - limit:,} more characters]"
    return text
