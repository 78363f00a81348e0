"""`trajkit export DS OUT --format llamafactory`: ShareGPT conversations with tool calls.

The conversation is trajkit's tool-call rendering (`trajkit.agent.tool_calls.tool_call_messages`,
the Hub `sft_tool_calls` config): each action is a `python_interpreter` call. In LLaMA-Factory's ShareGPT
format (`data/README.md`; `SharegptDatasetConverter`) that becomes

- `human`: the task; `function_call`: the call as JSON `{"name", "arguments"}`, preceded by the
  step's thought in the template's thought delimiters (`<think>\\n...\\n</think>\\n\\n`, which
  LLaMA-Factory's `FunctionFormatter` keeps in front of the call); `observation`: the output;
- `gpt`: an action that is not a call (no code block), answered by a `human` turn with the error;
- roles alternate (`human`/`observation` at odd positions, `gpt`/`function_call` at even ones)
  and every conversation ends with the model's turn, as the converter requires; the final
  answer's observation is dropped.

Files: `trajkit_agent.json` (a JSON list; `tools` is JSON text, as LLaMA-Factory reads it) and
`dataset_info.json` with the entry that reads it. Trajectories graded incorrect are left out,
as `trajkit train` drops them by default.
"""

from __future__ import annotations

import json

from trajkit.agent.tool_calls import tool_call_messages
from trajkit.exports.output import ExportFolder, MissingDataError
from trajkit.exports.source import load_source
from trajkit.schema import Trajectory
from trajkit.tools.spec import PYTHON_TOOL

DATASET_NAME = "trajkit_agent"
THINK_OPEN, THINK_CLOSE = "<think>\n", "\n</think>\n\n"


def dataset_info_entry(file_name: str = f"{DATASET_NAME}.json") -> dict:
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
            "observation_tag": "observation",
            "function_tag": "function_call",
            "system_tag": "system",
        },
    }


def sharegpt_record(traj: Trajectory) -> dict:
    chat = tool_call_messages(traj)
    turns = []
    for message in chat["messages"]:
        role = message["role"]
        if role == "user":
            turns.append({"from": "human", "value": message["content"]})
        elif role == "tool":
            turns.append({"from": "observation", "value": message["content"]})
        elif message.get("tool_calls"):
            call = message["tool_calls"][0]["function"]
            value = json.dumps({"name": call["name"], "arguments": json.loads(call["arguments"])}, ensure_ascii=False)
            if message["content"]:
                value = f"{THINK_OPEN}{message['content']}{THINK_CLOSE}{value}"
            turns.append({"from": "function_call", "value": value})
        else:
            turns.append({"from": "gpt", "value": message["content"]})
    while turns and turns[-1]["from"] in ("human", "observation"):
        turns.pop()
    return {
        "conversations": turns,
        "system": "",
        "tools": json.dumps([PYTHON_TOOL["function"]], ensure_ascii=False),
        "trajectory_id": traj.trajectory_id,
    }


def alternates(turns: list[dict]) -> bool:
    """The converter's rule: user/observation at odd positions, model turns at even ones, even count."""
    odd, even = ("human", "observation"), ("gpt", "function_call")
    return bool(turns) and len(turns) % 2 == 0 and all(
        turn["from"] in (odd if i % 2 == 0 else even) for i, turn in enumerate(turns)
    )


def export_llamafactory(dataset: str, out: str, *, overwrite: bool = False) -> dict:
    source = load_source(dataset)
    kept = [t for t in source.trajectories if t.outcome.correct is not False and t.steps]
    records = [r for r in map(sharegpt_record, kept) if alternates(r["conversations"])]
    if not records:
        raise MissingDataError(
            f"no trajectory to train on ({len(source.trajectories)} in the dataset, "
            f"{sum(t.outcome.correct is False for t in source.trajectories)} graded incorrect)",
            where=str(dataset),
            fix="export a dataset with correct (or ungraded) trajectories that have steps",
        )
    with ExportFolder(out, overwrite=overwrite) as folder:
        folder.write_json(f"{DATASET_NAME}.json", records)
        folder.write_json("dataset_info.json", {DATASET_NAME: dataset_info_entry()})
    return {"conversations": len(records), "left out (incorrect)": len(source.trajectories) - len(kept),
            "left out (roles do not alternate)": len(kept) - len(records),
            "files": folder.files}
