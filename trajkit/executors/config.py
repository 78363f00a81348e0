"""The `executor:` block of build and eval recipes, and the CLI flags that override it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from trajkit.errors import ConfigError
from trajkit.schema import Model

EXECUTORS = ("local", "ray")


class ExecutorConfig(Model):
    """How a build is spread. Not part of a trajectory's identity: the same recipe gives the
    same trajectory ids on any executor."""

    kind: Literal["local", "ray"] = "local"
    address: str | None = Field(
        None, description="Ray cluster: 'auto', 'ray://HOST:PORT' or HOST:PORT; none = start one on this machine"
    )
    actors: int | None = Field(None, ge=1, le=100_000, description="none = what the cluster's resources allow")
    actor_resources: dict[str, float] = Field(
        default_factory=lambda: {"num_cpus": 1},
        description="Ray resources per actor: num_cpus, num_gpus, memory, or custom resource names",
    )
    unit_size: int = Field(8, ge=1, le=100_000, description="tasks per work unit (all their samples)")
    units_in_flight: int = Field(2, ge=1, le=64, description="units queued on each actor at once")
    max_unit_retries: int = Field(3, ge=0, le=100, description="re-runs of a unit whose actor or node died")
    spread: bool = Field(True, description="place actors on different nodes (Ray SPREAD strategy)")

    def ray_options(self) -> dict[str, Any]:
        """`ActorClass.options(...)` arguments for the per-actor resources."""
        named = {"num_cpus", "num_gpus", "memory"}
        options: dict[str, Any] = {k: v for k, v in self.actor_resources.items() if k in named}
        custom = {k: v for k, v in self.actor_resources.items() if k not in named}
        if custom:
            options["resources"] = custom
        return options


def resolve_executor(
    block: ExecutorConfig, *, kind: str | None = None, address: str | None = None, actors: int | None = None
) -> ExecutorConfig:
    """The recipe's block with command-line overrides applied (`--executor`, `--address`, `--actors`)."""
    if kind is not None and kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}", where="--executor", fix=f"use one of: {', '.join(EXECUTORS)}")
    updates: dict[str, Any] = {}
    if kind is not None:
        updates["kind"] = kind
    if address is not None:
        updates["address"] = address
        if kind is None:
            updates["kind"] = "ray"  # an address only makes sense for Ray
    if actors is not None:
        updates["actors"] = actors
    config = block.model_copy(update=updates)
    if config.address and config.kind != "ray":
        raise ConfigError(
            "--address names a Ray cluster, but the executor is local",
            where="--address", fix="add --executor ray (or executor.kind: ray in the recipe)",
        )
    return config
