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


def underscore_reaches(path: Path) -> list[str]:
    """`thing._name` where `thing` is not the object itself (`self`, `cls`): a reach into
    another object's insides."""
    found = []
    for node in ast.walk(tree_of(path)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not node.attr.endswith("_")  # protocols such as IPython's _repr_mimebundle_
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


@pytest.mark.parametrize("path", MODULES + EMULATOR, ids=name)
def test_no_module_reaches_into_another_objects_underscore_attributes(path: Path) -> None:
    assert underscore_reaches(path) == []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def type_checking_blocks(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under `if TYPE_CHECKING:` (never run, so no cycle)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden |= {id(inner) for inner in ast.walk(node)}
    return hidden


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's modules this one imports when it runs, deferred imports included."""
    here = module_name(path).split(".") if module_name(path) else []
    package = here if path.name == "__init__.py" else here[:-1]
    tree = tree_of(path)
    hidden = type_checking_blocks(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hidden or not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)]
        elif (node.module or "").startswith("llama_index_readers_confluence_v2"):
            base = []
        else:
            continue
        module = (node.module or "").removeprefix("llama_index_readers_confluence_v2")
        stem = [*base, *[p for p in module.split(".") if p]]
        for alias in node.names:
            candidate = ".".join([*stem, alias.name])
            found.add(candidate if candidate in known else ".".join(stem))
    return found & known


def test_no_import_cycle_in_the_package_emulator_included() -> None:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    graph = {module_name(p): imports_of(p, known) for p in paths}
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            current, trail = stack.pop()
            for following in graph[current] - {current}:
                if following == start:
                    cycles.append(" -> ".join([*trail, start]))
                elif following not in seen:
                    seen.add(following)
                    stack.append((following, [*trail, following]))
    assert cycles == []


FRONT_ENDS = [p for p in MODULES if p.name in ("cli.py", "notebook.py") or "webui" in p.parts]


@pytest.mark.parametrize("path", FRONT_ENDS, ids=name)
def test_no_front_end_tells_addresses_ids_and_keys_apart_itself(path: Path) -> None:
    """What a user typed is classified by `urls.classify` / `urls.typed_kind` only."""
    found = []
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.Constant) and node.value == "://":
            found.append(f'line {node.lineno}: "://"')
        if isinstance(node, ast.Attribute) and node.attr in ("isdigit", "isdecimal", "isnumeric"):
            found.append(f"line {node.lineno}: .{node.attr}()")
        if isinstance(node, ast.alias) and node.name == "parse_url":
            found.append(f"line {node.lineno}: imports parse_url")
    assert found == []
