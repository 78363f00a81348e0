"""The agent's CodeAct text format, shared by the agent loop, SFT conversion and evaluation.

One action is written by the model as

    Thought: <reasoning>
    Code:
    ```py
    <python>
    ```<end_code>

and answered by an observation turn (`trajkit.agent.observation.observation_text`).
`parse_action` reads (thought, code) from what the model wrote; a step's assistant turn is that
text as written (`written_turn`, `step_assistant_text`: nothing rewritten, so tokenizing the
training example reproduces the model's tokens), and `render_action` writes the canonical form
only for steps that kept no raw text. `conversation` builds the chat history the model sees
before its next action. Training (`trajkit.sft`, and the Hub's
`sft` config, `trajkit.hub.configs`) and inference (the agent loop, `trajkit eval`) all call
`conversation`, so the student is trained on exactly the prompts it is evaluated with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trajkit.agent.observation import observation_text
from trajkit.schema import Step, StepError
from trajkit.teachers.base import Choice, trim_at_stop

END_CODE = "<end_code>"
# a server cuts the stop string it stops on; with these two the text before tells which one it
# was (`written_turn`): `<end_code>` follows the closing fence, "Observation:" a line break
STOP_SEQUENCES = [END_CODE, "Observation:"]
THOUGHT = "Thought:"
_CODE_BLOCK = re.compile(r"```(?:py|python)?[ \t]*\n(.*?)(?:\n```|```|$)", re.DOTALL)


@dataclass(frozen=True)
class ParsedAction:
    thought: str | None
    code: str | None
    error: StepError | None


def render_action(thought: str | None, code: str | None) -> str:
    """The assistant text of one action (what the model is trained to write)."""
    parts = []
    if thought:
        parts.append(f"{THOUGHT} {thought.strip()}")
    if code is not None:
        parts.append(f"Code:\n```py\n{code.strip()}\n```{END_CODE}")
    return "\n".join(parts)


def parse_action(text: str) -> ParsedAction:
    """Split model output into thought and code; a missing code block is a parse_error."""
    body = cut_at_stop(text)
    match = _CODE_BLOCK.search(body)
    thought_part = body[: match.start()] if match else body
    thought = _clean_thought(thought_part)
    if not match or not match.group(1).strip():
        return ParsedAction(
            thought=thought,
            code=None,
            error=StepError(
                type="parse_error",
                message=(
                    "no code block found. Write 'Thought: ...' then 'Code:' and a ```py ... ``` "
                    f"block ending with {END_CODE}; call final_answer(...) to answer."
                ),
            ),
        )
    return ParsedAction(thought=thought, code=match.group(1).strip(), error=None)


def _clean_thought(text: str) -> str | None:
    text = text.strip()
    if text.startswith(THOUGHT):
        text = text[len(THOUGHT):]
    text = re.sub(r"\n?Code:\s*$", "", text.strip()).strip()
    return text or None


def cut_at_stop(text: str) -> str:
    """`text` up to the first stop string (what the agent parses)."""
    return trim_at_stop(text, STOP_SEQUENCES)[0]


def written_turn(opening: str | None, choice: Choice) -> str:
    """What the model wrote for one turn, the step's source of truth (`Step.raw_output`): the
    opening the loop put in front (first-thought prefix, forced "Thought:"), the completion, and
    the stop string it ended on, which servers cut from the text. A server that cuts without
    saying which (llama.cpp, most OpenAI-compatible servers) stopped on `<end_code>` when the
    text ends with the closing fence, unless the model ended its turn with its own token."""
    text = (opening or "") + choice.text
    stop = choice.stop
    if stop is None and choice.finish_reason == "stop" and not choice.end_of_turn:
        stop = END_CODE if text.endswith("```") else None
    return text + (stop or "")


def step_assistant_text(step: Step) -> str:
    """The assistant turn of a stored step: what the model wrote (`raw_output`, first-thought
    prefix and stop string included), as written; rebuilt from thought and code only for steps
    without it (imports of logs that kept no raw text)."""
    if step.raw_output:
        return step.raw_output
    return render_action(step.thought, step.code)


def task_text(question: str) -> str:
    return f"New task:\n{question.strip()}"


def conversation(system_prompt: str, question: str, steps: list[Step]) -> list[dict[str, str]]:
    """The chat history the model sees before its next action (after `steps`)."""
    messages = [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": task_text(question)},
    ]
    for step in steps:
        messages.append({"role": "assistant", "content": step_assistant_text(step)})
        if step.final_answer is None or step.error is not None:
            messages.append({"role": "user", "content": observation_text(step)})
    return messages
