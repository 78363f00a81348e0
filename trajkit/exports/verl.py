"""`trajkit export SRC OUT --format verl`: RL prompts as verl's RL dataset reads them.

One row per task (a task set, or the distinct tasks of a dataset), in the columns of verl's
data preparation (`examples/data_preprocess/*.py`, `verl.utils.dataset.RLHFDataset`):

- `prompt`: the chat the student starts from, `[system: student prompt, user: task]`, rendered
  by `trajkit.agent.format.conversation` (the prompt `trajkit train` and `trajkit eval` use);
- `data_source`: the task source; `ability`: the task domain;
- `reward_model`: `{"style": "rule", "ground_truth": gold answer}`;
- `extra_info`: `{split, index, task_id, question, gold_aliases, metadata (JSON text)}`.

Files: `<split>.parquet` per task split (`data.train_files=OUT/train.parquet`). Tasks without a
gold answer are left out (a rule reward needs one). verl picks a reward function by
`data_source`; pass trajkit's grading as `custom_reward_function` for these sources.
"""

from __future__ import annotations

from pathlib import Path

from trajkit.exports.output import ExportFolder, MissingDataError, by_split
from trajkit.schema import Task


def _tasks_of(source: str | Path) -> tuple[list[Task], str, str]:
    """(tasks, system prompt, what was read) from a dataset directory or a task set spec."""
    from trajkit.agent.prompts import load_prompt
    from trajkit.store import MANIFEST

    path = Path(source)
    if (path / MANIFEST).is_file():
        from trajkit.exports.source import load_source, student_prompt

        loaded = load_source(path)
        system_prompt, _ = student_prompt(loaded.trajectories, where=str(path))
        seen: dict[str, Task] = {}
        for traj in loaded.trajectories:
            seen.setdefault(traj.task.task_id, traj.task)
        return list(seen.values()), system_prompt, "dataset"
    from trajkit.tasks import load_tasks

    return load_tasks(str(source)).tasks, load_prompt("student").text, "task set"


def verl_row(task: Task, index: int, system_prompt: str) -> dict:
    from trajkit.agent.format import conversation

    return {
        "data_source": task.source,
        "prompt": conversation(system_prompt, task.question, []),
        "ability": task.domain,
        "reward_model": {"style": "rule", "ground_truth": task.gold_answer},
        "extra_info": {
            "split": task.split,
            "index": index,
            "task_id": task.task_id,
            "question": task.question,
            "gold_aliases": list(task.gold_aliases),
            "metadata": task.metadata,
        },
    }


def _schema():
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(message)),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([
            ("split", pa.string()), ("index", pa.int64()), ("task_id", pa.string()),
            ("question", pa.string()), ("gold_aliases", pa.list_(pa.string())), ("metadata", pa.string()),
        ])),
    ])


def export_verl(source: str, out: str, *, overwrite: bool = False) -> dict:
    tasks, system_prompt, kind = _tasks_of(source)
    graded = [t for t in tasks if t.gold_answer is not None]
    if not graded:
        raise MissingDataError(
            f"none of the {len(tasks)} tasks has a gold answer, which verl's rule reward needs",
            where=str(source),
            fix="use a task set with answers (tasks: gold_answer), e.g. trajkit tasks synth",
        )
    splits = by_split((t.split, verl_row(t, i, system_prompt)) for i, t in enumerate(graded))
    with ExportFolder(out, overwrite=overwrite) as folder:
        for split, records in splits.items():
            folder.write_parquet(f"{split}.parquet", records, schema=_schema())
    return {"prompts": len(graded), "skipped (no gold answer)": len(tasks) - len(graded), "read": kind,
            "splits": ", ".join(f"{k} ({len(v)})" for k, v in splits.items()), "files": folder.files}
