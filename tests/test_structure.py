"""The package's shape: no import circles among trajkit modules, no module over 500 lines, and
no import from the tools up to the agent (lazy ones included).

Nothing is imported: the source is read, so every import counts, including the lazy ones inside
functions and under `if TYPE_CHECKING:`. Parsing every module with `ast` takes about a second on a
small machine, so import statements are first found by a lexer that skips strings and comments,
and only they are parsed with `ast` (a module is parsed whole when that cannot be trusted).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "trajkit"
MAX_LINES = 500


def _module_files() -> dict[str, Path]:
    """Every trajkit module by dotted name; a package's `__init__.py` is the package itself."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


# Strings and comments (skipped), or a line that starts an import statement (kept, with its
# parenthesised or backslash-continued tail).
_LEXEMES = re.compile(
    r"""(?P<skip>[rRbBuUfF]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''"""
    r"""|"(?:\\.|[^\\"\n])*"|'(?:\\.|[^\\'\n])*')|\#[^\n]*)"""
    r"""|(?P<statement>^[ \t]*(?:import|from)\b(?:[^\n(\\]|\\\n)*(?:\([^)]*\))?[^\n]*)""",
    re.MULTILINE | re.DOTALL,
)
# An import after `:` or `;` on one line, which the lexer would miss (ruff forbids it anyway).
_INLINE_IMPORT = re.compile(r"[:;][ \t]*(?:import|from)[ \t]+[\w.]")


def _import_statements(source: str, filename: str = "<module>") -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth."""
    if not _INLINE_IMPORT.search(source):
        try:
            return [
                node
                for match in _LEXEMES.finditer(source)
                if match.lastgroup == "statement"
                for node in ast.parse(match["statement"].strip()).body
            ]
        except SyntaxError:  # e.g. a comment holding ")" inside a parenthesised import
            pass
    tree = ast.parse(source, filename=filename)
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def _imported_names(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names one import statement may load: the module, and for `from X import y`
    also `X.y` (which is a module when `y` is a submodule). Relative imports are resolved."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".")
        if path.name != "__init__.py":
            base = base[:-1]  # a plain module's level 1 is its package
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return [source] + [f"{source}.{alias.name}" for alias in node.names]


def _import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in _import_statements(path.read_text(encoding="utf-8"), filename=str(path)):
            graph[name].update(
                target for target in _imported_names(name, path, node) if target in modules and target != name
            )
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def test_circle_finder_sees_lazy_and_relative_imports(tmp_path):
    graph = {"p": set(), "p.a": {"p.b"}, "p.b": {"p.a"}, "p.c": {"p"}, "p.d": set()}
    assert _circles(graph) == [["p.a", "p.b"]]
    source = "def f():\n    from . import b\n    from .d import x\n"
    node_b, node_d = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)]
    assert "p.b" in _imported_names("p.a", tmp_path / "a.py", node_b)
    assert "p.d" in _imported_names("p.a", tmp_path / "a.py", node_d)
    assert "p.x.d" in _imported_names("p.x", tmp_path / "__init__.py", node_d)


TRICKY_SOURCE = '''"""Docs with an example:
    from trajkit.store import Dataset
"""
import os, sys  # a comment, import json
from trajkit import (
    query,
)
TEMPLATE = f"""\\
from trajkit.hub import push
"""
QUOTED = "say \\"import os\\"" + r"\\d+" + 'import os'


def lazy():
    from .sibling import thing
    import trajkit.tools.worker \\
        as worker
    return "from trajkit.build import build"
'''


def _dumps(nodes) -> list[str]:
    return sorted(ast.dump(node) for node in nodes)


def test_import_finder_matches_a_full_parse():
    full_parse = [n for n in ast.walk(ast.parse(TRICKY_SOURCE)) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert len(full_parse) == 4
    assert not _INLINE_IMPORT.search(TRICKY_SOURCE)  # the lexer's path, not the fallback
    assert _dumps(_import_statements(TRICKY_SOURCE)) == _dumps(full_parse)
    unlexable = TRICKY_SOURCE.replace("import (", "import (  # see (below)")
    assert _dumps(_import_statements(unlexable)) == _dumps(full_parse)


def test_no_import_circles():
    circles = _circles(_import_graph(_module_files()))
    assert not circles, "import circles (each line: modules that reach each other, lazy imports included):\n" + "\n".join(
        ", ".join(circle) for circle in circles
    )


def test_no_module_over_500_lines():
    too_long = {
        str(path.relative_to(REPO)): count
        for path in _module_files().values()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines (split them by concept):\n" + "\n".join(
        f"{path}: {count}" for path, count in sorted(too_long.items(), key=lambda item: -item[1])
    )


# Layers a lower package must not import from (lazy imports included): the tools know no agent.
FORBIDDEN_IMPORTS = {"trajkit.tools": ("trajkit.agent",)}


def _layer_violations(graph: dict[str, set[str]]) -> list[str]:
    def inside(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    return sorted(
        f"{module} imports {target}"
        for layer, forbidden in FORBIDDEN_IMPORTS.items()
        for module, targets in graph.items()
        if inside(module, layer)
        for target in targets
        if any(inside(target, package) for package in forbidden)
    )


def test_layer_rule_sees_a_forbidden_import():
    graph = {
        "trajkit.tools.registry": {"trajkit.agent.loop", "trajkit.errors"},
        "trajkit.agent.loop": {"trajkit.tools"},  # the agent may use the tools
        "trajkit.toolsmith": {"trajkit.agent"},  # not inside trajkit.tools
    }
    assert _layer_violations(graph) == ["trajkit.tools.registry imports trajkit.agent.loop"]


def test_tools_do_not_import_the_agent():
    violations = _layer_violations(_import_graph(_module_files()))
    assert not violations, (
        "imports against the layers (the tools know no agent; the tools' names and schemas "
        "live in trajkit.tools.spec):\n" + "\n".join(violations)
    )
