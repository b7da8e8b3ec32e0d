"""Structure figures of ``src/gracedesk`` (issue 9): untyped mappings, complexity, imports, size.

    python bench/structure_report.py [--json OUT]

Per layer (top-level package): ``dict[str, Any]`` occurrences, lines of code (non-blank,
non-comment) and imports of ``gracedesk`` modules made inside a function; over ``src/``: the
import-direction violations against the table in DESIGN.md and the imports inside functions
with no comment saying why (the rules of ``tests/test_layers.py``), and the largest cyclomatic
complexity (ruff's mccabe count, the one the lint gate applies); the query styles: ORM uses of
the mapped classes (``tests/test_layers.py::orm_queries``) and the tables queried both ways
(with the ORM somewhere and as a Core ``table_of(Class)`` elsewhere).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "gracedesk"
sys.path.insert(0, str(ROOT / "tests"))


def layer_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def code_lines(text: str) -> int:
    return sum(1 for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#"))


def function_imports(tree: ast.AST) -> int:
    n = 0
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gracedesk"):
                    n += 1
                elif isinstance(node, ast.Import):
                    n += sum(a.name.startswith("gracedesk") for a in node.names)
    return n


def complexity() -> tuple[int, str]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            str(SRC),
            "--select",
            "C901",
            "--isolated",
            "--config",
            "lint.mccabe.max-complexity=0",
            "--output-format",
            "concise",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    best = (0, "")
    for m in re.finditer(r"`([^`]+)` is too complex \((\d+) > 0\)", out):
        best = max(best, (int(m.group(2)), m.group(1)))
    return best


def query_styles() -> dict[str, object] | None:
    """ORM uses of the mapped classes, and the tables queried both with the ORM and with Core."""
    try:  # the rule of tests/test_layers.py (absent before it existed)
        from test_layers import mapped_classes, orm_queries
    except ImportError:
        return None
    found, classes = orm_queries(), mapped_classes()
    orm = {c for f in found for c in classes if re.search(rf"\b{c}\b", f.split(": ", 1)[1])}
    core = {
        c
        for path in SRC.rglob("*.py")
        for c in re.findall(r"table_of\((\w+)\)", path.read_text(encoding="utf-8"))
        if c in classes
    }
    return {
        "orm_uses": len(found),
        "tables": len(classes),
        "tables_queried_both_ways": sorted(orm & core),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    any_dicts: Counter[str] = Counter()
    loc: Counter[str] = Counter()
    fn_imports: Counter[str] = Counter()
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        layer = layer_of(path)
        any_dicts[layer] += text.count("dict[str, Any]")
        loc[layer] += code_lines(text)
        fn_imports[layer] += function_imports(ast.parse(text))
    try:  # the same rules tests/test_layers.py applies (absent before it existed)
        from test_layers import unexplained_function_imports, violations

        broken: list[str] | None = violations()
        unexplained: list[str] | None = unexplained_function_imports()
    except ImportError:
        broken = unexplained = None
    cc, where = complexity()
    report = {
        "dict_str_any": dict(sorted(any_dicts.items())),
        "dict_str_any_total": sum(any_dicts.values()),
        "loc": dict(sorted(loc.items())),
        "loc_total": sum(loc.values()),
        "function_level_imports": dict(sorted(fn_imports.items())),
        "function_level_imports_total": sum(fn_imports.values()),
        "max_complexity": {"value": cc, "function": where},
        "import_violations": None if broken is None else len(broken),
        "function_imports_without_reason": None if unexplained is None else len(unexplained),
        "query_styles": query_styles(),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
