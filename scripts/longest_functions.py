"""List the functions longer than a limit (default 60 lines) in a source tree.

Usage: python scripts/longest_functions.py [DIR ...] [--over N]

A function's length is counted from its `def` line to the last line of its body
(decorators and trailing blank lines not counted), as the house rule in issue 19 reads it.
Exits 0 in all cases: this prints evidence, it is not a gate.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def function_lengths(path: Path) -> list[tuple[int, str, int]]:
    """(length, qualified name, def line) of every function and method in one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                found.append((length, name, child.lineno))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", default=["harness"])
    parser.add_argument("--over", type=int, default=60, help="print functions longer than this")
    args = parser.parse_args()
    rows = []
    for root in args.dirs:
        for path in sorted(Path(root).rglob("*.py")):
            for length, name, line in function_lengths(path):
                if length > args.over:
                    rows.append((length, f"{path}:{line}", name))
    for length, where, name in sorted(rows, reverse=True):
        print(f"{length:4d}  {where}  {name}")
    print(f"{len(rows)} function(s) over {args.over} lines in {', '.join(args.dirs)}")


if __name__ == "__main__":
    main()
