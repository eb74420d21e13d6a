"""The executor step of code tasks: turn a solution and agent-written tests into one program for
the sandbox, and its result into a report for the evaluator.

Tests run one top-level statement at a time, so the evaluator hears about every failing
assertion instead of only the first one.
"""

from __future__ import annotations

import ast
from typing import Any

_RUNNER = """

# ---- tests written by the executor agent (each statement runs on its own) ----
def _mas_run_agent_tests(tests):
    import sys

    failed = total = setup_errors = 0
    for src, is_check in tests:
        total += is_check
        try:
            exec(compile(src, "<agent tests>", "exec"), globals())
        except (Exception, SystemExit) as exc:
            head = " ".join(src.split())[:300]
            label = "FAILED" if is_check else "SETUP ERROR"
            failed += is_check
            setup_errors += not is_check
            print(f"{{label}}: {{head}}\\n  -> {{type(exc).__name__}}: {{str(exc)[:300]}}")
    print(f"{{total - failed}}/{{total}} tests passed")
    sys.exit(1 if failed or setup_errors else 0)


_mas_run_agent_tests({tests!r})
"""

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


def build_test_program(solution: str, tests: str) -> str:
    """The solution followed by a runner for ``tests`` (which must parse; see parse_tests)."""
    statements = split_statements(tests) if tests.strip() else []
    if not statements:
        # no usable tests: still worth knowing whether the solution imports and defines cleanly
        return solution.rstrip() + "\n\nprint('solution loaded; no tests were run')\n"
    return solution.rstrip() + "\n" + _RUNNER.format(tests=statements)


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
