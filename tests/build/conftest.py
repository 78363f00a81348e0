import json

import pytest
import yaml

STEP_1 = "Thought: I compute it.\nCode:\n```py\nx = 6 * 7\nprint(x)\n```<end_code>"
STEP_2 = "Thought: Now I answer.\nCode:\n```py\nfinal_answer(x)\n```<end_code>"


@pytest.fixture
def task_file(tmp_path):
    path = tmp_path / "tasks.jsonl"
    rows = [{"id": f"q{i}", "question": f"What is six times seven (variant {i})?", "answer": "42" if i % 3 else "41"} for i in range(24)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_recipe(tmp_path, task_file, *, teacher=None, output="out", extra=None, name="recipe.yaml"):
    recipe = {
        "name": "test-build",
        "tasks": {"source": str(task_file), "name": "arith", "domain": "math"},
        "teacher": teacher or {"backend": "scripted", "responses": [STEP_1, STEP_2]},
        "sampling": {"temperature": 0.0, "max_tokens": 64},
        "agent": {"max_steps": 3},
        "tools": {"retriever": None, "sandbox": {"timeout_s": 10}},
        "samples_per_task": 2,
        "concurrency": 4,
        "flush_every": 5,
        "output": str(tmp_path / output),
        **(extra or {}),
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(recipe))
    return path
