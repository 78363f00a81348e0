"""Tasks: where they come from and the synthetic tool-requiring set.

    from trajkit.tasks import load_tasks
    task_set = load_tasks({"source": "seed:hotpotqa", "split": "test", "limit": 100})

Modules: `sources` (the entry point, `load_tasks`), `spec` (`TaskSpec`), `report`
(`LoadReport`, `TaskSet`), `records` (the record converter every loader uses); the loaders
`seed` (the paper's task files), `files` (JSONL/JSON/CSV/Parquet; writing task Parquet) and
`hf` (Hugging Face datasets); `synth` (the synthetic generator, with `synth_world` and
`synth_questions`). Grading answers is `trajkit.grading`'s. Only the standard library,
pydantic and pyarrow are imported here; `datasets` loads when used.
"""

from trajkit.tasks.files import write_tasks
from trajkit.tasks.report import LoadReport, TaskSet
from trajkit.tasks.sources import load_tasks
from trajkit.tasks.spec import TaskSpec
from trajkit.tasks.synth import SynthConfig, generate

__all__ = [
    "LoadReport",
    "SynthConfig",
    "TaskSet",
    "TaskSpec",
    "generate",
    "load_tasks",
    "write_tasks",
]
