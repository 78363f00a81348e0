"""The agent's tools: a sandboxed Python interpreter and a search tool over a corpus.

Modules (one concept each):

- `sandbox`   parent side of the Python sandbox: `SandboxPool`, `Interpreter`, `ExecResult`
- `worker`    child side: template / interpreter / step processes (runs inside the sandbox)
- `confine`   OS-level confinement: namespaces, uid, capabilities, rlimits, environment
- `guard`     Python-level guards: import allow-list, audit hook, captured stdout
- `policy`    `SandboxPolicy`: limits and the import allow-list
- `protocol`  framed JSON messages between the processes
- `convert`   JSON conversion of answers (numpy, sympy, ...)
- `corpus`    loading and validating corpora (Parquet/JSONL) and the built-in Wikipedia corpus
- `retriever` BM25 + dense indexes, hybrid search: `Retriever`, `Hit`, `build_index`
- `remote`    client for a remote retriever HTTP API (`POST /retrieve`): `RemoteRetriever`
- `registry`  the search tool as the agent sees it (`SearchTool`) and `default_tools`

Names are imported lazily so `import trajkit.tools` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SandboxPool": "sandbox",
    "Sandbox": "sandbox",
    "Interpreter": "sandbox",
    "ExecResult": "sandbox",
    "ToolOutput": "sandbox",
    "SandboxError": "sandbox",
    "default_pool": "sandbox",
    "SandboxPolicy": "policy",
    "DEFAULT_ALLOWED_IMPORTS": "policy",
    "to_jsonable": "convert",
    "Retriever": "retriever",
    "Hit": "retriever",
    "build_index": "retriever",
    "RemoteRetriever": "remote",
    "SearchTool": "registry",
    "default_tools": "registry",
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
