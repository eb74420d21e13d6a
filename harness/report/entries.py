"""From sweep points to what the tables and plots show.

An :class:`Entry` is one cell's worth: a model × system × benchmark at one knob setting. By
default the seeds of a setting are pooled (every result line of every seed, standard error
clustered by problem), and the entry names its seeds; points are never merged otherwise. When
several points of one model × system × benchmark differ in a knob (a sweep over ``tokens``),
each setting gets its own table (:func:`layout`), titled by the knob values, so no cell hides
which point it is. Points that differ in something no knob shows (a prompt set, a config key)
are kept apart as variants named by their config hash.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from harness.identity import UNUSED_BY_MAS
from harness.report.points import KNOBS, Point, sum_roles
from harness.scoring import stats
from harness.summary import no_answer_causes


@dataclass
class Entry:
    model: str
    mas: str
    benchmark: str
    setting: dict[str, Any]  # the knobs this system uses; pooled seeds as "0,1"
    seeds: list[Any]
    variant: str  # "" unless points differ in something no knob shows
    points: list[Point]
    status: str
    n: int
    n_expected: int | None
    accuracy: float | None
    stderr: float | None
    tokens_per_problem: float | None
    completion_tokens_per_problem: float | None
    no_answer: int | None
    tokens_by_role: dict[str, dict[str, int]] | None
    errors: list[str] = field(default_factory=list)
    no_answer_causes: dict[str, int] | None = None  # why answers were not read, by cause

    @property
    def row(self) -> tuple[str, str, str]:
        return (self.model, self.mas, self.variant)

    @property
    def no_answer_rate(self) -> float | None:
        return self.no_answer / self.n if self.no_answer is not None and self.n else None


def used_knobs(mas: str) -> tuple[str, ...]:
    return tuple(k for k in KNOBS if k not in UNUSED_BY_MAS.get(mas, ()))


def make_entries(points: list[Point], pool_seeds: bool = True) -> list[Entry]:
    groups: dict[tuple, list[Point]] = defaultdict(list)
    for p in points:
        knobs = tuple((k, p.knobs.get(k)) for k in used_knobs(p.mas) if k != "seed")
        groups[(p.model, p.mas, p.benchmark, knobs)].append(p)
    entries = []
    for group in groups.values():
        seeds = [p.knobs.get("seed") for p in group]
        clash = len(set(map(str, seeds))) < len(seeds)  # same knobs and seed: other keys differ
        poolable = pool_seeds and not clash and all(_has_rows(p) for p in group)
        if poolable:
            entries.append(_pooled(group))
        else:
            entries.extend(_same_config(group, clash, pool_seeds))
    return sorted(entries, key=_order)


def _same_config(group: list[Point], clash: bool, pool: bool) -> list[Entry]:
    """Points that are runs of one configuration (one config hash, e.g. the same command in
    two sweep dirs) become one entry, their result lines pooled and the row marked "N runs";
    without result lines to pool, each is its own row named by its directory, so no row of
    the accuracy table hides another's figures."""
    by_config: dict[str, list[Point]] = defaultdict(list)
    for p in group:
        by_config[p.config_hash or p.source].append(p)
    out = []
    for same in by_config.values():
        variant = _variant(same[0]) if clash else ""
        if len(same) == 1:
            out.append(_single(same[0], variant=variant))
        elif pool and all(_has_rows(p) for p in same):
            marked = (
                f"{variant}, {len(same)} runs pooled" if variant else f"{len(same)} runs pooled"
            )
            out.append(replace(_pooled(same), variant=marked))
        else:
            for p in same:
                run = p.source.rstrip("/").rsplit("/")[-1]
                out.append(_single(p, variant=f"{variant}, run {run}" if variant else f"run {run}"))
    return out


def _has_rows(p: Point) -> bool:
    return p.status == "failed" or (p.rows is not None and len(p.rows) == p.n)


def _single(p: Point, variant: str = "") -> Entry:
    return Entry(
        model=p.model,
        mas=p.mas,
        benchmark=p.benchmark,
        setting={k: p.knobs.get(k) for k in used_knobs(p.mas)},
        seeds=[p.knobs.get("seed")],
        variant=variant,
        points=[p],
        status=p.status,
        n=p.n,
        n_expected=p.n_expected,
        accuracy=p.accuracy,
        stderr=p.stderr,
        tokens_per_problem=p.tokens_per_problem,
        completion_tokens_per_problem=p.completion_tokens_per_problem,
        no_answer=p.no_answer,
        tokens_by_role=p.tokens_by_role,
        errors=[p.error] if p.error and p.status != "complete" else [],
        no_answer_causes=p.no_answer_causes,
    )


