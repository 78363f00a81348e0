"""`trajkit export DS OUT --format axolotl`: chat messages with per-message train flags.

The rows are `trajkit.sft.convert.messages_record` — the student conversation `trajkit train`
trains on (student prompt, CodeAct turns, observations as user turns) with the same per-step
loss decisions (`trajkit.sft.convert.loss_turns`): each message has `train` (does it carry
loss) and, where only part of an assistant turn carries loss (the first-thought prefix
excluded), `train_detail` with character ranges `{begin_offset, end_offset, train}`, the
fields axolotl's `chat_template` strategy reads through `message_field_training` and
`message_field_training_detail`.

Files: `train.jsonl` (all splits, with a `split` column) and `axolotl.yaml`, the `datasets:`
section that reads it. Its paths are relative to the export folder (axolotl resolves them from
the folder it runs in), so the folder can be moved or uploaded as it is.
"""

from __future__ import annotations

from trajkit.exports.output import ExportFolder, MissingDataError
from trajkit.exports.source import load_source, student_prompt
from trajkit.schema import Trajectory
from trajkit.sft.convert import (
    Example,
    ExampleOptions,
    example_weight,
    loss_turns,
    messages_record,
    student_messages,
)

CONFIG = """\
# axolotl: the dataset section for trajkit's export (per-message train flags).
# Paths are relative to this folder: run axolotl here, or put the folder's path in front of them.
datasets:
  - path: .
    ds_type: json
    data_files:
      - train.jsonl
    type: chat_template
    field_messages: messages
    message_property_mappings:
      role: role
      content: content
    roles_to_train: []          # loss comes from each message's `train` flag only
    message_field_training: train
    message_field_training_detail: train_detail
    train_on_eos: turn          # the end-of-turn token after a trained turn carries loss
"""


def axolotl_record(traj: Trajectory, system_prompt: str, options: ExampleOptions, mode: str) -> dict | None:
    """One row, or None when the trajectory carries no loss (dropped as `trajkit train` drops it)."""
    weight = example_weight(traj, options)
    if weight is None:
        return None
    messages = student_messages(traj, system_prompt, mode=mode)
    turns = loss_turns(traj, messages, traj.steps, options)
    if not turns:
        return None
    example = Example(traj.trajectory_id, messages, [], [], turns, weight=weight, mode=mode)
    record = messages_record(example)
    skips = {turn.message_index: turn.skip_chars for turn in turns}
    for index, message in enumerate(record["messages"]):
        message.setdefault("train", False)
        skip = skips.get(index, 0)
        if skip:
            end = len(message["content"])
            message["train_detail"] = [
                {"begin_offset": 0, "end_offset": skip, "train": False},
                {"begin_offset": skip, "end_offset": end, "train": True},
            ]
        else:
            message["train_detail"] = None
    # the tools are described in the system prompt; axolotl would also hand a `tools` column
    # to the chat template (field_tools), which changes the rendering the student sees
    record.pop("tools", None)
    record["split"] = traj.task.split
    return record


def export_axolotl(dataset: str, out: str, *, options: ExampleOptions | None = None, overwrite: bool = False) -> dict:
    options = options or ExampleOptions()
    source = load_source(dataset)
    system_prompt, mode = student_prompt(source.trajectories, where=str(dataset))
    records = [r for t in source.trajectories if (r := axolotl_record(t, system_prompt, options, mode))]
    if not records:
        raise MissingDataError(
            f"none of the {len(source.trajectories)} trajectories carries loss (incorrect ones are "
            "dropped; error steps and steps marked train=false carry none)",
            where=str(dataset),
            fix="export a dataset with correct trajectories",
        )
    with ExportFolder(out, overwrite=overwrite) as folder:
        folder.write_jsonl("train.jsonl", records)
        folder.write_text("axolotl.yaml", CONFIG)
    return {"conversations": len(records), "left out": len(source.trajectories) - len(records),
            "files": folder.files}
