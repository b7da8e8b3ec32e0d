"""The layer table of DESIGN.md holds: imports inside ``src/gracedesk`` point downward only.

The table ("Layers (imports point downward only)") is the rule: each row names a layer (a
package or top-level module under ``src/gracedesk``; ``gracedesk`` is the package's own
``__init__``/``__main__``) and, in its last column, the layers it may import (backquoted
names; ``everything`` for all). Every ``gracedesk`` import counts: at module level, inside a
function and under ``if TYPE_CHECKING:``; relative imports are resolved.

A second rule: an import statement inside a function body (stdlib included) needs a comment on
its line, on the line above, or above the run of imports it starts, that says why it is not at
the top (``# lazy: ...`` heavy or optional dependency, ``# cycle: ...`` import cycle).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "gracedesk"
DESIGN = ROOT / "DESIGN.md"
TABLE_TITLE = "## Layers (imports point downward only)"
FACADE = "gracedesk"  # the package's __init__ and __main__
METADATA = {"__version__"}  # package metadata on the root: importable from any layer
WHY = re.compile(r"#\s*(lazy|cycle)\s*:\s*\S")


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    target: str  # the dotted module imported (or the root package for its own names)
    in_function: bool


# -- the table ------------------------------------------------------------------------------------


@cache
def table() -> dict[str, frozenset[str]]:
    """Layer -> the layers it may import (itself included), as DESIGN.md states it."""
    text = DESIGN.read_text(encoding="utf-8")
    assert TABLE_TITLE in text, f"DESIGN.md has no section {TABLE_TITLE!r}"
    section = text.split(TABLE_TITLE, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|") or len(cells) < 2:
            continue
        name = re.fullmatch(r"`([a-z_]+)`", cells[0])
        if name:
            rows[name[1]] = cells[-1]
    assert rows, "DESIGN.md's layer table has no rows"
    rules = {}
    for layer, allowed in rows.items():
        if allowed.strip().lower().startswith("everything"):
            names = set(rows)
        else:
            names = set(re.findall(r"`([a-z_]+)`", allowed))
        unknown = names - set(rows)
        assert not unknown, f"DESIGN.md: {layer} may import unknown layers {sorted(unknown)}"
        rules[layer] = frozenset(names | {layer})
    return rules


def layer_of(module: str) -> str:
    """``gracedesk.web.auth`` -> ``web``; ``gracedesk`` and ``gracedesk.__main__`` -> facade."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return FACADE
    return parts[1]


# -- the imports ----------------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_submodule(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _function_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inside.update(id(n) for n in ast.walk(fn) if n is not fn)
    return inside


def imports(path: Path) -> Iterator[tuple[ast.stmt, list[str], bool]]:
    """Each import statement of ``path``: the node, the modules it imports, in a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    inside = _function_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [a.name for a in node.names], id(node) in inside
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(path, node)
            targets = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if base == FACADE and alias.name in METADATA:
                    continue
                targets.append(sub if is_submodule(sub) else base)
            yield node, targets, id(node) in inside


def gracedesk_imports() -> Iterator[Import]:
    for path in sorted(SRC.rglob("*.py")):
        for node, targets, in_function in imports(path):
            for target in targets:
                if target.split(".")[0] == FACADE:
                    yield Import(path, node.lineno, target, in_function)


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def violations() -> list[str]:
    """``file:line: source -> target (module)`` for every import the table does not allow."""
    rules = table()
    found = []
    for imp in gracedesk_imports():
        source = layer_of(module_name(imp.path))
        target = layer_of(imp.target)
        if source not in rules:
            found.append(f"{_where(imp.path, imp.line)}: layer {source!r} is not in DESIGN.md")
        elif target not in rules:
            found.append(f"{_where(imp.path, imp.line)}: layer {target!r} is not in DESIGN.md")
        elif target not in rules[source]:
            found.append(f"{_where(imp.path, imp.line)}: {source} -> {target} ({imp.target})")
    return sorted(set(found))


# -- imports inside functions -----------------------------------------------------------------


def _comments(text: str) -> dict[int, str]:
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string
    return out


def unexplained_function_imports() -> list[str]:
    """``file:line: <import>`` for each import in a function body without a why-comment."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        comments = _comments(text)
        nodes = [n for n, _, in_function in imports(path) if in_function]
        spans = {(n.lineno, n.end_lineno or n.lineno) for n in nodes}
        ends = {end: start for start, end in spans}
        for start, end in sorted(spans):
            first = start
            while first - 1 in ends:  # a run of imports: one comment above it covers all
                first = ends[first - 1]
            candidates = [*range(start, end + 1), first - 1]
            if not any(WHY.search(comments.get(n, "")) for n in candidates):
                found.append(f"{_where(path, start)}: {lines[start - 1].strip()}")
    return found


# -- persistence lives in the store ------------------------------------------------------------

