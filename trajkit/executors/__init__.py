"""Where a build's rollouts run: `local` (this process, asyncio) or `ray` (actors on a cluster).

    executor:            # in a build or eval recipe; `--executor ray --address auto` overrides
      kind: ray
      address: auto      # or ray://HOST:10001; none = start a one-machine Ray
      actors: 4          # none = as many as the cluster's CPUs (or GPUs) allow
      actor_resources: {num_cpus: 1, num_gpus: 0}

Modules: `config` (the recipe block), `units` (deterministic work units), `worker` (the actor:
one teacher backend and one sandbox pool for its lifetime), `ray_driver` (dispatch, retries,
exactly-once commits), `progress` (the driver's aggregate bar). Ray is imported only by
`ray_driver`, and only when a Ray build starts.
"""

from trajkit.executors.config import EXECUTORS, ExecutorConfig, resolve_executor

__all__ = ["EXECUTORS", "ExecutorConfig", "resolve_executor"]
