"""The CodeAct agent loop: one trajectory of a model acting through the sandbox.

Each step: render the history (`trajkit.agent.format.conversation`), ask the backend for the
next action (n candidates with self-consistent action generation), parse the thought and the
code, run the code in the trajectory's sandboxed interpreter (the search tool is callable from
the code), and feed the observation back. `final_answer(...)` ends the trajectory; a parse
error or failing code becomes a typed step error shown to the model so it can recover.

Typed seams: the loop reads `AgentSettings` (the recipe's `AgentConfig` as is, plus the plan's
prompts), asks a `trajkit.teachers.base.Backend`, runs code through the
`trajkit.tools.protocol.Interpreter` protocol, and builds each step with
`trajkit.agent.steps.action_step`. An `Episode` is one trajectory in progress: the task, the
settings, the steps so far and the usage every model call adds to.

First-thought prefix (teacher builds): before the first step the model answers the task in
plain chain of thought; the first paragraph of that answer, as "Thought: <paragraph>", is put
at the start of the first assistant turn and continued, not regenerated. It is stored on the
step (`prefix`) so training can decide whether it carries loss.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from trajkit.agent.config import AgentSettings
from trajkit.agent.format import (
    END_CODE,
    STOP_SEQUENCES,
    THOUGHT,
    conversation,
    parse_action,
    written_turn,
)
from trajkit.agent.observation import observation_of
from trajkit.agent.sag import CandidateRun, choose, to_candidates
from trajkit.agent.steps import AgentResult, action_step, answer_text, teacher_error_step
from trajkit.schema import Outcome, Sampling, Step, Task, ToolCall, Usage
from trajkit.teachers.base import (
    Backend,
    GenerationRequest,
    GenerationResponse,
    Message,
    TeacherError,
)
from trajkit.tools.protocol import ExecResult, Interpreter
from trajkit.tools.spec import PYTHON_INTERPRETER

InterpreterFactory = Callable[[], Interpreter]


@dataclass
class Episode:
    """One trajectory being generated: what each step reads, and the steps and usage so far."""

    task: Task
    backend: Backend
    settings: AgentSettings
    steps: list[Step] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        """Ask the backend, counting the tokens and the call in the episode's usage."""
        response = await self.backend.generate(request)
        self.usage.prompt_tokens += response.prompt_tokens
        self.usage.completion_tokens += response.completion_tokens
        self.usage.model_calls += 1
        return response


async def run_agent(task: Task, backend: Backend, new_interpreter: InterpreterFactory, settings: AgentSettings) -> AgentResult:
    """Run one trajectory. `new_interpreter()` returns a fresh sandboxed interpreter."""
    started = time.perf_counter()
    episode = Episode(task, backend, settings)
    answer: str | None = None
    status = "max_steps"
    interpreter = await asyncio.to_thread(new_interpreter)
    try:
        prefix = await _first_thought(episode) if settings.agent.first_thought_prefix else None
        for index in range(settings.agent.max_steps):
            step, interpreter, result = await _step(episode, interpreter, prefix if index == 0 else None)
            episode.steps.append(step)
            if step.error is not None and step.error.type == "sandbox_error":
                status = "sandbox_error"
                break
            if result is not None and result.answered and step.error is None:
                answer, status = answer_text(result.final_answer), "answered"
                break
    except TeacherError as exc:
        status = "teacher_error"
        episode.steps.append(teacher_error_step(len(episode.steps), exc))
    finally:
        await asyncio.to_thread(interpreter.close)
    usage = episode.usage
    usage.steps = len(episode.steps)
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    usage.wall_time_s = round(time.perf_counter() - started, 4)
    return AgentResult(steps=episode.steps, outcome=Outcome(status=status, final_answer=answer), usage=usage)


async def _first_thought(episode: Episode) -> str | None:
    """The first-thought prefix: the first step of the model's plain chain-of-thought answer."""
    from trajkit.agent.format import task_text

    settings = episode.settings
    messages = [
        {"role": "system", "content": settings.cot_prompt or "Think step by step."},
        {"role": "user", "content": task_text(episode.task.question)},
    ]
    # only the first step of the CoT answer is used: stop at its first blank line, and keep the
    # request short (a whole CoT answer costs minutes of CPU on the embedded teacher)
    max_tokens = min(settings.sampling.max_tokens, FIRST_THOUGHT_MAX_TOKENS)
    sampling = settings.sampling.model_copy(update={"n": 1, "stop": ["\n\n"], "max_tokens": max_tokens})
    response = await episode.generate(GenerationRequest(messages=messages, sampling=sampling))
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


