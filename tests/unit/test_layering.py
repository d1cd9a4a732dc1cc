"""Layering rules import-linter cannot express for external subpackages.

Cases: triggers import only azure.functions from azure (never an SDK); function_app
imports only azure.functions and ops.triggers.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_triggers_use_only_azure_functions_from_azure() -> None:
    for path in sorted((ROOT / "ops" / "triggers").glob("*.py")):
        azure = {m for m in _imports(path) if m.split(".")[0] in {"azure", "kubernetes"}}
        assert all(m == "azure.functions" or m.startswith("azure.functions.") for m in azure), path.name


def test_function_app_imports_only_the_triggers() -> None:
    allowed = {"azure.functions", "ops.triggers"}
    assert _imports(ROOT / "function_app.py") <= allowed
