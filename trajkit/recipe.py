"""Build and eval recipes: YAML files validated into typed settings.

A recipe names the tasks, the model backend and its sampling, the prompt, the agent settings,
the tools and the output. Errors name the YAML path of the bad value. Relative paths are
relative to the working directory, as with TRL and accelerate configs.

A build recipe's `mode` is `agent` (default: the CodeAct agent with tools) or `cot` (one
generation per task, no tools: the paper's CoT-distillation data). A `cot` recipe uses the
`cot` prompt (the one `trajkit train` and `trajkit eval` with `mode: cot` use too); its
`tools` and `agent.max_steps` are not used, and agent behaviours (`agent.candidates > 1`,
`first_thought_prefix`, `force_format`, `force_final_answer`) are an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from trajkit.agent.config import AgentConfig
from trajkit.agent.cot import COT_PROMPT
from trajkit.errors import ConfigError, InputError
from trajkit.executors.config import ExecutorConfig
from trajkit.schema import Model, Sampling
from trajkit.teachers.config import LocalTeacher, TeacherConfig, parse_teacher
from trajkit.tools.policy import SandboxPolicy


class SandboxConfig(Model):
    timeout_s: float = Field(10.0, gt=0)
    memory_mb: int = Field(1024, ge=64)
    allowed_imports: list[str] | None = None
    workers: int | None = Field(None, ge=1)

    def policy(self) -> SandboxPolicy:
        """The sandbox policy of this block: `timeout_s` limits both wall and CPU time per
        step; the limits the block does not name keep the policy's defaults."""
        imports = {} if self.allowed_imports is None else {"allowed_imports": tuple(self.allowed_imports)}
        return SandboxPolicy(wall_time_s=self.timeout_s, cpu_time_s=self.timeout_s, memory_mb=self.memory_mb, **imports)


class RetrieverConfig(Model):
    index: str | None = Field(None, description="index directory; 'builtin' or none = the built-in Wikipedia corpus")
    corpus: str | None = Field(None, description="corpus Parquet/JSONL to index (cached) when no index is given")
    url: str | None = Field(None, description="remote retriever (POST /retrieve)")
    mode: str = "hybrid"
    k: int = Field(3, ge=1, le=50)


class ToolsConfig(Model):
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    retriever: RetrieverConfig | None = Field(default_factory=RetrieverConfig)


class GradingConfig(Model):
    grader: str = "auto"
    math_timeout_s: float = 5.0


class BuildRecipe(Model):
    name: str | None = None
    tasks: dict[str, Any] | str
    teacher: TeacherConfig = Field(default_factory=LocalTeacher)
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.0, max_tokens=512))
    prompt: str = "teacher"
    agent: AgentConfig = Field(default_factory=AgentConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    grading: GradingConfig = Field(default_factory=GradingConfig)
    samples_per_task: int = Field(1, ge=1, le=1000)
    concurrency: int = Field(8, ge=1, le=4096)
    flush_every: int = Field(32, ge=1)
    output: str
    kind: str = Field("teacher", pattern="^(teacher|student)$")
    mode: Literal["agent", "cot"] = Field("agent", description="agent: CodeAct with tools; cot: one generation, no tools")
    capture_tokens: bool = Field(
        False,
        description="store each step's completion token ids and logprobs (backends local, llamacpp; "
        "openai: logprobs only); not part of the dataset's fingerprint",
    )
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig, description="local, or ray (trajkit.executors)")

    @field_validator("teacher", mode="before")
    @classmethod
    def _teacher(cls, block: Any) -> TeacherConfig:
        return parse_teacher(block, where="teacher")

    @model_validator(mode="after")
    def _cot_prompt(self) -> BuildRecipe:
        if self.mode == "cot" and "prompt" not in self.model_fields_set:
            self.prompt = COT_PROMPT
        return self


# agent options that change how a trajectory is generated: meaningless in one CoT generation
_AGENT_ONLY = {
    "candidates": (" > 1", lambda agent: agent.candidates > 1),
    "first_thought_prefix": (": true", lambda agent: agent.first_thought_prefix),
    "force_format": (": true", lambda agent: agent.force_format),
    "force_final_answer": (": true", lambda agent: agent.force_final_answer),
}


def check_mode(recipe: BuildRecipe, where: str) -> None:
    """Refuse settings that make no sense in the recipe's mode (a CoT build has no agent loop)."""
    if recipe.mode != "cot":
        return
    for name, (value, is_set) in _AGENT_ONLY.items():
        if is_set(recipe.agent):
            raise ConfigError(
                f"agent.{name}{value} needs the agent loop, but mode is cot (one generation, no tools)",
                where=f"{where}: agent.{name}",
                fix=f"remove agent.{name}, or use mode: agent",
            )
    if recipe.prompt != COT_PROMPT:
        raise ConfigError(
            f"prompt: {recipe.prompt} with mode: cot; a CoT build uses the cot prompt, the one "
            "trajkit train and trajkit eval (mode: cot) give the student",
            where=f"{where}: prompt",
            fix=f"remove prompt (or set prompt: {COT_PROMPT}); to change it, edit trajkit/prompts/cot.j2",
        )


def read_yaml(path: str | Path) -> dict:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError("no such recipe file", where=str(path), fix="check the path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"not valid YAML ({getattr(exc, 'problem', exc)})", where=where) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", where=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("a recipe must be a YAML mapping", where=str(path))
    return data


def validate(model: type[BaseModel], data: dict, where: str):
    """`model` validated from a recipe's `data`; any error is one ConfigError naming the
    file `where` and the YAML path of the bad value."""
    try:
        return model.model_validate(data)
    except ConfigError as exc:  # raised by a field's own check (the teacher block)
        raise ConfigError(exc.what, where=f"{where}: {exc.where}" if exc.where else where, fix=exc.fix) from None
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "(recipe)"
        raise ConfigError(f"{field}: {error['msg']}", where=where, fix="see recipes/ for examples") from None


def load_build_recipe(path: str | Path, overrides: dict | None = None) -> tuple[BuildRecipe, dict]:
    data = read_yaml(path)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    recipe = validate(BuildRecipe, data, str(path))
    check_mode(recipe, str(path))
    return recipe, data
