"""The tools of one build or eval run, opened from a recipe's `tools:` block.

A `Toolbox` owns the sandbox pool and the search tool, hands out one fresh interpreter per
trajectory (with `search` callable from the model's code), and describes the tools for
provenance (name + version: the sandbox policy hash, the index id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trajkit.schema import ToolInfo
from trajkit.tools.spec import PYTHON_INTERPRETER, SEARCH

if TYPE_CHECKING:
    from trajkit.recipe import RetrieverConfig, ToolsConfig
    from trajkit.tools.protocol import Interpreter
    from trajkit.tools.sandbox import SandboxPool


@dataclass
class Toolbox:
    pool: SandboxPool | None  # None when no sandbox was started (CoT runs)
    tools: dict[str, Any] = field(default_factory=dict)
    infos: list[ToolInfo] = field(default_factory=list)

    def new_interpreter(self) -> Interpreter:
        """A fresh sandboxed interpreter for one trajectory, with the search tool callable."""
        if self.pool is None:
            raise RuntimeError("this toolbox was opened without a sandbox")
        return self.pool.new_interpreter(tools=self.tools)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def open_toolbox(config: ToolsConfig, *, start_sandbox: bool = True) -> Toolbox:
    """Open the sandbox and the retriever a `ToolsConfig` describes."""
    tools: dict[str, Any] = {}
    infos: list[ToolInfo] = []
    if config.retriever is not None:
        search = search_tool(config.retriever)
        tools[search.name] = search
        infos.append(search.info)
    pool = None
    if start_sandbox:
        from trajkit.tools.sandbox import SandboxPool

        policy = config.sandbox.policy()
        pool = SandboxPool(policy, tools)
        infos.insert(0, ToolInfo(name=PYTHON_INTERPRETER, version=policy.describe()))
    return Toolbox(pool=pool, tools=tools, infos=infos)




def search_tool(retriever_config: RetrieverConfig):
    """The search tool a `RetrieverConfig` describes: a remote API, an index, a corpus or builtin."""
    from trajkit.tools.registry import SearchTool, open_retriever

    spec = retriever_config.url or retriever_config.index or retriever_config.corpus or "builtin"
    dense = retriever_config.mode != "bm25"
    retriever = open_retriever(spec, dense=dense)
    mode = None if retriever_config.url else retriever_config.mode
    return SearchTool(retriever, name=SEARCH, k=retriever_config.k, mode=mode)

