"""Tasks: where they come from, the synthetic tool-requiring set, and grading answers.

    from trajkit.tasks import load_tasks, grade
    task_set = load_tasks({"source": "seed:hotpotqa", "split": "test", "limit": 100})
    result = grade(task_set.tasks[0], "Coahuila, Mexico")   # -> Grade(correct, score, grader, ...)

Modules: `sources` (spec, report, record converter), `seed` (the paper's task files),
`files` (JSONL/JSON/CSV/Parquet; writing task Parquet), `hf` (Hugging Face datasets),
`synth` (the synthetic generator), `grading` (+ `textmatch`, `mathcheck`, `judge`),
`regrade` (re-grading a dataset into a new version). Only the standard library, pydantic and
pyarrow are imported here; `datasets`, math-verify and model clients load when used.
"""

from trajkit.tasks.files import write_tasks
from trajkit.tasks.grading import Grade, agrade, grade
from trajkit.tasks.sources import LoadReport, TaskSet, TaskSpec, load_tasks
from trajkit.tasks.synth import SynthConfig, generate

__all__ = [
    "Grade",
    "LoadReport",
    "SynthConfig",
    "TaskSet",
    "TaskSpec",
    "agrade",
    "generate",
    "grade",
    "load_tasks",
    "write_tasks",
]
