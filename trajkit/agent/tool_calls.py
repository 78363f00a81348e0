"""The OpenAI tool-calling rendering of a trajectory: chat `messages` with `tool_calls`.

For trainers and chat templates built around native tool calls (the Hub's `sft_tool_calls`
config, `trajkit dump -f messages`, the LLaMA-Factory export). Each step becomes an assistant
turn whose `content` is the thought and whose single tool call runs the step's code with the
`python_interpreter` tool (`trajkit.tools.spec.PYTHON_TOOL`), followed by a `tool` turn
with the observation (`trajkit.agent.observation.observation_text`). A step without code
(a parse error) is an assistant turn without a call, answered by a `user` turn with the error.

This is not what `trajkit train` trains on or what `trajkit eval` shows a student: those use
the CodeAct text format (`trajkit.agent.format.conversation`), published as the Hub's `sft`
config. A model trained on this form calls tools in its chat template's tool-call syntax,
which trajkit's agent loop does not parse.
"""

from __future__ import annotations

import json

from trajkit.agent.format import task_text
from trajkit.agent.observation import observation_text
from trajkit.schema import Step, Trajectory
from trajkit.tools.spec import PYTHON_INTERPRETER, PYTHON_TOOL


def tool_call_messages(traj: Trajectory, system_prompt: str | None = None) -> dict:
    """One trajectory as `{"messages": [...], "tools": [...]}` (+ ids and outcome), OpenAI style.

    `arguments` of a call is JSON text, as on OpenAI's wire format.
    """
    messages: list[dict] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": task_text(traj.task.question)})
    for step in traj.steps:
        messages.extend(_step_messages(step))
    return {
        "trajectory_id": traj.trajectory_id,
        "task_id": traj.task.task_id,
        "messages": messages,
        "tools": [PYTHON_TOOL],
        "final_answer": traj.outcome.final_answer,
        "correct": traj.outcome.correct,
    }


def call_id(step: Step) -> str:
    return f"call_{step.index}"


def _step_messages(step: Step) -> list[dict]:
    thought = step.thought or ("" if step.code else step.raw_output)
    assistant: dict = {"role": "assistant", "content": thought}
    if not step.code:
        if step.error is None:
            return [assistant]
        return [assistant, {"role": "user", "content": observation_text(step)}]
    assistant["tool_calls"] = [
        {
            "id": call_id(step),
            "type": "function",
            "function": {
                "name": PYTHON_INTERPRETER,
                "arguments": json.dumps({"code": step.code}, ensure_ascii=False),
            },
        }
    ]
    return [assistant, {"role": "tool", "tool_call_id": call_id(step), "content": observation_text(step)}]
