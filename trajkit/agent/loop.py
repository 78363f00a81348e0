"""The CodeAct agent loop: one trajectory of a model acting through the sandbox.

Each step: render the history (`trajkit.agent.format.conversation`), ask the backend for the
next action (n candidates with self-consistent action generation), parse the thought and the
code, run the code in the trajectory's sandboxed interpreter (the search tool is callable from
the code), and feed the observation back. `final_answer(...)` ends the trajectory; a parse
error or failing code becomes a typed step error shown to the model so it can recover.

First-thought prefix (teacher builds): before the first step the model answers the task in
plain chain of thought; the first paragraph of that answer, as "Thought: <paragraph>", is put
at the start of the first assistant turn and continued, not regenerated. It is stored on the
step (`prefix`) so training can decide whether it carries loss.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from trajkit.agent.format import END_CODE, STOP_SEQUENCES, THOUGHT, conversation, parse_action
from trajkit.agent.observation import observation_of
from trajkit.agent.sag import CandidateRun, choose, to_candidates
from trajkit.agent.toolspec import PYTHON_INTERPRETER
from trajkit.schema import Outcome, Sampling, Step, StepError, Task, ToolCall, Usage
from trajkit.teachers.base import GenerationRequest, TeacherError


class Interpreter(Protocol):
    """One sandboxed Python interpreter with state kept across steps (trajkit.tools)."""

    def run(self, code: str) -> Any: ...  # ExecResult

    def fork(self) -> Interpreter: ...

    def close(self) -> None: ...


@dataclass
class AgentSettings:
    system_prompt: str
    max_steps: int = 5
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.0, max_tokens=512))
    candidates: int = 1  # self-consistent action generation when > 1
    candidate_sampling: Sampling | None = None  # default: temperature 0.4, top_p 0.8
    first_thought_prefix: bool = False
    cot_prompt: str | None = None  # system prompt of the first-thought pass
    force_format: bool = False  # start turns with "Thought:" and force a code block when missing
    force_final_answer: bool = False  # the last step must call final_answer (smolagents' max-steps fallback)
    capture_tokens: bool = False  # store each step's completion token ids and logprobs (token-exact capture)


@dataclass
class AgentResult:
    steps: list[Step]
    outcome: Outcome
    usage: Usage


async def run_agent(task: Task, backend, new_interpreter, settings: AgentSettings) -> AgentResult:
    """Run one trajectory. `new_interpreter()` returns a fresh sandboxed interpreter."""
    started = time.perf_counter()
    usage = Usage()
    steps: list[Step] = []
    answer: Any = None
    answered = False
    status = "max_steps"
    interpreter = await asyncio.to_thread(new_interpreter)
    try:
        prefix = None
        if settings.first_thought_prefix:
            prefix = await _first_thought(task, backend, settings, usage)
        for index in range(settings.max_steps):
            step_prefix = prefix if index == 0 else None
            step, interpreter, result = await _step(task, backend, interpreter, settings, steps, index, step_prefix, usage)
            steps.append(step)
            if step.error is not None and step.error.type == "sandbox_error":
                status = "sandbox_error"
                break
            if result is not None and result.answered and step.error is None:
                answered, answer, status = True, result.final_answer, "answered"
                break
    except TeacherError as exc:
        status = "teacher_error"
        steps.append(
            Step(index=len(steps), error=StepError(type="teacher_error", message=_clip(str(exc), 1000)), train=False)
        )
    finally:
        await asyncio.to_thread(interpreter.close)
    usage.steps = len(steps)
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    usage.wall_time_s = round(time.perf_counter() - started, 4)
    outcome = Outcome(status=status, final_answer=answer_text(answer) if answered else None)
    return AgentResult(steps=steps, outcome=outcome, usage=usage)


async def _first_thought(task: Task, backend, settings: AgentSettings, usage: Usage) -> str | None:
    from trajkit.agent.format import task_text

    messages = [
        {"role": "system", "content": settings.cot_prompt or "Think step by step."},
        {"role": "user", "content": task_text(task.question)},
    ]
    # only the first step of the CoT answer is used: stop at its first blank line, and keep the
    # request short (a whole CoT answer costs minutes of CPU on the embedded teacher)
    max_tokens = min(settings.sampling.max_tokens, FIRST_THOUGHT_MAX_TOKENS)
    sampling = settings.sampling.model_copy(update={"n": 1, "stop": ["\n\n"], "max_tokens": max_tokens})
    response = await backend.generate(GenerationRequest(messages=messages, sampling=sampling))
    _count(usage, response)
    return first_step(response.text)


FIRST_THOUGHT_MAX_TOKENS = 96


def first_step(text: str) -> str | None:
    """'Thought: ' + the first step of a chain-of-thought answer: its first line, and when that
    line only announces a plan ('... these steps:'), the plan's first item too. A line that
    gives the final answer is never part of it (the prefix must not hand the agent an answer)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    lines = [line for line in lines if not line.lower().startswith("final answer")]
    if not lines:
        return None
    first = lines[0][len("thought:"):].strip() if lines[0].lower().startswith("thought:") else lines[0]
    if first.endswith(":") and len(lines) > 1:
        first = f"{first}\n{lines[1]}"
    return f"Thought: {first}" if first else None


