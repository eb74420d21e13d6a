"""What the discussion did, per sweep point: the answer-trajectory figures of summary.json
(``harness.trajectory_stats``) as tables and the scaling curve inside the episode.

Writes ``trajectories.md`` (one row per sweep point: first-proposal and final accuracy, flips by
what made them, the evaluator's and critics' verdicts against the truth; then one table per
point with the accuracy after each step and the tokens spent so far), ``trajectories.csv``
(the per-point row) and ``trajectory_scaling.png`` (accuracy against tokens spent within the
episode, one line per system and setting, one panel per benchmark). Points without graded
answers (``scoring.trajectory=false``, older runs, W&B sources) are left out and counted.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.report.points import Point
from harness.rows import read_summary

COLUMNS = (
    ("first_proposal_accuracy", "first proposal", "first_proposal_stderr"),
    ("final_accuracy", "final", "final_stderr"),
    ("discussion_gain", "gain", "discussion_gain_stderr"),
)


def _summary(p: Point) -> dict[str, Any] | None:
    """The point's trajectory figures (an open set: ``Summary.trajectory``), where graded."""
    s = read_summary(Path(p.source) / "summary.json")
    if s is None or not s.trajectory.get("trajectory_n"):
        return None
    return s.trajectory


def _pct(x: Any, se: Any = None) -> str:
    if x is None:
        return "–"
    out = f"{100 * float(x):.1f}"
    return out + (f" ± {100 * float(se):.1f}" if se is not None else "")


def _name(p: Point) -> str:
    knobs = ", ".join(
        f"{k}={v}" for k, v in p.knobs.items() if v is not None and k != "temperature"
    )
    return f"{p.model} · {p.mas} · {p.benchmark} ({knobs})"


def _row(p: Point, s: dict[str, Any]) -> dict[str, Any]:
    def flips(direction: str) -> str:
        by = s.get("flips_by_kind") or {}
        parts = [f"{k} {v[direction]}" for k, v in by.items() if v.get(direction)]
        return f"{s.get(f'flips_{direction}', 0)}" + (f" ({', '.join(parts)})" if parts else "")

    def rate(name: str) -> str:
        n = s.get(f"{name}_n") or 0
        return f"{_pct(s.get(f'{name}_rate'), s.get(f'{name}_stderr'))} (n={n})" if n else "–"

    return {
        "point": _name(p),
        "n": s.get("trajectory_n"),
        **{label: _pct(s.get(key), s.get(se)) for key, label, se in COLUMNS},
        "right→wrong": flips("right_to_wrong"),
        "wrong→right": flips("wrong_to_right"),
        "rescued": rate("rescued"),
        "talked out": rate("talked_out"),
        "evaluator accepted wrong": rate("evaluator_accepted_wrong"),
        "evaluator rejected right": rate("evaluator_rejected_right"),
        "critics agreed with wrong": rate("critics_agreed_wrong"),
        "critics disagreed with right": rate("critics_disagreed_right"),
    }


def _md(head: list[str], body: list[list[Any]]) -> list[str]:
    def esc(x: Any) -> str:
        return str(x).replace("|", "\\|")

    return [
        "| " + " | ".join(map(esc, head)) + " |",
        "|" + "|".join("---" for _ in head) + "|",
        *("| " + " | ".join(map(esc, r)) + " |" for r in body),
    ]


