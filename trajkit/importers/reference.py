"""Import the run logs of the paper's reference code (smolagents-style JSONL) into schema v1.

One line per question: `{model_id, question, generated_answer, true_answer, log_data, cost}`
(+ `score` after scoring), or `{model_id, question, error, log_data: null, cost}` for a failed
run. `log_data.messages` holds the conversation: system, user, then per step an `assistant`
turn ("Thought: ... Code: ```py ...```<end_code>"), a `tool-call` turn ("Calling tools:\\n" and a
Python repr of the call list, not JSON) and a `tool-response` turn ("Call id: ...\\nObservation:\\n..." or
"...Error:\\n..."). A parse error has no tool-call turn. Roles may be spelled
"MessageRole.ASSISTANT", and `log_data` may be a JSON string (the published HF datasets).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trajkit import __version__
from trajkit.agent.format import parse_action
from trajkit.errors import InputError, SchemaError
from trajkit.schema import (
    Outcome,
    Provenance,
    Step,
    StepError,
    Task,
    ToolCall,
    Trajectory,
    Usage,
    stable_hash,
)
from trajkit.tools.spec import PYTHON_INTERPRETER

MAX_STEPS = 5
_CALL_ID = re.compile(r"^Call id:\s*\S+\s*\n?", re.MULTILINE)
_LAST_OUTPUT = "Last output from code snippet:"
_EXEC_LOGS = "Execution logs:"
_EXCEPTION = re.compile(r"(?:due to:\s*)?\b([A-Z][A-Za-z]*(?:Error|Exception|Exit|Interrupt))\b:?\s*(.*)", re.DOTALL)
_FAILED_LINE = re.compile(r"Code execution failed at line '(.*?)'", re.DOTALL)


def import_reference_logs(
    path: str | Path,
    *,
    source: str = "reference",
    split: str = "train",
    domain: str = "qa",
) -> Iterator[Trajectory]:
    """Trajectories from a reference-code JSONL log; a bad line raises with its number."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", where=str(path), fix="check the path")
    seen: dict[str, int] = {}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            record = _decode_line(raw, where)
            if record is None:
                continue
            task = _task(record, source=source, split=split, domain=domain, where=where)
            sample = seen.get(task.task_id, 0)  # the same question twice = two samples
            seen[task.task_id] = sample + 1
            yield _trajectory(record, task, sample, where)


def _decode_line(raw: bytes, where: str) -> dict | None:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", where=where, fix="re-encode the file as UTF-8") from None
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise InputError(f"malformed JSON ({exc.msg} at column {exc.colno})", where=where) from None
    if not isinstance(record, dict):
        raise SchemaError("each line must be a JSON object", where=where)
    if not isinstance(record.get("question"), str) or not record["question"].strip():
        raise SchemaError("missing field 'question'", where=where, fix="is this a reference-code run log?")
    return record


def _task(record: dict, *, source: str, split: str, domain: str, where: str) -> Task:
    question = record["question"].strip()
    gold = record.get("true_answer")
    return Task(
        task_id=f"{source}:{stable_hash([source, question], length=12)}",
        source=source,
        split=split,
        domain=domain,
        question=question,
        gold_answer=None if gold is None else _as_text(gold),
        metadata=json.dumps({"imported_from": where.rsplit(":", 1)[0]}),
    )


def _trajectory(record: dict, task: Task, sample: int, where: str) -> Trajectory:
    log = record.get("log_data")
    if isinstance(log, str):
        try:
            log = json.loads(log)
        except ValueError as exc:
            raise InputError(f"log_data is a string but not JSON ({exc.msg})", where=where) from None
    messages = (log or {}).get("messages") or []
    if log is not None and not isinstance(messages, list):
        raise SchemaError("log_data.messages must be a list", where=where)
    system_prompt = _system_prompt(messages, log)
    provenance = Provenance(
        kind="import",
        backend="reference-import",
        model=str(record.get("model_id") or (log or {}).get("metadata", {}).get("model", {}).get("model_id") or "unknown"),
        prompt_template="reference-codeact",
        prompt_hash=stable_hash(system_prompt) if system_prompt else "",
        max_steps=MAX_STEPS,
        trajkit_version=__version__,
    ).with_fingerprint()
    steps = _steps(messages, where)
    outcome = _outcome(record, steps)
    metadata = (log or {}).get("metadata") or {}
    duration = _number((metadata.get("performance") or {}).get("total_duration"))
    usage = Usage(steps=len(steps), model_calls=len(steps), wall_time_s=duration or 0.0)
    return Trajectory.new(
        task=task, provenance=provenance, outcome=outcome, steps=steps, sample_index=sample, usage=usage
    )


