"""The package's layers (docs/ARCHITECTURE.md), checked on its source: a lower layer never
imports a higher one, and no function imports the package's own modules (the habit that
hid import cycles)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "timekit_api"

# Bottom to top. A module may import its own layer and the layers below it.
LAYERS = ("settings", "database", "domain", "http", "entry")
ENTRY_POINTS = {"app", "commands", "cli", "serving", "embed", "worker", "delivery",
                "__init__"}


def layer_of(module: str) -> str:
    """``timekit_api.domain.pets`` -> ``domain``; top-level entry modules -> ``entry``."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top in ("settings", "database", "domain", "http"):
        return top
    return "entry"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        if not is_package:
            parts = parts[:-1]
        parts = parts[:len(parts) - node.level + 1]
        base = ".".join(parts + ([node.module] if node.module else []))
    if node.module is None:  # from . import a, b
        return [f"{base}.{alias.name}" for alias in node.names]
    return [base]


def package_imports(path: Path):
    """(imported module, line, inside a function?) for every import of the package."""
    module = module_name(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    functions = [n for n in ast.walk(tree)
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    nested = {id(child) for function in functions for child in ast.walk(function)
              if child is not function}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            targets = resolve(module, path.name == "__init__.py", node)
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "timekit_api" or target.startswith("timekit_api."):
                yield target, node.lineno, id(node) in nested


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def test_the_layers_are_known():
    assert {layer_of(module_name(p)) for p in SOURCES} <= set(LAYERS)
    entry = {module_name(p).split(".")[1] for p in SOURCES
             if layer_of(module_name(p)) == "entry" and module_name(p) != "timekit_api"}
    assert entry <= ENTRY_POINTS, "a new top-level module: give it a layer"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_lower_layer_imports_a_higher_one(path):
    mine = LAYERS.index(layer_of(module_name(path)))
    upward = [f"line {line}: {target}" for target, line, _ in package_imports(path)
              if LAYERS.index(layer_of(target)) > mine]
    assert upward == []


# Function-level imports kept on purpose, each for the memory of a process that never
# needs the module (benchmarks/PROFILE.md, "memory"): requests and urllib3 load with the
# first webhook delivery.
LAZY_IMPORTS = {("domain/notifications/webhooks.py",
                 "timekit_api.domain.notifications.webhook_transport")}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_level_imports_of_the_package(path):
    inside = [f"line {line}: {target}" for target, line, nested in package_imports(path)
              if nested and (str(path.relative_to(PACKAGE)), target) not in LAZY_IMPORTS]
    assert inside == []


def test_the_domain_has_no_flask_request_objects():
    offenders = []
    for path in (PACKAGE / "domain").rglob("*.py"):
        text = path.read_text()
        for name in ("flask import request", "flask import g", "current_app", "flask_smorest",
                     "werkzeug.exceptions", "abort("):
            if name in text:
                offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert offenders == []
