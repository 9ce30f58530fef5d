"""The package's seams hold: each job in one place, modules used through their public names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "llama_index_readers_confluence_v2"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "emulator" not in p.parts)
EMULATOR = sorted((PACKAGE / "emulator").rglob("*.py"))


def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def name(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def imported_private_names(path: Path) -> list[str]:
    found = []
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.ImportFrom) and (
            node.level or "confluence_v2" in (node.module or "")
        ):
            source = node.module or ""
            inside_emulator = "emulator" in path.parts and (
                node.level == 1 or source.startswith("llama_index_readers_confluence_v2.emulator")
            )
            if inside_emulator:
                continue  # the emulator may share its own helpers
            found += [
                f"{source}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return found


@pytest.mark.parametrize("path", MODULES + EMULATOR, ids=name)
def test_no_module_imports_another_modules_underscore_names(path: Path) -> None:
    assert imported_private_names(path) == []


@pytest.mark.parametrize("path", MODULES, ids=name)
def test_every_exception_class_lives_in_errors(path: Path) -> None:
    if path.name == "errors.py":
        return
    classes = [
        node.name
        for node in ast.walk(tree_of(path))
        if isinstance(node, ast.ClassDef)
        and any(
            isinstance(base, ast.Name) and base.id.endswith(("Error", "Exception", "Rejected"))
            for base in node.bases
        )
    ]
    assert classes == []


def test_only_the_client_makes_http_clients() -> None:
    """`client.py` is the one module that sends requests (sign-in and OAuth refresh included)."""
    makers = {"AsyncClient", "Client", "get", "post", "request", "stream"}
    senders = []
    for path in MODULES:
        for node in ast.walk(tree_of(path)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "httpx"
                and node.attr in makers
            ):
                senders.append(name(path))
    assert sorted(set(senders)) == ["client.py"]


def test_page_id_batches_are_built_in_one_place() -> None:
    """Batched `GET /pages?id=` is built by `tree.pages_by_id` only (where blank filters died)."""
    builders = []
    for path in MODULES:
        for node in ast.walk(tree_of(path)):
            if isinstance(node, ast.Dict):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                if "id" in keys and "limit" in keys:  # query parameters filtering by id
                    builders.append(name(path))
    assert builders == ["tree.py"]