def _role(message: dict) -> str:
    role = str(message.get("role", "")).lower()
    return role.removeprefix("messagerole.").replace("_", "-")


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _system_prompt(messages: list, log: dict | None) -> str:
    for message in messages:
        if isinstance(message, dict) and _role(message) == "system":
            return _text(message)
    memory = (log or {}).get("original_memory") or {}
    return str((memory.get("system_prompt") or {}).get("system_prompt") or "")


def _steps(messages: list, where: str) -> list[Step]:
    steps: list[Step] = []
    current: dict[str, Any] | None = None
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            raise SchemaError(f"message {position} is not an object", where=where)
        role = _role(message)
        if role == "assistant":
            if current is not None:
                steps.append(_finish(current, len(steps)))
            current = {"raw": _text(message), "call": None, "response": None}
        elif role == "tool-call" and current is not None:
            current["call"] = _parse_call(_text(message))
        elif role == "tool-response" and current is not None:
            current["response"] = _text(message)
            steps.append(_finish(current, len(steps)))
            current = None
    if current is not None:
        steps.append(_finish(current, len(steps)))
    return steps


_CALLING_TOOLS = re.compile(r"^Calling tools:\s*")


def _parse_call(text: str) -> str | None:
    """The code of a tool-call turn: "Calling tools:\n" and a Python repr of a list of call dicts
    (the label is absent in some logs)."""
    body = _CALLING_TOOLS.sub("", text.strip(), count=1)
    try:
        calls = ast.literal_eval(body.strip())
    except (ValueError, SyntaxError):
        return None
    if isinstance(calls, dict):
        calls = [calls]
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        arguments = function.get("arguments")
        if isinstance(arguments, dict):
            arguments = arguments.get("code")
        if isinstance(arguments, str):
            return arguments
    return None


def _finish(current: dict, index: int) -> Step:
    raw = current["raw"]
    parsed = parse_action(raw)
    code = current["call"] if current["call"] is not None else parsed.code
    response = current["response"]
    observation, error = _parse_response(response, had_call=current["call"] is not None)
    if error is None and current["call"] is None and code is None:
        error = parsed.error
    tool_calls = []
    if code is not None and current["call"] is not None:
        tool_calls.append(
            ToolCall(
                name=PYTHON_INTERPRETER,
                arguments=json.dumps({"code": code}),
                output=observation,
                error=error.message if error else None,
            )
        )
    final = _final_answer(code, observation) if error is None else None
    return Step(
        index=index,
        thought=parsed.thought,
        code=code,
        observation=observation,
        raw_output=raw,
        tool_calls=tool_calls,
        error=error,
        final_answer=final,
    )


def _parse_response(text: str | None, *, had_call: bool) -> tuple[str | None, StepError | None]:
    if text is None:
        return None, None
    body = _CALL_ID.sub("", text, count=1).strip()
    if body.startswith("Error:") or "\nError:" in body[:200]:
        message = body.split("Error:", 1)[1].strip()
        message = message.split("Now let's retry", 1)[0].strip()
        if not had_call:
            return None, StepError(type="parse_error", message=message)
        return None, _execution_error(message)
    observation = body.removeprefix("Observation:").strip()
    return _observation(observation), None


def _observation(text: str) -> str:
    """Execution logs plus the last output, without the reference code's labels."""
    logs, _, last = text.partition(_LAST_OUTPUT)
    logs = logs.replace(_EXEC_LOGS, "", 1).strip()
    last = last.strip()
    return "\n".join(part for part in (logs, last) if part)


def _execution_error(message: str) -> StepError:
    exception = None
    match = _EXCEPTION.search(message)
    if match:
        exception = match.group(1)
    failed = _FAILED_LINE.search(message)
    kind = "timeout" if "timed out" in message.lower() or "timeout" in message.lower() else "execution_error"
    if "import of" in message.lower() and "not allowed" in message.lower():
        kind = "forbidden_import"
    text = message if not failed else message
    return StepError(type=kind, message=text[:2000], exception=exception if kind == "execution_error" else None)


def _final_answer(code: str | None, observation: str | None) -> str | None:
    if not code or "final_answer(" not in code:
        return None
    if observation is None:
        return None
    lines = observation.strip().splitlines()
    return lines[-1].strip() if lines else ""


def _outcome(record: dict, steps: list[Step]) -> Outcome:
    if record.get("error") is not None and record.get("log_data") is None:
        return Outcome(status="imported_error", grader_detail=json.dumps({"error": _as_text(record["error"])}))
    answered = any(step.final_answer is not None for step in steps)
    answer = record.get("generated_answer")
    score = _number(record.get("score"))
    return Outcome(
        status="answered" if answered else "max_steps",
        final_answer=None if answer is None else _as_text(answer),
        correct=None if score is None else score >= 1,
        score=score,
        grader="reference_score" if score is not None else None,
    )


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
