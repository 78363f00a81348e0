"""Golden values: the provenance fingerprint and trajectory id each shipped recipe gives.

A trajectory id is (task id, provenance fingerprint, sample index) hashed, and `trajkit build`
resumes by skipping ids already stored. If a refactor changes how a recipe becomes a
fingerprint, every existing dataset silently rebuilds from scratch and `trajkit merge` sees
different runs. These values were recorded before the rollout engine was restructured; they
must not change unless the schema version changes with an upgrade path.

The search tool's version (an index id, which depends on the corpus) is pinned to a constant;
the interpreter's version is the real sandbox policy of each recipe.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trajkit.evaluate import load_eval_recipe, plan_eval
from trajkit.plan import plan_build
from trajkit.recipe import load_build_recipe
from trajkit.schema import ToolInfo, trajectory_id

RECIPES = Path(__file__).resolve().parents[1] / "recipes"

GOLDEN = {
    "recipes/demo.yaml": ("135c340e3a3d5417", "bc0c22d23cb3529b32d6325f"),
    "recipes/eval-demo.yaml": ("e27415aafcad804f", "33bb8b64df83c6dc3667162a"),
    "recipes/eval-paper.yaml": ("70e12a931b4c2db7", "61226805f9a37cff58b9f23a"),
    # the experiment of issue 24 (new task mix, CoT + RAG arm, SAG 4, CoT at 256 tokens with two
    # samples at temperature 0.7) is a new set of runs, so new ids; teacher.yaml is unchanged
    "recipes/experiment/eval-agent-sag.yaml": ("3aa63e8ea208bc66", "3d6609a90906218e46ef0c27"),
    "recipes/experiment/eval-agent.yaml": ("e58f0473327887b1", "9ae8796131a80e9fa450913a"),
    # the dev world where levers are decided (scripts/lever-reword.sh): its own corpus, its own runs
    "recipes/experiment/eval-agent-dev.yaml": ("317633ffda9f9cf0", "7d12414d30c04bc99f0ff89e"),
    "recipes/experiment/eval-cot-rag.yaml": ("54167aba3a43c71a", "22cbba797d5ee9ca9a312eb8"),
    "recipes/experiment/eval-cot.yaml": ("54167aba3a43c71a", "22cbba797d5ee9ca9a312eb8"),
    "recipes/experiment/eval-teacher.yaml": ("47b3b1a194df59f9", "8a4ac8df231189c7c9cd4885"),
    "recipes/experiment/teacher-cot-rag.yaml": ("4216cdf66c8f8434", "8cb86e847f50019b3e4c47e1"),
    "recipes/experiment/teacher-cot.yaml": ("4216cdf66c8f8434", "8cb86e847f50019b3e4c47e1"),
    "recipes/experiment/teacher.yaml": ("f1ed5816f79526cf", "dfa54dc93d0361c7aa03fa47"),
    # teacher.yaml with the first-thought prefix: its own provenance (and the shipped teacher-ftp run's)
    "recipes/experiment/teacher-ftp.yaml": ("914e663476e7e987", "6de3216fcb1532b63eb1abe9"),
    # the rewording lever's teacher: teacher.yaml on other tasks, the same provenance
    "recipes/experiment/teacher-reworded.yaml": ("f1ed5816f79526cf", "dfa54dc93d0361c7aa03fa47"),
    "recipes/paper-teacher-ftp.yaml": ("6c63dc95938d07d4", "debdb7ee7e896438bfba6733"),
    "recipes/paper-teacher-openai.yaml": ("0862a19b9117581a", "66b17be169fdad9fc123a22b"),
    "recipes/paper-teacher.yaml": ("fd70d840430ce73e", "42a2306546c7a239b4ed2417"),
}


def _tool_infos(sandbox_config) -> list[ToolInfo]:
    interpreter = sandbox_config.policy().describe()
    return [ToolInfo(name="python_interpreter", version=interpreter), ToolInfo(name="search", version="pinned")]


def _fingerprint(recipe_file: Path, tasks_file: Path, tmp_path: Path) -> str:
    data = yaml.safe_load(recipe_file.read_text())
    copy = tmp_path / recipe_file.name
    if "benchmarks" in data:
        data["benchmarks"] = [{**b, "tasks": {"source": str(tasks_file)}} for b in data["benchmarks"]]
        copy.write_text(yaml.safe_dump(data))
        recipe, raw = load_eval_recipe(copy)
        infos = _tool_infos(recipe.tools.sandbox) if recipe.mode == "agent" else []
        return plan_eval(recipe, raw, infos).provenance.fingerprint
    data["tasks"] = {"source": str(tasks_file)}
    copy.write_text(yaml.safe_dump(data))
    recipe, raw = load_build_recipe(copy)
    infos = _tool_infos(recipe.tools.sandbox) if recipe.mode == "agent" else []
    return plan_build(recipe, raw, tool_infos=infos).provenance.fingerprint


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_recipe_fingerprint_and_id_are_unchanged(name, tmp_path):
    tasks_file = tmp_path / "t.jsonl"
    tasks_file.write_text('{"task_id":"t0","question":"What is 2+2?","gold_answer":"4"}\n')
    fingerprint = _fingerprint(RECIPES.parent / name, tasks_file, tmp_path)
    assert (fingerprint, trajectory_id("t0", fingerprint, 0)) == GOLDEN[name]


def test_every_build_and_eval_recipe_is_pinned():
    shipped = set()
    for path in RECIPES.rglob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if "benchmarks" in data or "teacher" in data:
            shipped.add(str(path.relative_to(RECIPES.parent)))
    assert shipped == set(GOLDEN)
