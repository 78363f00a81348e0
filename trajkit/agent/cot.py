"""Chain-of-thought answers: one generation, no tools (the paper's CoT-distillation baseline).

The model gets the `cot` system prompt (`trajkit/prompts/cot.j2`) and the task as the agent
gets it (`task_text`), and answers in one turn: its reasoning, then `Final answer: X` on the
last line. One function builds that prompt (`cot_messages`) for every user of the format:

- `trajkit build` with `mode: cot` (teacher CoT data) and `trajkit eval` with `mode: cot` run
  `run_cot`, which stores the answer as a one-step trajectory in the usual schema: the whole
  generation is the step's `thought` (and `raw_output`), the extracted answer its
  `final_answer`; no code, no tool calls. A generation with no answer (empty, or cut at
  `max_tokens` before its `Final answer:` line) is a `parse_error` (on the step and as the
  trajectory's status).
- `trajkit train` on CoT trajectories trains on `cot_conversation`: the same prompt, then the
  generation as the assistant turn (`cot_target`), which ends with the `Final answer:` line.

`is_cot_provenance` tells CoT trajectories from agent ones.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from trajkit.agent.format import task_text
from trajkit.schema import Outcome, Provenance, Sampling, Step, StepError, Task, Trajectory, Usage

if TYPE_CHECKING:
    from trajkit.agent.steps import AgentResult
    from trajkit.teachers.base import Backend

COT_PROMPT = "cot"  # the prompt template of CoT teachers and students
FINAL_ANSWER = "Final answer:"
_FINAL = re.compile(r"final answer\s*[:：]\s*(.+)", re.IGNORECASE)


def extract_cot_answer(text: str, *, complete: bool = True) -> str | None:
    """The answer of a CoT generation: the last 'Final answer: X' line, else the last line —
    unless the generation is not `complete` (cut at max_tokens): its last line is not an answer."""
    matches = _FINAL.findall(text)
    if matches:
        return matches[-1].strip().rstrip(".").strip() or None
    if not complete:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def cot_messages(system_prompt: str, question: str) -> list[dict[str, str]]:
    """The prompt of a CoT answer: the system prompt and the task, as the agent gets it."""
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": task_text(question)}]


def cot_target(step: Step) -> str:
    """The assistant text a student learns from a CoT step: the generation up to and
    including its last 'Final answer: X' line.

    Text after that line is cut (the student learns to stop there). A generation whose answer
    was read from its last line (no 'Final answer:' line) gets that line rewritten as
    'Final answer: <line>', so every example teaches the format the prompt asks for.
    """
    text = (step.raw_output or step.thought or "").strip()
    finals = list(_FINAL.finditer(text))
    if finals:
        return text[: finals[-1].end()].rstrip()
    if step.final_answer is None:
        return text
    head, _, tail = text.rpartition("\n")
    if tail.strip() == step.final_answer:
        return f"{head.rstrip()}\n{FINAL_ANSWER} {step.final_answer}".lstrip()
    return f"{text}\n{FINAL_ANSWER} {step.final_answer}".lstrip()


def cot_conversation(system_prompt: str, question: str, steps: list[Step]) -> list[dict[str, str]]:
    """The chat a CoT student is trained on: `cot_messages`, then one assistant turn per step
    (a CoT trajectory has one)."""
    messages = cot_messages(system_prompt, question)
    messages.extend({"role": "assistant", "content": cot_target(step)} for step in steps)
    return messages


def is_cot_provenance(provenance: Provenance, trajectories: Iterable[Trajectory] = ()) -> bool:
    """Whether trajectories of this provenance are CoT answers, not agent trajectories.

    True when they were made with the `cot` prompt; for data made elsewhere (imports), also
    when the run allowed one step and none of its `trajectories` (those of this provenance)
    wrote code or called a tool.
    """
    if provenance.prompt_template.split("/", 1)[0] == COT_PROMPT:
        return True
    if provenance.max_steps != 1:
        return False
    return not any(step.code or step.tool_calls for traj in trajectories for step in traj.steps)


async def run_cot(task: Task, backend: Backend, system_prompt: str, sampling: Sampling) -> AgentResult:
    """One CoT answer to `task`: a single generation with no tools, as a one-step result."""
    from trajkit.agent.steps import AgentResult, answer_step, teacher_error_step
    from trajkit.teachers.base import GenerationRequest, TeacherError

    started = time.perf_counter()
    messages = cot_messages(system_prompt, task.question)
    try:
        response = await backend.generate(GenerationRequest(messages=messages, sampling=sampling.model_copy(update={"n": 1})))
    except TeacherError as exc:
        step = teacher_error_step(0, exc)
        return AgentResult(steps=[step], outcome=Outcome(status="teacher_error"), usage=Usage(steps=1))
    text = response.text
    truncated = response.finish_reason == "length"
    answer = extract_cot_answer(text, complete=not truncated)
    usage = Usage(
        prompt_tokens=response.prompt_tokens,
        completion_tokens=response.completion_tokens,
        total_tokens=response.prompt_tokens + response.completion_tokens,
        steps=1,
        model_calls=1,
        wall_time_s=round(time.perf_counter() - started, 4),
    )
    error = None
    if answer is None:
        why = "was cut at max_tokens before" if truncated else "is empty or has an empty"
        error = StepError(type="parse_error", message=f"no answer: the reply {why} '{FINAL_ANSWER} ...' line")
    step = answer_step(response, answer, error)
    status = "answered" if answer is not None else "parse_error"
    return AgentResult(steps=[step], outcome=Outcome(status=status, final_answer=answer), usage=usage)
