"""The tools of one build or eval run, opened from a recipe's `tools:` block.

A `Toolbox` owns the sandbox pool and the search tool, hands out one fresh interpreter per
trajectory (with `search` callable from the model's code), and describes the tools for
provenance (name + version: the sandbox policy hash, the index id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trajkit.schema import ToolInfo


@dataclass
class Toolbox:
    pool: Any | None
    tools: dict[str, Any] = field(default_factory=dict)
    infos: list[ToolInfo] = field(default_factory=list)

    def new_interpreter(self):
        return self.pool.new_interpreter(tools=self.tools)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def open_toolbox(config, *, start_sandbox: bool = True) -> Toolbox:
    """Open the sandbox and the retriever a `ToolsConfig` describes."""
    from trajkit.tools.policy import SandboxPolicy

    tools: dict[str, Any] = {}
    infos: list[ToolInfo] = []
    if config.retriever is not None:
        search = search_tool(config.retriever)
        tools[search.name] = search
        infos.append(search.info)
    pool = None
    if start_sandbox:
        from trajkit.tools.sandbox import SandboxPool

        policy = _policy(config.sandbox, SandboxPolicy)
        pool = SandboxPool(policy, tools)
        infos.insert(0, ToolInfo(name="python_interpreter", version=policy.describe()))
    return Toolbox(pool=pool, tools=tools, infos=infos)


SEARCH_NAME = "search"  # what the teacher and student prompts call it


def search_tool(retriever_config):
    """The search tool a `RetrieverConfig` describes: a remote API, an index, a corpus or builtin."""
    from trajkit.tools.registry import SearchTool, open_retriever

    spec = retriever_config.url or retriever_config.index or retriever_config.corpus or "builtin"
    dense = retriever_config.mode != "bm25"
    retriever = open_retriever(spec, dense=dense)
    mode = None if retriever_config.url else retriever_config.mode
    return SearchTool(retriever, name=SEARCH_NAME, k=retriever_config.k, mode=mode)


def _policy(sandbox, policy_class):
    fields: dict[str, Any] = {
        "wall_time_s": sandbox.timeout_s,
        "cpu_time_s": sandbox.timeout_s,
        "memory_mb": sandbox.memory_mb,
    }
    if sandbox.allowed_imports is not None:
        fields["allowed_imports"] = tuple(sandbox.allowed_imports)
    return policy_class(
        **{k: v for k, v in fields.items() if k in policy_class.__dataclass_fields__}
    )
