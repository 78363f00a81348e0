"""A task spec: where tasks come from and which of them to take.

A spec is a string (the source) or the same dict a recipe holds:

    {source: SOURCE, columns: {question: ..., gold_answer: ..., id: ...}, split: ..., limit: N,
     filters: {domain: math, level: [4, 5]}, domain: ..., name: ..., shuffle_seed: ...}

`trajkit.tasks.sources.load_tasks` reads it; the loaders (`seed`, `hf`, `files`) take it as
parsed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trajkit.errors import ConfigError

TASK_FIELDS = ("id", "question", "gold_answer", "gold_aliases", "split", "domain", "metadata")
COLUMN_ALIASES = {"answer": "gold_answer", "aliases": "gold_aliases", "task_id": "id"}


class TaskSpec(BaseModel):
    """Where tasks come from and which of them to take."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1)
    columns: dict[str, str] = Field(default_factory=dict)
    split: str | None = None
    limit: int | None = Field(None, ge=0)
    filters: dict[str, Any] = Field(default_factory=dict)
    domain: str | None = None
    name: str | None = Field(None, description="source name recorded in the tasks")
    shuffle_seed: int | None = Field(None, description="shuffle before the limit")
    require_answer: bool = Field(True, description="skip records without a gold answer")
    answer_extract: Literal["boxed", "gsm8k"] | None = None
    metadata_columns: list[str] | None = Field(None, description="keep only these as metadata")

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        mapped = {}
        for key, column in value.items():
            target = COLUMN_ALIASES.get(key, key)
            if target not in TASK_FIELDS:
                raise ValueError(f"unknown task field {key!r} (known: {', '.join(TASK_FIELDS)})")
            mapped[target] = column
        return mapped

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | TaskSpec, **overrides: Any) -> TaskSpec:
        if isinstance(spec, TaskSpec):
            body = spec.model_dump()
        elif isinstance(spec, str | Path):
            body = {"source": str(spec)}
        elif isinstance(spec, Mapping):
            body = dict(spec)
        else:
            raise ConfigError(f"a task spec must be a string or a mapping, not {type(spec).__name__}")
        body.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            error = exc.errors()[0]
            place = ".".join(str(p) for p in error["loc"]) or "spec"
            raise ConfigError(
                error["msg"],
                where=f"tasks spec, {place}",
                fix="see `trajkit tasks preview --help` for the spec fields",
            ) from None
