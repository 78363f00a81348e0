"""The agent's tools: a sandboxed Python interpreter and a search tool over a corpus.

Modules (one concept each):

- `spec`      the tools' names and JSON schemas (`search`, `final_answer`, `python_interpreter`)
- `protocol`  the typed seam agent loops use: `Interpreter` (run/fork/close), `ExecResult`,
              `ToolOutput`, `SandboxError`
- `sandbox`   parent side of the Python sandbox: `SandboxPool`, `SandboxInterpreter`
- `launch`    starting the sandbox's template process (launchers, environment, config)
- `host_tools` running host-side tools for sandboxed code; the `ToolCall` records
- `template`  process role: the template (confines itself, forks interpreters)
- `interpreter_process`  process role: one trajectory's interpreter (state, rollback, forks)
- `step_process`  process role: runs one step's model code under the guards
- `step_results`  a step's result message: cleaned, or made for a step that died
- `namespace` the model code's globals: `final_answer` and the tool stubs
- `confine`   OS-level confinement: namespaces, uid, capabilities, rlimits, environment
- `guard`     Python-level guards: import allow-list, audit hook, captured stdout
- `procfs`    /proc readers shared by the parent, the template and the confinement code
- `channel`   framed JSON messages between the processes
- `policy`    `SandboxPolicy`: limits and the import allow-list
- `convert`   JSON conversion of answers (numpy, sympy, ...)
- `corpus`    loading and validating corpora (Parquet/JSONL) and the built-in Wikipedia corpus
- `retriever` BM25 + dense indexes, hybrid search: `Retriever`, `Hit`, `build_index`
- `remote`    client for a remote retriever HTTP API (`POST /retrieve`): `RemoteRetriever`
- `registry`  the search tool as the agent sees it (`SearchTool`) and `open_retriever`
- `toolbox`   the tools of one build or eval run, opened from a recipe

Names are imported lazily so `import trajkit.tools` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SandboxPool": "sandbox",
    "SandboxInterpreter": "sandbox",
    "Interpreter": "protocol",
    "ExecResult": "protocol",
    "ToolOutput": "protocol",
    "SandboxError": "protocol",
    "SandboxPolicy": "policy",
    "DEFAULT_ALLOWED_IMPORTS": "policy",
    "to_jsonable": "convert",
    "Retriever": "retriever",
    "Hit": "retriever",
    "build_index": "retriever",
    "RemoteRetriever": "remote",
    "SearchTool": "registry",
    "open_retriever": "registry",
    "load_corpus": "corpus",
    "builtin_corpus": "corpus",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trajkit.tools' has no attribute {name!r}")
    return getattr(importlib.import_module(f"trajkit.tools.{module}"), name)
