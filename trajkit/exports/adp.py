"""The Agent Data Protocol (ADP, neulab/agent-data-protocol, schema 1.2.0): export.

One ADP trajectory per trajkit trajectory (`adp.jsonl`, one JSON object a line):

- `content[0]`: the task, a `text_observation` from the `user`;
- a step with code: a `code_action` (`language: python`, `content`: the code, `description`:
  the thought), then the `text_observation` it produced (`source: environment`), linked by
  `tool_call_id` (`call_<step>`); for a step that failed, the observation is the error text the
  model was shown (`trajkit.agent.observation.observation_text`);
- a step without code: a `message_action` (`content`: the raw output, `description`: the
  thought), then the error it was shown, unlinked;
- the last action carries the outcome's score as `reward`;
- `available_code_languages: ["python"]` when there is code; `details.trajkit`: everything ADP
  has no field for (task, provenance, outcome, usage, per-step errors, tool calls, candidates,
  tokens), so trajkit -> ADP -> trajkit is exact; other ADP readers ignore it.

`trajkit.importers.adp` reads these (and ADP from elsewhere) back.
"""

from __future__ import annotations

from trajkit.agent.tool_calls import call_id
from trajkit.exports.output import ExportFolder, MissingDataError
from trajkit.exports.source import load_source
from trajkit.schema import Step, Trajectory

ADP_VERSION = "1.2.0"
LANGUAGE = "python"
# step fields ADP has no place for; kept in details.trajkit.steps
_STEP_EXTRAS = ("index", "error", "final_answer", "prefix", "raw_output", "tool_calls", "prompt_tokens",
                "completion_tokens", "latency_ms", "candidates", "train", "token_ids", "logprobs", "observation")


def step_observation(step: Step) -> str | None:
    """The text an ADP reader sees after the step's action (None: nothing was shown)."""
    if step.error is not None:
        from trajkit.agent.observation import observation_text

        return observation_text(step)
    if step.code is None:
        return None
    return step.observation or ""


def to_adp(traj: Trajectory) -> dict:
    content: list[dict] = [{"class_": "text_observation", "content": traj.task.question, "source": "user"}]
    for step in traj.steps:
        shown = step_observation(step)
        if step.code is not None:
            content.append({"class_": "code_action", "language": LANGUAGE, "content": step.code,
                            "description": step.thought, "tool_call_id": call_id(step)})
            content.append({"class_": "text_observation", "content": shown or "", "source": "environment",
                            "tool_call_id": call_id(step)})
        else:
            content.append({"class_": "message_action", "content": step.raw_output, "description": step.thought})
            if shown is not None:
                content.append({"class_": "text_observation", "content": shown, "source": "environment"})
    last_action = next((item for item in reversed(content) if item["class_"].endswith("_action")), None)
    if last_action is not None and traj.outcome.score is not None:
        last_action["reward"] = traj.outcome.score
    record = {"schema_version": ADP_VERSION, "id": traj.trajectory_id, "content": content}
    if any(step.code is not None for step in traj.steps):
        record["available_code_languages"] = [LANGUAGE]
    record["details"] = {
        "dataset": traj.task.source,
        "trajkit": {
            "schema_version": traj.schema_version,
            "sample_index": traj.sample_index,
            "task": traj.task.model_dump(mode="json"),
            "provenance": traj.provenance.model_dump(mode="json"),
            "outcome": traj.outcome.model_dump(mode="json"),
            "usage": traj.usage.model_dump(mode="json"),
            "review": traj.review.model_dump(mode="json") if traj.review else None,
            "created_at": traj.created_at.isoformat(),
            "steps": [step.model_dump(mode="json", include=set(_STEP_EXTRAS)) for step in traj.steps],
        },
    }
    return record


def export_adp(dataset: str, out: str, *, overwrite: bool = False) -> dict:
    source = load_source(dataset)
    if not source.trajectories:
        raise MissingDataError("the dataset is empty", where=str(dataset))
    with ExportFolder(out, overwrite=overwrite) as folder:
        count = folder.write_jsonl("adp.jsonl", (to_adp(t) for t in source.trajectories))
    return {"trajectories": count, "files": folder.files}