def markdown(graded: list[tuple[Point, dict[str, Any]]], left_out: int, note: str | None) -> str:
    lines = ["# Answer trajectories: what the discussion did", ""]
    if note:
        lines += [note, ""]
    lines += [
        "Accuracy in % ± standard error (clustered by problem). First proposal: the solver's "
        "first answer (the single agent inside the system); flips are changes of the system's "
        "answer between right and wrong, by the step that made them (revision: critique and "
        "revision; new_round: a round after the evaluator rejected; ceo_direction: a round "
        "under the CEO's direction).",
        "",
    ]
    if left_out:
        lines += [f"{left_out} point(s) without graded answers left out.", ""]
    rows = [_row(p, s) for p, s in graded]
    if rows:
        lines += _md(list(rows[0]), [list(r.values()) for r in rows]) + [""]
    for p, s in graded:
        lines += [f"## {_name(p)}", ""]
        lines += [f"Episode classes: {_classes(s)}", ""]
        steps = s.get("flips_by_step") or {}
        body = []
        for pt in s.get("trajectory_curve") or []:
            fl = steps.get(pt["step"]) or {}
            body.append(
                [
                    pt["step"],
                    _pct(pt.get("accuracy"), pt.get("stderr")),
                    pt.get("n"),
                    pt.get("tokens"),
                    pt.get("completion_tokens"),
                    fl.get("right_to_wrong", "") if fl else "",
                    fl.get("wrong_to_right", "") if fl else "",
                ]
            )
        head = [
            "after step",
            "accuracy",
            "n",
            "tokens so far",
            "completion tokens so far",
            "right→wrong",
            "wrong→right",
        ]
        lines += _md(head, body) + [""]
    return "\n".join(lines)


def _classes(s: dict[str, Any]) -> str:
    classes = s.get("trajectory_classes") or {}
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in classes.items())


def plot(graded: list[tuple[Point, dict[str, Any]]], path: Path, note: str | None) -> Path | None:
    """Accuracy against mean tokens spent so far within the episode, per system and setting."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    by_bench: dict[str, list[tuple[Point, dict[str, Any]]]] = defaultdict(list)
    for p, s in graded:
        if s.get("trajectory_curve"):
            by_bench[p.benchmark].append((p, s))
    if not by_bench:
        return None
    benches = sorted(by_bench)
    fig = Figure(figsize=(6.4 * len(benches), 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(benches), squeeze=False).ravel().tolist()
    for ax, bench in zip(axes, benches, strict=True):
        for p, s in by_bench[bench]:
            curve = s["trajectory_curve"]
            xs = [max(float(c["tokens"]), 1.0) for c in curve]
            ys = [100 * float(c["accuracy"] or 0.0) for c in curve]
            err = [100 * float(c.get("stderr") or 0.0) for c in curve]
            knobs = ", ".join(
                f"{k}={v}"
                for k, v in p.knobs.items()
                if v is not None and k in ("agents", "tokens", "turns", "critic_rounds")
            )
            line = ax.errorbar(
                xs, ys, yerr=err, marker="o", capsize=3, label=f"{p.model} · {p.mas} ({knobs})"
            )
            color = line[0].get_color()
            for x, y, c in zip(xs, ys, curve, strict=True):
                ax.annotate(
                    c["step"], (x, y), textcoords="offset points", xytext=(3, 4), fontsize=6,
                    color=color,
                )  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xlabel("tokens spent so far in the episode (prompt + completion, mean, log₂)")
        ax.set_ylabel("accuracy of the system's answer (%) ± s.e.")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        ax.set_title(f"{bench}: accuracy after each step of the episode")
        ax.legend(fontsize=7, loc="best")
    title = "Test-time scaling inside one episode (steps: r<round>.propose/reviseK/end)"
    fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=10)
    fig.savefig(path)
    return path


def trajectory_report(points: list[Point], out_dir: Path, note: str | None = None) -> list[Path]:
    """The trajectory tables and plot for the points that graded their answers ([] if none)."""
    graded = [(p, s) for p in points if (s := _summary(p)) is not None]
    if not graded:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    left_out = len(points) - len(graded)
    md = out_dir / "trajectories.md"
    md.write_text(markdown(graded, left_out, note) + "\n", encoding="utf-8")
    rows = [_row(p, s) for p, s in graded]
    csv_path = out_dir / "trajectories.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    files = [md, csv_path]
    png = plot(graded, out_dir / "trajectory_scaling.png", note)
    if png is not None:
        files.append(png)
    return files