def _pooled(group: list[Point]) -> Entry:
    if len(group) == 1:
        return _single(group[0])
    first = group[0]
    seeds = sorted(dict.fromkeys(p.knobs.get("seed") for p in group), key=sort_key)
    rows = [r for p in group for r in (p.rows or [])]
    acc = stats.accuracy([r.to_json() for r in rows]) if rows else {}
    statuses = {p.status for p in group}
    status = next(iter(statuses)) if len(statuses) == 1 else "partial"
    expected = [p.n_expected for p in group]
    prompt = sum(int(r.prompt_tokens or 0) for r in rows)
    completion = sum(int(r.completion_tokens or 0) for r in rows)
    return Entry(
        model=first.model,
        mas=first.mas,
        benchmark=first.benchmark,
        # "0,1": the seeds pooled, so tables and legends say so
        setting={
            **{k: first.knobs.get(k) for k in used_knobs(first.mas)},
            "seed": ",".join(map(str, seeds)),
        },
        seeds=seeds,
        variant="",
        points=group,
        status=status,
        n=len(rows),
        n_expected=None if None in expected else sum(expected),  # type: ignore[arg-type]
        accuracy=acc.get("accuracy"),
        stderr=acc.get("stderr"),
        tokens_per_problem=(prompt + completion) / len(rows) if rows else None,
        completion_tokens_per_problem=completion / len(rows) if rows else None,
        no_answer=sum(1 for r in rows if r.no_answer),
        tokens_by_role=sum_roles(r.tokens_by_role for r in rows),
        errors=[f"seed {p.knobs.get('seed')}: {p.error}" for p in group if p.error],
        no_answer_causes=no_answer_causes(rows),
    )


def _variant(p: Point) -> str:
    return f"config {p.config_hash[:8]}" if p.config_hash else p.source.rstrip("/").rsplit("/")[-1]


def _order(e: Entry) -> tuple:
    return (e.benchmark, e.model, e.mas, e.variant, [sort_key(v) for v in e.setting.values()])


@dataclass
class Table:
    """One leaderboard: the entries of one knob setting, rows model × system, columns
    benchmarks."""

    setting: dict[str, Any]  # the varying knobs' values ({} when nothing varies)
    rows: list[tuple[str, str, str]]
    benchmarks: list[str]
    cells: dict[tuple[tuple[str, str, str], str], Entry]
    # Knobs that are neither swept within a cell nor the same everywhere (e.g. AIME run at
    # 32k and MATH at 8k): one value across this table (said in its title), or per cell.
    constant: dict[str, Any] = field(default_factory=dict)
    per_cell: list[str] = field(default_factory=list)

    def cell_knobs(self, e: Entry) -> dict[str, Any]:
        return {k: e.setting[k] for k in self.per_cell if e.setting.get(k) is not None}


def varying_knobs(entries: list[Entry]) -> list[str]:
    """Knobs that take more than one value within some model × system × benchmark."""
    values: dict[tuple, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for e in entries:
        for k, v in e.setting.items():
            if v is not None:  # unknown (a point that failed before saving its config)
                values[(e.model, e.mas, e.benchmark, e.variant)][k].add(str(v))
    varying = {k for per_cell in values.values() for k, vs in per_cell.items() if len(vs) > 1}
    return [k for k in KNOBS if k in varying]


def fixed_knobs(entries: list[Entry], varying: list[str]) -> dict[str, Any]:
    """Knobs with one value in every entry that uses them (said once, above the tables)."""
    out: dict[str, Any] = {}
    for k in KNOBS:
        if k in varying:
            continue
        vals = {str(e.setting[k]) for e in entries if e.setting.get(k) is not None}
        if len(vals) == 1:
            out[k] = next(e.setting[k] for e in entries if e.setting.get(k) is not None)
    return out


def layout(entries: list[Entry]) -> list[Table]:
    varying = varying_knobs(entries)
    assignments: list[dict[str, Any]] = []
    for e in entries:
        a = _known(e, varying)
        if a not in assignments:
            assignments.append(a)
    # An entry that does not use a knob (mas=single and `agents`) joins every table that
    # agrees on the knobs it does use; a setting contained in a fuller one gets no own table.
    full = [a for a in assignments if not any(a != b and _within(a, b) for b in assignments)]
    full.sort(key=lambda a: [(sort_key(a.get(k))) for k in varying])
    tables = []
    benchmarks = sorted({e.benchmark for e in entries})
    fixed = fixed_knobs(entries, varying)
    rest = [k for k in KNOBS if k not in varying and k not in fixed]
    for a in full:
        members = [e for e in entries if _within(_known(e, list(a)), a)]
        rows = sorted({e.row for e in members})
        cells = {(e.row, e.benchmark): e for e in members}
        table = Table(setting=a, rows=rows, benchmarks=benchmarks, cells=cells)
        for k in rest:
            values = {str(e.setting[k]) for e in members if e.setting.get(k) is not None}
            if len(values) == 1:
                table.constant[k] = next(
                    e.setting[k] for e in members if e.setting.get(k) is not None
                )
            elif values:
                table.per_cell.append(k)
        tables.append(table)
    return tables


def _known(e: Entry, keys: list[str]) -> dict[str, Any]:
    """The entry's values of ``keys`` that it uses and that are known."""
    return {k: e.setting[k] for k in keys if e.setting.get(k) is not None}


def _within(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(k in b and str(b[k]) == str(v) for k, v in a.items())


def sort_key(v: Any) -> tuple:
    return (0, float(v), "") if isinstance(v, int | float) else (1, 0.0, str(v))