# the layers that reach the database only through ``gracedesk.store`` (DESIGN.md, "The store owns
# persistence"); ``channels`` keeps its own rows for now, ``cli`` may do anything
STORE = "store"  # the one layer that runs SQL: every other reaches the database through it
SQL_ERRORS = "sqlalchemy.exc"  # the database's error types may be caught anywhere
TABLES = "gracedesk.store.tables"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return inside


def _imported(path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names an import statement binds (``from a import b`` -> ``a.b``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = _resolve(path, node)
    return [f"{base}.{a.name}" for a in node.names]


def persistence_outside_store() -> list[str]:
    """``file:line: <import>`` for each import, outside ``if TYPE_CHECKING:``, of SQLAlchemy
    (bar its error types) or of the store's tables by any layer but the store."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if layer_of(module_name(path)) == STORE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        typing_only = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in typing_only:
                continue
            for name in _imported(path, node):
                sql = name.split(".")[0] == "sqlalchemy" and not name.startswith(SQL_ERRORS)
                if sql or name == TABLES or name.startswith(TABLES + "."):
                    found.append(f"{_where(path, node.lineno)}: {ast.unparse(node)}")
    return sorted(set(found))


ORM_ALLOWED = ("store/tables.py",)  # the schema: the mapped classes are declared there


@cache
def mapped_classes() -> frozenset[str]:
    """The names of the declarative classes in ``store/tables.py`` (the schema's tables)."""
    tree = ast.parse((SRC / "store" / "tables.py").read_text(encoding="utf-8"))
    return frozenset(
        n.name
        for n in tree.body
        if isinstance(n, ast.ClassDef) and any(ast.unparse(b) == "Base" for b in n.bases)
    )


def orm_queries() -> list[str]:
    """``file:line: code`` for each use of a mapped class other than ``table_of(Class)``, and for
    each ORM query helper (``aliased``, ``Session.query``): one style of query, SQL Core
    statements on the tables, for every table (the classes only declare the schema)."""
    classes = mapped_classes()
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in ORM_ALLOWED or rel.startswith("store/migrations/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        as_table = {
            id(node.args[0])
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("table_of")
            and len(node.args) == 1
        }
        mapped = {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and _resolve(path, node) == TABLES
            for a in node.names
            if a.name in classes
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                bad = node.id in mapped and id(node) not in as_table
            elif isinstance(node, ast.Attribute):
                bad = node.attr == "query" and ast.unparse(node.value) in {"s", "session"}
            elif isinstance(node, ast.ImportFrom):
                bad = node.module == "sqlalchemy.orm" and any(
                    a.name == "aliased" for a in node.names
                )
            else:
                bad = False
            if bad:
                line = getattr(node, "lineno", 0)
                found.append(f"{_where(path, line)}: {ast.unparse(node)[:80]}")
    return sorted(set(found))


# -- tests ----------------------------------------------------------------------------------------


def test_persistence_goes_through_the_store() -> None:
    found = persistence_outside_store()
    assert not found, (
        f"{len(found)} imports of SQLAlchemy or the store's tables outside the store "
        "(write the query as a function of a store module; types under TYPE_CHECKING):\n"
        + "\n".join(found)
    )


def test_every_package_is_in_the_table() -> None:
    layers = {layer_of(module_name(p)) for p in SRC.rglob("*.py")}
    missing = sorted(layers - set(table()))
    assert not missing, f"DESIGN.md's layer table lacks {missing}"


def test_imports_point_downward() -> None:
    found = violations()
    assert not found, f"{len(found)} imports break DESIGN.md's layers:\n" + "\n".join(found)


def test_function_level_imports_say_why() -> None:
    found = unexplained_function_imports()
    assert not found, (
        f"{len(found)} imports inside functions without '# lazy: why' or '# cycle: why' "
        "(on the line or the line above; else move them to the top):\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("from gracedesk.store.tables import User", "store"),
        ("from gracedesk import errors", "errors"),
        ("import gracedesk.web.app", "web"),
        ("from gracedesk import __version__", None),
    ],
)
def test_targets_resolve(line: str, expected: str | None) -> None:
    node = ast.parse(line).body[0]
    path = SRC / "cli" / "main.py"
    if isinstance(node, ast.ImportFrom):
        base = _resolve(path, node)
        subs = [f"{base}.{a.name}" for a in node.names if a.name not in METADATA]
        targets = [s if is_submodule(s) else base for s in subs]
    else:
        assert isinstance(node, ast.Import)
        targets = [a.name for a in node.names]
    assert [layer_of(t) for t in targets] == ([expected] if expected else [])


def test_relative_imports_resolve() -> None:
    node = ast.parse("from ..store import tables").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _resolve(SRC / "web" / "auth.py", node) == "gracedesk.store"
    node = ast.parse("from . import tables").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _resolve(SRC / "store" / "__init__.py", node) == "gracedesk.store"


def test_one_query_style_per_table() -> None:
    found = orm_queries()
    assert not found, (
        f"{len(found)} ORM uses of the mapped classes (query with Core statements on "
        "table_of(Class) in a store module; the classes only declare the schema):\n"
        + "\n".join(found)
    )