async def _step(episode: Episode, interpreter: Interpreter, prefix: str | None) -> tuple[Step, Interpreter, ExecResult | None]:
    """One step: ask for the next action (n candidates with self-consistent action generation),
    run it, and build the step. Returns the step, the interpreter the trajectory continues
    with (the winning candidate's fork) and what running the chosen code gave."""
    settings, agent = episode.settings, episode.settings.agent
    index = len(episode.steps)
    messages = conversation(settings.system_prompt, episode.task.question, episode.steps)
    n = agent.candidates
    sampling = settings.sampling if n == 1 else agent.candidate_sampling(settings.sampling)
    sampling = sampling.model_copy(update={"n": n, "stop": list(sampling.stop or STOP_SEQUENCES)})
    started = time.perf_counter()
    opening = prefix or (THOUGHT if agent.force_format else None)
    if agent.force_final_answer and index == agent.max_steps - 1:
        opening = FINAL_OPENING
    response = await episode.generate(
        GenerationRequest(messages=messages, sampling=sampling, assistant_prefix=opening, logprobs=settings.capture_tokens)
    )
    texts = [written_turn(opening, choice) for choice in response.choices]
    completion_tokens = response.completion_tokens
    if agent.force_format:
        texts, extra = await _force_code_blocks(episode, texts, messages, sampling)
        completion_tokens += extra
    if n == 1:
        winner = await asyncio.to_thread(_run_candidate, 0, texts[0], interpreter)
        runs, counts, next_interpreter = [winner], {}, interpreter
    else:
        runs = await _run_candidates(texts, interpreter)
        winner, counts = choose(runs)
        next_interpreter = winner.interpreter or interpreter
        await asyncio.to_thread(_close_losers, runs, winner, interpreter)
    step = action_step(
        index, winner, response,
        prefix=prefix,
        tool_calls=_tool_calls(winner),
        candidates=to_candidates(runs, winner, counts) if n > 1 else [],
        completion_tokens=completion_tokens,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        capture_tokens=settings.capture_tokens,
    )
    return step, next_interpreter, winner.result


FINAL_OPENING = "Thought: I will now give the final answer.\nCode:\n```py\nfinal_answer("


async def _force_code_blocks(
    episode: Episode, texts: list[str], messages: Sequence[Message], sampling: Sampling
) -> tuple[list[str], int]:
    """Constrained decoding for weak models: an output without a code block is cut after its
    first paragraph of thought, "Code:" and a ```py fence are appended, and the model
    continues from there, so every action has the format the agent loop parses."""
    missing = [i for i, text in enumerate(texts) if parse_action(text).code is None]
    if not missing:
        return texts, 0
    one = sampling.model_copy(update={"n": 1, "stop": ["```", END_CODE, "Observation:"]})
    openings = {i: _code_opening(texts[i]) for i in missing}
    responses = await asyncio.gather(
        *(episode.generate(GenerationRequest(messages=messages, sampling=one, assistant_prefix=openings[i])) for i in missing)
    )
    fixed = list(texts)
    extra = 0
    for i, response in zip(missing, responses, strict=True):
        extra += response.completion_tokens
        fixed[i] = f"{openings[i]}{response.text.rstrip()}\n```{END_CODE}"
    return fixed, extra


def _code_opening(text: str) -> str:
    thought = text.split("```", 1)[0].split("Code:", 1)[0]
    thought = thought.strip().split("\n\n", 1)[0].strip() or THOUGHT
    return f"{thought}\nCode:\n```py\n"


async def _run_candidates(texts: list[str], interpreter: Interpreter) -> list[CandidateRun]:
    def run_one(i: int, text: str) -> CandidateRun:
        fork = interpreter.fork()
        return _run_candidate(i, text, fork, own_interpreter=True)

    return list(await asyncio.gather(*(asyncio.to_thread(run_one, i, t) for i, t in enumerate(texts))))


def _close_losers(runs: list[CandidateRun], winner: CandidateRun, original: Interpreter) -> None:
    for run in runs:
        if run is not winner and run.interpreter is not None:
            run.interpreter.close()
    if winner.interpreter is not None and winner.interpreter is not original:
        original.close()


def _run_candidate(index: int, text: str, interpreter: Interpreter, own_interpreter: bool = False) -> CandidateRun:
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
