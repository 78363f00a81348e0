"""The rows of each Hub config, rendered from a table of stored trajectories.

- `trajectories`: the stored rows as they are (the full nested schema);
- `sft`: exactly what `trajkit train` trains on, in text: the student's conversation
  (`trajkit.sft.convert.student_messages`: the CodeAct format of `trajkit.agent.format.conversation`
  with the student system prompt, or the CoT conversation for CoT answers; `system_prompt_id` names
  the prompt whose text is the first message) with a `train` flag
  per message saying which turns carry loss (`trajkit.sft.convert.loss_turns` under the recipe's
  default example options: no loss on error steps or steps marked `train: false`). Rendered with
  the student's chat template and masked per `train`, a row gives the same tokens and loss mask
  as `trajkit train` (tests/sft/test_renderings_agree.py);
- `sft_tool_calls`: the OpenAI tool-calling rendering (`trajkit.agent.tool_calls.tool_call_messages`),
  for trainers built around native tool calls; opt-in (`--config sft_tool_calls`).

Each config is a `ConfigRows`: its Arrow schema and a function from a table of trajectories to
its rows. They depend on the rows only (and the dataset's provenance groups), so exports are
deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from trajkit.schema import Trajectory
    from trajkit.sft.convert import Mode
    from trajkit.store import Dataset


class ConfigRows(Protocol):
    """How one config's Parquet rows are made from stored trajectory rows."""

    def schema(self) -> pa.Schema: ...

    def table(self, rows: pa.Table) -> pa.Table: ...


class TrajectoryRows:
    """`trajectories`: the stored rows, unchanged."""

    def schema(self) -> pa.Schema:
        from trajkit.schema import arrow_schema

        return arrow_schema()

    def table(self, rows: pa.Table) -> pa.Table:
        return rows


def _columns(middle: list[tuple[str, pa.DataType]]) -> pa.Schema:
    """The schema of a chat config: the trajectory's ids, `middle`, then its outcome."""
    import pyarrow as pa

    ids = [(name, pa.string()) for name in ("trajectory_id", "task_id", "source", "domain")]
    outcome = [("final_answer", pa.string()), ("correct", pa.bool_())]
    return pa.schema([*ids, *middle, *outcome])


def _row(traj: Trajectory, **middle) -> dict:
    return {
        "trajectory_id": traj.trajectory_id,
        "task_id": traj.task.task_id,
        "source": traj.task.source,
        "domain": traj.task.domain,
        **middle,
        "final_answer": traj.outcome.final_answer,
        "correct": traj.outcome.correct,
    }


class _ChatRows(Protocol):
    def schema(self) -> pa.Schema: ...

    def row(self, traj: Trajectory) -> dict: ...


def _chat_table(config: _ChatRows, rows: pa.Table) -> pa.Table:
    """A chat config's table: one row per stored trajectory, rendered by `config.row`."""
    import pyarrow as pa

    from trajkit.schema import Trajectory

    trajectories = (Trajectory.model_validate(row) for row in rows.to_pylist())
    return pa.Table.from_pylist([config.row(t) for t in trajectories], schema=config.schema())


@dataclass
class StudentPrompt:
    id: str  # template id, e.g. student/v1
    text: str


class SftRows:
    """`sft`: the student conversation `trajkit train` trains on, with per-message loss flags."""

    def __init__(self, modes: dict[str, Mode]):
        from trajkit.agent.prompts import load_prompt
        from trajkit.sft.convert import AUTO, system_prompt_name

        self.modes = modes  # provenance fingerprint -> agent | cot
        self.prompts: dict[str, StudentPrompt] = {}
        for mode in sorted(set(modes.values())):
            prompt = load_prompt(system_prompt_name(AUTO, mode))
            self.prompts[mode] = StudentPrompt(prompt.id, prompt.text)

    @classmethod
    def of(cls, dataset: Dataset) -> SftRows:
        from trajkit.sft.data import provenance_modes

        return cls(provenance_modes(dataset.trajectories()))

    def schema(self) -> pa.Schema:
        import pyarrow as pa

        message = pa.struct([("role", pa.string()), ("content", pa.string()), ("train", pa.bool_())])
        return _columns([("system_prompt_id", pa.string()), ("messages", pa.list_(message))])

    def row(self, traj: Trajectory) -> dict:
        from trajkit.sft.convert import (
            ExampleOptions,
            loss_turns,
            student_messages,
            with_loss_flags,
        )

        mode = self.modes[traj.provenance.fingerprint]
        prompt = self.prompts[mode]
        messages = student_messages(traj, prompt.text, mode=mode)
        turns = loss_turns(traj, messages, traj.steps, ExampleOptions())
        return _row(traj, system_prompt_id=prompt.id, messages=with_loss_flags(messages, turns))

    def table(self, rows: pa.Table) -> pa.Table:
        return _chat_table(self, rows)


class ToolCallRows:
    """`sft_tool_calls`: OpenAI-style chat with one `python_interpreter` call per step."""

    def schema(self) -> pa.Schema:
        import pyarrow as pa

        # `arguments` is an object, the convention of Hugging Face chat templates (OpenAI's wire
        # format carries its JSON text instead); the only tool is python_interpreter(code).
        function = pa.struct([("name", pa.string()), ("arguments", pa.struct([("code", pa.string())]))])
        tool_call = pa.struct([("id", pa.string()), ("type", pa.string()), ("function", function)])
        message = pa.struct(
            [
                ("role", pa.string()),
                ("content", pa.string()),
                ("tool_calls", pa.list_(tool_call)),
                ("tool_call_id", pa.string()),
            ]
        )
        # `tools` is JSON text: TRL's SFTTrainer json-decodes a string `tools`
        return _columns([("messages", pa.list_(message)), ("tools", pa.string())])

    def row(self, traj: Trajectory) -> dict:
        from trajkit.agent.tool_calls import tool_call_messages

        chat = tool_call_messages(traj)
        for message in chat["messages"]:
            for call in message.get("tool_calls") or []:
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        tools = json.dumps(chat["tools"], ensure_ascii=False, sort_keys=True)
        return _row(traj, messages=chat["messages"], tools=tools)

    def table(self, rows: pa.Table) -> pa.Table:
        return _chat_table(self, rows)


def config_rows(dataset: Dataset, configs: list[str]) -> dict[str, ConfigRows]:
    """The row makers of `configs` for `dataset`."""
    makers: dict[str, ConfigRows] = {}
    for config in configs:
        if config == "trajectories":
            makers[config] = TrajectoryRows()
        elif config == "sft":
            makers[config] = SftRows.of(dataset)
        elif config == "sft_tool_calls":
            makers[config] = ToolCallRows()
        else:
            raise ValueError(f"unknown config {config!r}")
    return makers
