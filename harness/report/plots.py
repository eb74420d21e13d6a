"""Test-time-scaling plots (PNG): accuracy against each swept knob, and accuracy against the
tokens actually spent per problem with the compute-matched Pareto front.

Only complete entries are drawn (a partial run's accuracy is over a different problem set);
each figure says how many were left out. Figures are built on matplotlib's Agg canvas
directly, so no global backend is switched (the report may run inside a notebook).
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator

from harness.report.entries import Entry, sort_key, varying_knobs
from harness.report.points import Point

SCALING_KNOBS = {
    "tokens": "per-agent token limit (log₂ scale)",
    "agents": "agents (experts per round)",
    "turns": "turns (outer rounds)",
    "critic_rounds": "critic rounds (review → revise)",
}
COST = {
    "total": ("tokens_per_problem", "tokens spent per problem (prompt + completion, log₂ scale)"),
    "completion": (
        "completion_tokens_per_problem",
        "completion tokens spent per problem (log₂ scale)",
    ),
}


def _token_label(v: float) -> str:
    if v >= 1024 and v % 1024 == 0:
        return f"{int(v) // 1024}k"
    return f"{v:g}"


def _log2_axis(ax: Any) -> None:
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(LogLocator(base=2))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _token_label(v)))


def _accuracy_axis(ax: Any, ys: list[float]) -> None:
    """Percent axis that keeps a visible span when every value is equal (e.g. all 0%)."""
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 100.0)
    pad = max(5.0, (hi - lo) * 0.15)
    ax.set_ylim(max(-1.0, lo - pad), min(101.0, hi + pad))
    ax.set_ylabel("accuracy (%) ± s.e.")


def _figure(n_panels: int) -> tuple[Figure, list[Any]]:
    cols = min(n_panels, 3)
    rows = (n_panels + cols - 1) // cols
    fig = Figure(figsize=(max(6.4, 5.2 * cols), 4.2 * rows + 0.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _line_order(e: Entry) -> tuple:
    return (e.model, e.mas, e.variant, [sort_key(v) for v in e.setting.values()])


def _line_label(e: Entry, knob: str, varying: list[str]) -> str:
    extra = [f"{k}={e.setting[k]}" for k in varying if k != knob and k in e.setting]
    base = f"{e.model} · {e.mas}" + (f" [{e.variant}]" if e.variant else "")
    return base + (f" ({', '.join(extra)})" if extra else "")


def scaling_plots(entries: list[Entry], out_dir: Path, note: str | None = None) -> list[Path]:
    """``scaling_<knob>.png`` for each knob that takes two or more values."""
    varying = varying_knobs(entries)
    paths = []
    for knob, xlabel in SCALING_KNOBS.items():
        if knob not in varying:
            continue
        users = [e for e in entries if knob in e.setting]
        done = [e for e in users if e.status == "complete" and e.accuracy is not None]
        benchmarks = sorted({e.benchmark for e in done})
        if not benchmarks:
            continue
        fig, axes = _figure(len(benchmarks))
        for ax, bench in zip(axes, benchmarks, strict=True):
            lines: dict[str, list[Entry]] = defaultdict(list)
            for e in done:
                if e.benchmark == bench:
                    lines[_line_label(e, knob, varying)].append(e)
            for label, pts in sorted(lines.items(), key=lambda kv: _line_order(kv[1][0])):
                pts.sort(key=lambda e: float(e.setting[knob]))
                xs = [float(e.setting[knob]) for e in pts]
                ys = [100 * e.accuracy for e in pts]  # type: ignore[operator]
                err = [100 * (e.stderr or 0.0) for e in pts]
                ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
            here = [e for e in done if e.benchmark == bench]
            same_n = _label_n(ax, [(float(e.setting[knob]), 100 * e.accuracy, e.n) for e in here])  # type: ignore[operator]
            ticks = sorted({float(e.setting[knob]) for e in here})
            if knob == "tokens":
                ax.set_xscale("log", base=2)
                ax.set_xticks(ticks, [_token_label(t) for t in ticks])
                ax.minorticks_off()
            else:
                ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.set_title(f"{bench}: accuracy vs {knob}{same_n}")
            ax.set_xlabel(xlabel)
            _accuracy_axis(ax, [100 * e.accuracy for e in here])  # type: ignore[operator]
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="best")
        _suptitle(fig, f"Accuracy against {knob}", note, len(users) - len(done))
        path = out_dir / f"scaling_{knob}.png"
        fig.savefig(path)
        paths.append(path)
    return paths


def pareto_front(xy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats at equal or lower cost: the best accuracy reachable for each
    budget (sorted by cost)."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(xy, key=lambda p: (p[0], -p[1])):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front


def cost_plot(
    points: list[Point], out_dir: Path, note: str | None = None, cost: str = "total"
) -> list[Path]:
    """``accuracy_vs_cost.png``: one marker per sweep point, the Pareto front dashed."""
    key, xlabel = COST[cost]
    complete = [p for p in points if p.status == "complete" and p.accuracy is not None]
    done = [p for p in complete if getattr(p, key) is not None]
    log_axis = all(getattr(p, key) > 0 for p in done)  # engines that count no tokens: linear
    if not log_axis:
        xlabel = xlabel.replace(", log₂ scale", "")
    benchmarks = sorted({p.benchmark for p in done})
    if not benchmarks:
        return []
    systems = sorted({(p.model, p.mas) for p in done})
    markers = "osD^vP*X<>"
    fig, axes = _figure(len(benchmarks))
    for ax, bench in zip(axes, benchmarks, strict=True):
        here = [p for p in done if p.benchmark == bench]
        for i, (model, mas) in enumerate(systems):
            pts = [p for p in here if (p.model, p.mas) == (model, mas)]
            if not pts:
                continue
            ax.errorbar(
                [getattr(p, key) for p in pts],
                [100 * p.accuracy for p in pts],  # type: ignore[operator]
                yerr=[100 * (p.stderr or 0.0) for p in pts],
                fmt=markers[i % len(markers)],
                capsize=3,
                label=f"{model} · {mas}",
            )
        same_n = _label_n(ax, [(getattr(p, key), 100 * p.accuracy, p.n) for p in here])  # type: ignore[operator]
        front = pareto_front([(getattr(p, key), 100 * p.accuracy) for p in here])  # type: ignore[operator]
        front.append((max(getattr(p, key) for p in here), front[-1][1]))  # flat to the last cost
        ax.step(
            [x for x, _ in front], [y for _, y in front], where="post", linestyle="--",
            color="black", alpha=0.6, label="Pareto front (best at ≤ cost)",
        )  # fmt: skip
        if log_axis:
            _log2_axis(ax)
        ax.set_title(
            f"{bench}: accuracy at equal cost ({len(here)} points{same_n.replace(' (', ', ').rstrip(')')})"
        )
        ax.set_xlabel(xlabel)
        _accuracy_axis(ax, [100 * p.accuracy for p in here])  # type: ignore[operator]
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    title = "Compute-matched comparison: one marker per sweep point"
    if len(complete) > len(done):
        title += f" ({len(complete) - len(done)} without a token count left out)"
    _suptitle(fig, title, note, len(points) - len(complete))
    path = out_dir / "accuracy_vs_cost.png"
    fig.savefig(path)
    return [path]


def _label_n(ax: Any, points: list[tuple[float, float, int]]) -> str:
    """Say n: once in the title when every point has the same n (`` (n=500 each)``), else
    next to each point."""
    ns = {n for _, _, n in points}
    if len(ns) == 1:
        return f" (n={ns.pop()} each)"
    for x, y, n in points:
        ax.annotate(f"n={n}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    return ""


def _suptitle(fig: Figure, title: str, note: str | None, left_out: int) -> None:
    width = max(60, int(fig.get_figwidth() * 11))  # characters that fit at this font size
    lines = [title]
    if note:
        lines.append(note)
    if left_out:
        lines.append(f"{left_out} incomplete or failed point(s) left out (see leaderboard.md)")
    text = "\n".join(textwrap.fill(line, width) for line in lines)
    fig.suptitle(text, fontsize=10)
