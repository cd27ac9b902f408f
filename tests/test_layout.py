"""The layout rules of STYLE.md that code review alone would let slip.

Principle 1: the reply parser is sans-IO. Principle 9: the knowledge base is data read by
pure code. Principle 15: every module opens with a docstring naming its single job.
"""

from __future__ import annotations

import ast
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
