"""Import smolagents agent memory (`agent.memory`, smolagents 1.x) into trajkit's schema.

Give the memory itself (`AgentMemory`, or an agent that has one) or what
`agent.memory.get_full_steps()` returns (a list of step dicts, e.g. saved with `json.dump`).
Steps are told apart by their fields: a task step (`task`), action steps (`step_number`),
planning steps (`plan`, left out: they are not actions) and a final answer step (`output`).

An action step becomes a step: `model_output` -> raw output and thought (the text before the
code), `code_action` -> code, `observations` -> observation, `error` -> a typed step error
(`AgentParsingError` -> parse_error, `AgentExecutionError` -> execution_error, tool errors ->
tool_error, generation errors -> teacher_error, max steps -> max_steps), `tool_calls`,
`token_usage` and `timing`. A step with `is_final_answer` gives the final answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trajkit import __version__
from trajkit.errors import InputError, SchemaError
from trajkit.schema import Outcome, Provenance, Step, StepError, Task, ToolCall, Trajectory, Usage

_ERROR_TYPES = {
    "AgentParsingError": "parse_error",
    "AgentExecutionError": "execution_error",
    "AgentToolCallError": "tool_error",
    "AgentToolExecutionError": "tool_error",
    "AgentGenerationError": "teacher_error",
    "AgentMaxStepsError": "max_steps",
}
_CODE_START = re.compile(r"(<code>|Code:\s*\n|```)")


def memory_steps(memory: Any) -> list[dict]:
    """Step dicts of an `AgentMemory`, an agent, or a list already in that form."""
    memory = getattr(memory, "memory", memory)
    if hasattr(memory, "get_full_steps"):
        return memory.get_full_steps()
    if isinstance(memory, list) and all(isinstance(s, dict) for s in memory):
        return memory
    raise InputError(
        f"not smolagents memory ({type(memory).__name__})",
        fix="pass agent.memory, the agent, or agent.memory.get_full_steps()",
    )


def from_smolagents(memory: Any, *, model: str = "unknown", source: str = "smolagents", split: str = "train",
                    domain: str = "qa", gold_answer: str | None = None, task_id: str | None = None) -> Trajectory:
    """One trajectory from one agent run's memory."""
    raw = memory_steps(memory)
    tasks = [s["task"] for s in raw if "task" in s and "step_number" not in s]
    if not tasks:
        raise SchemaError("the memory has no task step", where="smolagents memory",
                          fix="import the memory of an agent that ran (agent.run(task))")
    question = tasks[0]
    actions = [s for s in raw if "step_number" in s]
    steps = [_step(i, s) for i, s in enumerate(actions)]
    final = next((s for s in actions if s.get("is_final_answer")), None)
    closing = next((s for s in raw if set(s) == {"output"}), None)
    answer = final.get("action_output") if final else (closing or {}).get("output")
    answered = final is not None or closing is not None
    if answered and steps and final is not None:
        steps[actions.index(final)].final_answer = _text(answer)
    task = Task(task_id=task_id or f"{source}:{_digest(question)}", source=source, split=split, domain=domain,
                question=question, gold_answer=gold_answer)
    provenance = Provenance(kind="import", backend="smolagents-import", model=model,
                            prompt_template="smolagents", trajkit_version=__version__).with_fingerprint()
    status = "answered" if answered else ("max_steps" if any(s.error and s.error.type == "max_steps" for s in steps)
                                         else "imported_error")
    outcome = Outcome(status=status, final_answer=_text(answer) if answered else None)
    usage = Usage(
        prompt_tokens=sum(s.prompt_tokens or 0 for s in steps),
        completion_tokens=sum(s.completion_tokens or 0 for s in steps),
        steps=len(steps), model_calls=len(steps),
        wall_time_s=round(sum((s.latency_ms or 0) for s in steps) / 1000, 4),
    )
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    return Trajectory.new(task=task, provenance=provenance, outcome=outcome, steps=steps, usage=usage)


def _step(index: int, raw: dict) -> Step:
    output = raw.get("model_output")
    if isinstance(output, list):  # content blocks
        output = "".join(block.get("text", "") for block in output if isinstance(block, dict))
    output = output or ""
    usage = raw.get("token_usage") or {}
    timing = raw.get("timing") or {}
    duration = None
    if timing.get("end_time") is not None and timing.get("start_time") is not None:
        duration = round((timing["end_time"] - timing["start_time"]) * 1000, 2)
    return Step(
        index=index,
        thought=_thought(output),
        code=raw.get("code_action"),
        observation=raw.get("observations"),
        raw_output=output,
        tool_calls=[_tool_call(c, raw.get("observations")) for c in raw.get("tool_calls") or []],
        error=_error(raw.get("error")),
        prompt_tokens=usage.get("input_tokens"),
        completion_tokens=usage.get("output_tokens"),
        latency_ms=duration,
    )


def _thought(output: str) -> str | None:
    match = _CODE_START.search(output)
    text = (output[: match.start()] if match else output).strip()
    if text.lower().startswith("thought:"):
        text = text[len("thought:"):].strip()
    return text or None


def _tool_call(call: dict, observation: str | None) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if not isinstance(arguments, dict):
        arguments = {"code": arguments} if isinstance(arguments, str) else {"value": arguments}
    return ToolCall(name=str(function.get("name") or "unknown"), arguments=json.dumps(arguments, ensure_ascii=False,
                    default=str), output=observation)


def _error(error: dict | None) -> StepError | None:
    if not error:
        return None
    kind = _ERROR_TYPES.get(str(error.get("type")), "execution_error")
    return StepError(type=kind, message=str(error.get("message") or error.get("type")),
                     exception=str(error.get("type")) if kind == "execution_error" else None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _digest(text: str) -> str:
    from trajkit.schema import stable_hash

    return stable_hash(text, length=12)


def read_smolagents(path: str | Path, **kwargs) -> Iterable[Trajectory]:
    """A JSON file of one run's `get_full_steps()` (a list), or JSONL with one run a line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", where=str(path), fix="check the path")
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            runs = [json.loads(text)]
        else:
            runs = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        raise InputError(f"malformed JSON ({exc})", where=str(path),
                         fix="save json.dump(agent.memory.get_full_steps(), f, default=str)") from None
    return [from_smolagents(run, **kwargs) for run in runs]
