"""Import Agent Data Protocol trajectories (ADP schema 1.x JSONL) into trajkit's schema.

Written by `trajkit export --format adp` (`trajkit.exports.adp`), a record carries
`details.trajkit` and comes back exactly. From elsewhere, the fields ADP has are mapped:

- the `user` text observations before the first action: the task question;
- `code_action`: a step (`description` -> thought, `content` -> code); the observation linked
  to it (`tool_call_id`, or the next one) -> the step's observation;
- `api_action`: a step whose code is the call, `function(**kwargs)`, with a tool call record;
- `message_action`: a step without code (`raw_output`); the last action being a message is the
  final answer (status `answered`), else the run ended without one (`max_steps`);
- `reward` of the last action -> `outcome.score`; `details.dataset` -> the task source.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from trajkit import __version__
from trajkit.errors import InputError, SchemaError
from trajkit.schema import Outcome, Provenance, Step, Task, ToolCall, Trajectory, Usage

ACTIONS = ("code_action", "api_action", "message_action")
OBSERVATIONS = ("text_observation", "web_observation", "image_observation")


def read_adp(path: str | Path, *, source: str = "adp", split: str = "train", domain: str = "qa") -> Iterator[Trajectory]:
    """Trajectories from an ADP JSONL file (or a JSON list); errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", where=str(path), fix="check the path")
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        records = [(f"{path}[{i}]", r) for i, r in enumerate(json.loads(text))]
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((f"{path}:{number}", json.loads(line)))
                except ValueError as exc:
                    raise InputError(f"malformed JSON ({exc})", where=f"{path}:{number}") from None
    for where, record in records:
        yield from_adp(record, source=source, split=split, domain=domain, where=where)


def from_adp(record: dict, *, source: str = "adp", split: str = "train", domain: str = "qa",
             where: str = "ADP record") -> Trajectory:
    if not isinstance(record, dict) or not isinstance(record.get("content"), list) or "id" not in record:
        raise SchemaError("not an ADP trajectory (needs id and a content list)", where=where)
    stored = (record.get("details") or {}).get("trajkit")
    try:
        if stored:
            return _restore(record, stored)
        return _map(record, source, split, domain, where)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise SchemaError(f"field {field}: {error['msg']}", where=where) from None


def _restore(record: dict, stored: dict) -> Trajectory:
    """A record trajkit exported: the ADP fields plus details.trajkit give the trajectory back."""
    actions = [item for item in record["content"] if item.get("class_") in ACTIONS]
    steps = []
    for action, extras in zip(actions, stored["steps"], strict=True):
        step = {"index": len(steps), "thought": action.get("description"), **extras}
        if action["class_"] == "code_action":
            step["code"] = action["content"]
        steps.append(Step.model_validate(step))
    return Trajectory.model_validate({
        "schema_version": stored["schema_version"],
        "trajectory_id": record["id"],
        "sample_index": stored["sample_index"],
        "task": stored["task"],
        "provenance": stored["provenance"],
        "steps": steps,
        "outcome": stored["outcome"],
        "usage": stored["usage"],
        "review": stored.get("review"),
        "created_at": stored["created_at"],
    })


def _map(record: dict, source: str, split: str, domain: str, where: str) -> Trajectory:
    content = record["content"]
    first_action = next((i for i, item in enumerate(content) if item.get("class_") in ACTIONS), len(content))
    question = "\n\n".join(
        item.get("content", "") for item in content[:first_action]
        if item.get("class_") == "text_observation" and item.get("source") == "user"
    ).strip()
    if not question:
        raise SchemaError("no user text before the first action (the task)", where=where)
    steps: list[Step] = []
    for i in range(first_action, len(content)):
        item = content[i]
        if item.get("class_") not in ACTIONS:
            continue
        observation = _observation_for(content, i)
        steps.append(_step(item, len(steps), observation))
    details = record.get("details") or {}
    last = next((item for item in reversed(content) if item.get("class_") in ACTIONS), None)
    answered = last is not None and last["class_"] == "message_action"
    if answered:
        steps[-1].final_answer = last.get("content")
    reward = last.get("reward") if last else None
    task = Task(task_id=f"{details.get('dataset') or source}:{record['id']}",
                source=str(details.get("dataset") or source), split=split, domain=domain, question=question)
    provenance = Provenance(kind="import", backend="adp-import", model=str(details.get("model") or "unknown"),
                            trajkit_version=__version__).with_fingerprint()
    outcome = Outcome(status="answered" if answered else "max_steps",
                      final_answer=last.get("content") if answered else None,
                      score=float(reward) if reward is not None else None)
    return Trajectory.new(task=task, provenance=provenance, outcome=outcome, steps=steps,
                          usage=Usage(steps=len(steps)))


def _observation_for(content: list[dict], index: int) -> str | None:
    """The observation an action produced: linked by tool_call_id, else the next item."""
    action = content[index]
    link = action.get("tool_call_id")
    for item in content[index + 1:]:
        if item.get("class_") in ACTIONS:
            return None
        if item.get("class_") in OBSERVATIONS and (link is None or item.get("tool_call_id") in (None, link)):
            return _observation_text(item)
    return None


def _observation_text(item: dict) -> str:
    if item.get("class_") == "text_observation":
        return item.get("content") or ""
    if item.get("class_") == "web_observation":
        return item.get("axtree") or item.get("html") or item.get("url") or ""
    return "[image]"


def _step(action: dict, index: int, observation: str | None) -> Step:
    kind, thought = action["class_"], action.get("description") or action.get("reasoning_content")
    if kind == "code_action":
        return Step(index=index, thought=thought, code=action["content"], observation=observation)
    if kind == "api_action":
        kwargs = action.get("kwargs") or {}
        code = f"{action['function']}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        call = ToolCall(name=action["function"], arguments=json.dumps(kwargs, ensure_ascii=False), output=observation)
        return Step(index=index, thought=thought, code=code, observation=observation, tool_calls=[call])
    return Step(index=index, thought=thought, raw_output=action.get("content") or "", observation=observation)