async def _step(task, backend, interpreter, settings: AgentSettings, history, index, prefix, usage):
    messages = conversation(settings.system_prompt, task.question, history)
    n = max(1, settings.candidates)
    sampling = settings.sampling if n == 1 else (settings.candidate_sampling or _default_candidate_sampling(settings))
    sampling = sampling.model_copy(update={"n": n, "stop": list(sampling.stop or STOP_SEQUENCES)})
    started = time.perf_counter()
    opening = prefix or (THOUGHT if settings.force_format else None)
    if settings.force_final_answer and index == settings.max_steps - 1:
        opening = FINAL_OPENING
    response = await backend.generate(GenerationRequest(messages=messages, sampling=sampling, assistant_prefix=opening,
                                                        logprobs=settings.capture_tokens))
    _count(usage, response)
    texts = [(opening or "") + choice.text for choice in response.choices]
    completion_tokens = response.completion_tokens
    if settings.force_format:
        texts, extra = await _force_code_blocks(texts, messages, backend, sampling, usage)
        completion_tokens += extra
    if n == 1:
        run = await asyncio.to_thread(_run_candidate, 0, texts[0], interpreter)
        winner, runs, counts = run, [run], {}
        next_interpreter = interpreter
    else:
        runs = await _run_candidates(texts, interpreter)
        winner, counts = choose(runs)
        next_interpreter = winner.interpreter or interpreter
        await asyncio.to_thread(_close_losers, runs, winner, interpreter)
    step = Step(
        index=index,
        thought=winner.thought,
        code=winner.code,
        observation=winner.observation,
        raw_output=winner.raw_output,
        prefix=prefix,
        tool_calls=_tool_calls(winner),
        error=winner.error,
        final_answer=answer_text(winner.final_answer) if winner.answered and winner.error is None else None,
        prompt_tokens=response.prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        candidates=to_candidates(runs, winner, counts) if n > 1 else [],
        token_ids=response.choices[winner.index].token_ids if settings.capture_tokens else None,
        logprobs=response.choices[winner.index].logprobs if settings.capture_tokens else None,
    )
    return step, next_interpreter, winner.result


FINAL_OPENING = "Thought: I will now give the final answer.\nCode:\n```py\nfinal_answer("


async def _force_code_blocks(texts: list[str], messages, backend, sampling: Sampling, usage: Usage) -> tuple[list[str], int]:
    """Constrained decoding for weak models: an output without a code block is cut after its
    first paragraph of thought, "Code:" and a ```py fence are appended, and the model
    continues from there, so every action has the format the agent loop parses."""
    missing = [i for i, text in enumerate(texts) if parse_action(text).code is None]
    if not missing:
        return texts, 0
    one = sampling.model_copy(update={"n": 1, "stop": ["```", END_CODE, "Observation:"]})
    openings = {i: _code_opening(texts[i]) for i in missing}
    responses = await asyncio.gather(
        *(backend.generate(GenerationRequest(messages=messages, sampling=one, assistant_prefix=openings[i])) for i in missing)
    )
    fixed = list(texts)
    extra = 0
    for i, response in zip(missing, responses, strict=True):
        _count(usage, response)
        extra += response.completion_tokens
        fixed[i] = f"{openings[i]}{response.text.rstrip()}\n```{END_CODE}"
    return fixed, extra


def _code_opening(text: str) -> str:
    thought = text.split("```", 1)[0].split("Code:", 1)[0]
    thought = thought.strip().split("\n\n", 1)[0].strip() or THOUGHT
    return f"{thought}\nCode:\n```py\n"


def _default_candidate_sampling(settings: AgentSettings) -> Sampling:
    return settings.sampling.model_copy(update={"temperature": 0.4, "top_p": 0.8})


async def _run_candidates(texts: list[str], interpreter) -> list[CandidateRun]:
    def run_one(i: int, text: str) -> CandidateRun:
        fork = interpreter.fork()
        return _run_candidate(i, text, fork, own_interpreter=True)

    return list(await asyncio.gather(*(asyncio.to_thread(run_one, i, t) for i, t in enumerate(texts))))


def _close_losers(runs: list[CandidateRun], winner: CandidateRun, original) -> None:
    for run in runs:
        if run is not winner and run.interpreter is not None:
            run.interpreter.close()
    if winner.interpreter is not None and winner.interpreter is not original:
        original.close()


def _run_candidate(index: int, text: str, interpreter, own_interpreter: bool = False) -> CandidateRun:
    parsed = parse_action(text)
    run = CandidateRun(
        index=index,
        raw_output=text,
        thought=parsed.thought,
        code=parsed.code,
        parse_ok=parsed.error is None,
        exec_ok=False,
        observation=None,
        final_answer=None,
        answered=False,
        error=parsed.error,
        interpreter=interpreter if own_interpreter else None,
    )
    if parsed.error is not None:
        return run
    result = interpreter.run(parsed.code)
    run.result = result
    run.error = result.error
    run.exec_ok = result.error is None
    run.observation = observation_of(result)
    run.answered = bool(result.answered)
    run.final_answer = result.final_answer
    return run


def _tool_calls(run: CandidateRun) -> list[ToolCall]:
    calls = []
    if run.code is not None and run.parse_ok:
        result = run.result
        calls.append(
            ToolCall(
                name=PYTHON_INTERPRETER,
                arguments=json.dumps({"code": run.code}, ensure_ascii=False),
                output=run.observation,
                error=run.error.message if run.error else None,
                latency_ms=getattr(result, "duration_ms", None),
            )
        )
        calls.extend(getattr(result, "tool_calls", None) or [])
    return calls


def _count(usage: Usage, response) -> None:
    usage.prompt_tokens += response.prompt_tokens
    usage.completion_tokens += response.completion_tokens
    usage.model_calls += 1


def answer_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
