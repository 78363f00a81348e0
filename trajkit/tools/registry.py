"""The search tool as the agent sees it, and how to find a retriever by name.

    from trajkit.tools.registry import SearchTool, open_retriever

    search = SearchTool(open_retriever("builtin"), k=3)     # name "search"
    pool = SandboxPool(tools={search.name: search})          # model code calls search("...")

The agent calls `search(query)` (the name the teacher and student prompts use) from its
Python code. Like the paper's Wikipedia retriever tool, it returns the top 3 passages by
default, laid out as "Retrieved documents:" then "===== Document i, similarity: s ====="
blocks, and accepts an optional `n_results` (1-10) like the paper's wikipedia_search
variant. Each call returns a `ToolOutput`, so the sandbox records the query, doc ids,
titles, scores and the exact text shown to the model in the step's `ToolCall`.

`open_retriever(spec)` accepts "builtin", an index folder, a corpus file (indexed and
cached on first use), or an http(s) URL of a remote retriever. `tool_infos` lists the tools
for provenance.
"""

from __future__ import annotations

import math
from pathlib import Path

from trajkit.errors import InputError
from trajkit.schema import ToolInfo
from trajkit.tools.protocol import ToolOutput
from trajkit.tools.spec import SEARCH  # what the teacher and student prompts call it

MAX_RESULTS = 10


class SearchTool:
    """Host-side callable behind `search(query)` in the sandbox."""

    def __init__(
        self, retriever, *, name: str = SEARCH, k: int = 3, mode: str | None = None
    ):
        if not isinstance(k, int) or not 1 <= k <= MAX_RESULTS:
            raise InputError(f"k must be between 1 and {MAX_RESULTS}, got {k!r}", where="k")
        modes = getattr(retriever, "modes", ())
        if mode is not None and modes and "remote" not in modes and mode not in modes:
            raise InputError(
                f"search mode {mode!r} is not available: this index supports {', '.join(modes)}",
                where=str(getattr(retriever, "index_dir", "retriever")),
                fix="rebuild the index with its dense part (trajkit index build) or use mode bm25",
            )
        self.retriever = retriever
        self.name = name
        self.k = k
        self.mode = mode

    def __call__(self, query: str, n_results: int | None = None) -> ToolOutput:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        k = self.k
        if n_results is not None:
            if isinstance(n_results, bool) or not isinstance(n_results, int | float):
                raise ValueError("n_results must be a number")
            k = min(MAX_RESULTS, max(1, int(n_results)))
        hits = self.retriever.search(query, k=k, mode=self.mode)
        return ToolOutput(
            text=format_hits(hits, self._score_label()), retrieved=[h.as_retrieved() for h in hits]
        )

    def _score_label(self) -> str:
        mode = self.mode or getattr(self.retriever, "default_mode", "")
        return "similarity" if mode in ("dense", "remote") else "score"

    @property
    def info(self) -> ToolInfo:
        mode = self.mode or getattr(self.retriever, "default_mode", "")
        return ToolInfo(name=self.name, version=f"{mode}:k{self.k}:{self.retriever.fingerprint}")


def format_hits(hits, score_label: str = "score") -> str:
    if not hits:
        return "No documents were found for this query."
    blocks = ["Retrieved documents:"]
    for index, hit in enumerate(hits):
        score = (
            "n/a"
            if math.isnan(hit.score)
            else f"{hit.score:.2f}"
            if abs(hit.score) >= 0.1
            else f"{hit.score:.4f}"
        )
        title = f'"{hit.title}"\n' if hit.title else ""
        blocks.append(f"===== Document {index}, {score_label}: {score} =====\n{title}{hit.text}")
    return "\n\n".join(blocks)


def open_retriever(spec: str | Path, *, dense: bool = True):
    """'builtin', an index folder, a corpus file, or an http(s) URL -> a retriever."""
    from trajkit.tools.corpus import is_builtin
    from trajkit.tools.retriever import Retriever, build_index

    text = str(spec)
    if is_builtin(text):
        return Retriever.builtin(dense=dense)
    if text.startswith(("http://", "https://")):
        from trajkit.tools.remote import RemoteRetriever

        return RemoteRetriever(text)
    path = Path(text).expanduser()
    if path.is_dir() and (path / "index.json").exists():
        return Retriever.load(path)
    if path.exists():
        return Retriever.load(build_index(path, dense=dense))
    raise InputError(
        f"{path} is neither an index folder, a corpus file, 'builtin', nor a URL",
        where=str(path),
        fix="build an index with: trajkit index build CORPUS",
    )


def tool_infos(tools: dict, policy=None) -> list[ToolInfo]:
    """Provenance entries: the Python interpreter (with its policy hash) and each tool."""
    from trajkit.tools.policy import SandboxPolicy

    infos = [ToolInfo(name="python_interpreter", version=(policy or SandboxPolicy()).describe())]
    for name, tool in sorted(tools.items()):
        info = getattr(tool, "info", None)
        infos.append(info if isinstance(info, ToolInfo) else ToolInfo(name=name))
    return infos
