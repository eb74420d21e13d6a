"""The executor step of code tasks: turn agent-written tests into the test part of a sandbox
run (the sandbox's grading mode: the solution runs first, then the tests, and a pass needs proof
that the tests ran to their end), and the result into a report for the evaluator.

Tests run one top-level statement at a time, so the evaluator hears about every failing
assertion instead of only the first one. A solution that ends its own process (``sys.exit(0)``)
before the tests ran is reported as such, never as passing.
"""

from __future__ import annotations

import ast
import textwrap
from typing import Any

_SETUP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def split_statements(tests: str) -> list[tuple[str, bool]]:
    """Top-level statements of ``tests`` as (source, counts as a test) chunks: decorators stay
    with their function, statements sharing a line stay together, and imports/definitions are
    set-up, not tests. Test functions the code never calls are called (and count)."""
    tree = ast.parse(tests)
    lines = tests.splitlines()
    chunks: list[list[Any]] = []  # [first line, last line, counts as a test]
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        check = not isinstance(node, _SETUP)
        if chunks and start <= chunks[-1][1]:
            chunks[-1][1] = max(end, chunks[-1][1])
            chunks[-1][2] = chunks[-1][2] or check
        else:
            chunks.append([start, end, check])
    out = [("\n".join(lines[a - 1 : b]), check) for a, b, check in chunks]
    called = {
        n.func.id
        for stmt in tree.body
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for n in ast.walk(stmt)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    for node in tree.body:
        if (
            isinstance(node, ast.FunctionDef)
            and node.name.startswith("test")
            and node.name not in called
            and not node.args.args
        ):
            out.append((f"{node.name}()", True))
    return out


def build_test_runner(tests: str) -> str:
    """The test part of a sandbox run for agent-written ``tests`` (which must parse; see
    parse_tests): every statement runs in its own ``try``, each failure is printed, and the
    part returns normally only when all passed.

    The statements stay real code (not strings run by ``exec``), so the sandbox's grading mode
    sees and rewrites their assertions like any test's."""
    statements = split_statements(tests) if tests.strip() else []
    if not statements:
        # no usable tests: still worth knowing whether the solution imports and defines cleanly
        return "print('solution loaded; no tests were run')\n"
    out = ["__mas_counts = [0, 0, 0]  # checks run, checks failed, set-up errors"]
    for src, is_check in statements:
        body = textwrap.indent(ast.unparse(ast.parse(src)), "    ")
        head = " ".join(src.split())[:300]
        label = "FAILED" if is_check else "SETUP ERROR"
        out.append(
            f"__mas_counts[0] += {int(is_check)}\n"
            f"try:\n{body}\n"
            "except (Exception, SystemExit) as __mas_exc:\n"
            f"    __mas_counts[{1 if is_check else 2}] += 1\n"
            f"    print({label + ': ' + head!r}, '\\n  ->', type(__mas_exc).__name__ + ':',"
            " str(__mas_exc)[:300])"
        )
    out.append(
        "print(f'{__mas_counts[0] - __mas_counts[1]}/{__mas_counts[0]} tests passed')\n"
        "if __mas_counts[1] or __mas_counts[2]:\n"
        "    raise SystemExit(1)"
    )
    return "\n".join(out) + "\n"


def build_test_program(solution: str, tests: str) -> str:
    """Solution and test runner as one plain program (for reading and for running outside the
    sandbox); the executor runs the two parts through the sandbox's grading mode."""
    return solution.rstrip() + "\n\n" + build_test_runner(tests)


def exec_report(result: Any, limit: int = 2000) -> str:
    """One text for the evaluator from the sandbox's ExecResult."""
    verdict = getattr(result, "verdict", "unknown")
    parts = [f"verdict: {verdict}"]
    detail = getattr(result, "detail", None)
    if detail:
        parts.append(f"detail: {detail}")
    for name in ("stdout", "stderr"):
        text = (getattr(result, name, "") or "").strip()
        if text:
            if len(text) > limit:
                text = "…" + text[-limit:]  # the tail holds the summary and the traceback
            parts.append(f"{name}:\n{text}")
    return "\n".join(parts)
