"""The layout rules of docs/architecture.md that code review alone would let slip.

The reply parser is sans-IO; the knowledge base is data read by
pure code; every module opens with a docstring naming its single job; imports go one way.
"""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

import smtpprobe

PACKAGE = Path(smtpprobe.__file__).parent
IO_AND_UI = {"asyncio", "socket", "ssl", "selectors", "aiosmtplib", "aiosmtpd", "click", "rich"}
UI_AND_LOOP = {"asyncio", "click", "rich"}

# module file (relative to the package) → top-level modules it may not import
RULES = {
    "reply.py": IO_AND_UI,
    "codes.py": UI_AND_LOOP,
    **{str(p.relative_to(PACKAGE)): UI_AND_LOOP for p in sorted((PACKAGE / "kb").rglob("*.py"))},
}


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module imported anywhere in *source* (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_imported_modules_sees_every_form() -> None:
    source = "import a.b\nfrom c.d import e\nfrom . import f\ndef g():\n    import h\n"
    assert imported_modules(source) == {"a", "c", "h"}


@pytest.mark.parametrize(("relative", "forbidden"), sorted(RULES.items()))
def test_module_imports_no_io_or_ui(relative: str, forbidden: set[str]) -> None:
    imported = imported_modules((PACKAGE / relative).read_text(encoding="utf-8"))
    assert sorted(imported & forbidden) == []


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("smtpprobe.reply", IO_AND_UI),
        ("smtpprobe.codes", UI_AND_LOOP),
        ("smtpprobe.kb", UI_AND_LOOP),
        ("smtpprobe.meaning", UI_AND_LOOP),
    ],
)
def test_no_io_or_ui_even_indirectly(module: str, forbidden: set[str]) -> None:
    """What the module pulls in through its own imports, in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert sorted(set(json.loads(result.stdout)) & forbidden) == []


@pytest.mark.parametrize(
    "relative", sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py"))
)
def test_module_has_a_docstring(relative: str) -> None:
    tree = ast.parse((PACKAGE / relative).read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    assert docstring is not None and docstring.strip(), f"{relative} has no module docstring"


# -- the import graph: one direction, no cycles (docs/architecture.md) ----------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache  # parsing the whole package takes ~0.2 s; six tests read the same graph
def _package_imports() -> dict[str, set[str]]:
    """Every smtpprobe module → the smtpprobe modules it imports anywhere (functions and
    ``TYPE_CHECKING`` blocks included: a cycle hidden in a function is still a cycle)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    child = f"{base}.{alias.name}"
                    found.add(child if child in modules else base)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycles_are_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_import_cycles() -> None:
    """Data flows one way: CLI → probe → interpret → views → render, with no way back."""
    assert _cycles(_package_imports()) == []


# Lower layers never import upper ones (the module prefixes, in order of the data flow).
LAYERS = {
    "smtpprobe.reply": {
        "smtpprobe.interpret",
        "smtpprobe.views",
        "smtpprobe.render",
        "smtpprobe.commands",
        "smtpprobe.cli",
        "smtpprobe.probe",
    },
    "smtpprobe.interpret": {
        "smtpprobe.views",
        "smtpprobe.render",
        "smtpprobe.commands",
        "smtpprobe.cli",
        "smtpprobe.probe",
        "smtpprobe.i18n",
    },
    "smtpprobe.probe": {
        "smtpprobe.views",
        "smtpprobe.render",
        "smtpprobe.commands",
        "smtpprobe.cli",
        "smtpprobe.i18n",
    },
    "smtpprobe.views": {
        "smtpprobe.commands",
        "smtpprobe.cli",
        "smtpprobe.probe",
        "smtpprobe.fleet",
    },
    "smtpprobe.render": {
        "smtpprobe.commands",
        "smtpprobe.cli",
        "smtpprobe.probe",
        "smtpprobe.fleet",
    },
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_import_only_downward(layer: str) -> None:
    graph = _package_imports()
    upward = {
        f"{module} → {target}"
        for module, targets in graph.items()
        if module == layer or module.startswith(layer + ".")
        for target in targets
        for banned in LAYERS[layer]
        if target == banned or target.startswith(banned + ".")
    }
    assert sorted(upward) == []
