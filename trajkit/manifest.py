"""The manifest of a dataset directory (`trajkit.json`): its shards, counts and lineage.

These are the models only; `trajkit.store` reads and writes the manifest and keeps it in step
with the shard files.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from trajkit import __version__
from trajkit.schema import SCHEMA_VERSION, stable_hash

FORMAT = "trajkit-dataset"  # the manifest's `format` field


class ShardInfo(BaseModel):
    """One committed shard file."""

    path: str  # relative to the dataset directory
    rows: int
    steps: int
    bytes: int


class ParentRef(BaseModel):
    """A dataset another one was derived from, as it was at that moment."""

    path: str
    name: str
    fingerprint: str
    rows: int


class Lineage(BaseModel):
    """How a derived dataset was made from its parents."""

    operation: str  # filter, grade, review_pull, dedup, compact, import, ...
    parents: list[ParentRef] = Field(default_factory=list)
    sql: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    trajkit_version: str = __version__


class Manifest(BaseModel):
    """Everything trajkit.json holds."""

    format: str = FORMAT
    schema_version: int = SCHEMA_VERSION
    trajkit_version: str = __version__
    name: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    rows: int = 0
    steps: int = 0
    shards: list[ShardInfo] = Field(default_factory=list)
    provenance_fingerprints: list[str] = Field(default_factory=list)
    recipe_hash: str | None = None
    lineage: list[Lineage] = Field(default_factory=list)
    retired_shards: list[str] = Field(default_factory=list)  # replaced by a rewrite; removed on sight
    info: dict[str, Any] = Field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Identifies the content: which shards with how many rows, under which provenance."""
        return stable_hash(
            [sorted((s.path, s.rows) for s in self.shards), sorted(self.provenance_fingerprints)]
        )

