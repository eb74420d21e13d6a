"""Two runs of one benchmark, problem by problem: which answers flipped, and how often.

Problems pair on (id, repeat). Flips come first: ``lost`` (right in A, wrong in B) and
``gained`` (wrong in A, right in B). McNemar's exact test on the flips says whether B's
difference in accuracy on the shared problems is more than chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from harness.errors import DataError
from harness.view.load import RunView

LOST, GAINED, BOTH_WRONG, BOTH_RIGHT, ONLY_A, ONLY_B = (
    "lost",
    "gained",
    "both wrong",
    "both correct",
    "only in A",
    "only in B",
)
CHANGES = (LOST, GAINED, BOTH_WRONG, BOTH_RIGHT, ONLY_A, ONLY_B)
# Keys that say where or how a run was executed, not what it computed.
_NOT_SETTINGS = ("hydra", "run", "run_id")


@dataclass
class Comparison:
    a: RunView
    b: RunView
    rows: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    shared: int = 0
    accuracy_a: float | None = None
    accuracy_b: float | None = None
    mcnemar_p: float | None = None
    config_diff: list[tuple[str, Any, Any]] = field(default_factory=list)


def mcnemar_exact(lost: int, gained: int) -> float | None:
    """Two-sided exact McNemar p-value (binomial test of the discordant pairs at 1/2)."""
    n = lost + gained
    if n == 0:
        return None
    tail = sum(math.comb(n, k) for k in range(min(lost, gained) + 1)) / 2**n
    return min(1.0, 2 * tail)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}


def config_diff(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, value in A, value in B) for every setting that differs."""
    fa = {k: v for k, v in _flatten(a).items() if k.split(".")[0] not in _NOT_SETTINGS}
    fb = {k: v for k, v in _flatten(b).items() if k.split(".")[0] not in _NOT_SETTINGS}
    return [
        (k, fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)
    ]


def _change(ra: dict[str, Any] | None, rb: dict[str, Any] | None) -> str:
    if rb is None:
        return ONLY_A
    if ra is None:
        return ONLY_B
    if ra["correct"] != rb["correct"]:
        return LOST if ra["correct"] else GAINED
    return BOTH_RIGHT if ra["correct"] else BOTH_WRONG


def compare(a: RunView, b: RunView) -> Comparison:
    if a.benchmark != b.benchmark:
        raise DataError(
            f"cannot compare runs of different benchmarks: {a.dir} is {a.benchmark}, "
            f"{b.dir} is {b.benchmark}"
        )
    rows_a = {(r["id"], r["repeat"]): r for r in a.rows}
    rows_b = {(r["id"], r["repeat"]): r for r in b.rows}
    keys = list(rows_a) + [k for k in rows_b if k not in rows_a]
    cmp = Comparison(a, b, config_diff=config_diff(a.config, b.config))
    for n, key in enumerate(keys, 1):
        ra, rb = rows_a.get(key), rows_b.get(key)
        row = {"n": n, "id": key[0], "repeat": key[1], "change": _change(ra, rb), "a": ra, "b": rb}
        cmp.rows.append(row)
    cmp.rows.sort(key=lambda r: (CHANGES.index(r["change"]), r["n"]))
    cmp.counts = {c: sum(1 for r in cmp.rows if r["change"] == c) for c in CHANGES}
    both = [r for r in cmp.rows if r["a"] is not None and r["b"] is not None]
    cmp.shared = len(both)
    if both:
        cmp.accuracy_a = sum(r["a"]["correct"] for r in both) / len(both)
        cmp.accuracy_b = sum(r["b"]["correct"] for r in both) / len(both)
    cmp.mcnemar_p = mcnemar_exact(cmp.counts[LOST], cmp.counts[GAINED])
    return cmp
