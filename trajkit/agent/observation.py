"""The observation: what the model is shown after its code ran. One renderer, two stages.

- `observation_of(result)`: an interpreter's `ExecResult` as the text stored on the step
  (`Step.observation`): the printed output, then `Out: <value>` for the last expression's value
  (never after `final_answer(...)`). The agent loop calls it for every candidate.
- `observation_text(step)`: the observation turn the model reads before its next action, built
  from a stored step: `Observation:\\n<output>`, or for a failed step the error (with exception
  type and line) and a note to retry. Output longer than `MAX_OBSERVATION_CHARS` is cut, and
  the turn says how many characters were left out. `trajkit.agent.format.conversation` (the
  history the agent loop, `trajkit eval` and `trajkit train` all use), the tool-call rendering
  and the exports call it, so every consumer shows the same text.

The sandbox already keeps at most `SandboxPolicy.max_output_chars` of stdout; an output cut
there is longer than `MAX_OBSERVATION_CHARS`, so the model is told it was cut by the note here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trajkit.schema import Step

if TYPE_CHECKING:
    from trajkit.tools.protocol import ExecResult

MAX_OBSERVATION_CHARS = 4000
RETRY_NOTE = "Now let's retry: take care not to repeat previous errors!"


def observation_of(result: ExecResult) -> str | None:
    """The stored observation of running code: printed output, then the last value (None: nothing)."""
    parts = []
    stdout = (result.stdout or "").rstrip()
    if stdout:
        parts.append(stdout)
    if result.value is not None and not result.answered:
        parts.append(f"Out: {result.value}")
    return "\n".join(parts) if parts else None


def observation_text(step: Step) -> str:
    """The observation turn the model is shown after `step`: its output, or the error to recover from."""
    if step.error is not None:
        detail = step.error.message
        if step.error.type == "execution_error" and step.error.exception:
            where = f" (line {step.error.line})" if step.error.line else ""
            detail = f"{step.error.exception}{where}: {step.error.message}"
        text = f"Error: {detail}\n{RETRY_NOTE}"
        if step.observation:
            text = f"Observation:\n{clip_output(step.observation)}\n{text}"
        return text
    return f"Observation:\n{clip_output(step.observation or 'No output.')}"


def clip_output(text: str) -> str:
    """`text` cut to `MAX_OBSERVATION_CHARS`, with a note of how many characters were left out."""
    if len(text) <= MAX_OBSERVATION_CHARS:
        return text
    return text[:MAX_OBSERVATION_CHARS] + f"\n... ({len(text) - MAX_OBSERVATION_CHARS} more characters)"
