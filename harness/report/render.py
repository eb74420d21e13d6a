"""The leaderboard as Markdown, LaTeX (booktabs, no vertical rules) and CSV.

Markdown and LaTeX are written here rather than with ``DataFrame.to_markdown``/``Styler``:
each cell carries marks (best, incomplete, failed) and the tables need captions that say
which point each cell is, which those writers do not do without extra dependencies. The CSV
is the same data in long form, one line per entry, through pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from harness.report.entries import Entry, Table, fixed_knobs, layout, varying_knobs
from harness.roles import ROLES

DAGGER, DDAGGER, MISSING = "†", "‡", "—"
LEGEND = (
    "Accuracy (%) ± standard error (clustered by problem); n = problems × repeats (× seeds "
    "when seeds are pooled). Bold: the best complete entry of a column. † incomplete run "
    "(n of expected), ‡ failed run, — not run."
)


def setting_label(setting: dict[str, Any]) -> str:
    if not setting:
        return "all points"
    return ", ".join(_knob_text(k, v) for k, v in setting.items())


def _knob_text(k: str, v: Any) -> str:
    if k == "seed" and isinstance(v, str) and "," in v:
        return f"seeds {v} pooled"
    return f"{k}={v}"


# -- cells ---------------------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "?" if x is None else f"{100 * x:.1f}"


def _column_n(table: Table, bench: str) -> int | None:
    ns = {e.n for (_, b), e in table.cells.items() if b == bench and e.status == "complete"}
    return ns.pop() if len(ns) == 1 else None


def _best(table: Table, bench: str) -> float | None:
    accs = [
        e.accuracy
        for (_, b), e in table.cells.items()
        if b == bench and e.status == "complete" and e.accuracy is not None
    ]
    # Nothing to mark with one entry, or when every entry ties (all 0% on a random model).
    return max(accs) if len(set(accs)) >= 2 else None


def accuracy_cell(
    e: Entry | None,
    column_n: int | None,
    best: float | None,
    bold: Callable[[str], str],
    knobs: dict[str, Any] | None = None,
) -> str:
    """``knobs``: the cell's own values of knobs that differ between the table's cells."""
    if e is None:
        return MISSING
    where = f" [{setting_label(knobs)}]" if knobs else ""
    if e.status == "failed":
        return f"failed{DDAGGER}{where}"
    value = _pct(e.accuracy)
    if e.status == "complete" and best is not None and e.accuracy == best:
        value = bold(value)
    text = value if e.stderr is None else f"{value} ± {_pct(e.stderr)}"
    if e.status == "partial":
        n_exp = e.n_expected if e.n_expected is not None else "?"
        return f"{text} (n={e.n}/{n_exp}){DAGGER}{where}"
    return (text if column_n is not None else f"{text} (n={e.n})") + where


def cost_cell(e: Entry | None) -> str:
    if e is None or e.status == "failed":
        return MISSING
    tokens = "?" if e.tokens_per_problem is None else f"{e.tokens_per_problem:,.0f}"
    rate = e.no_answer_rate
    no_answer = "?" if rate is None else f"{100 * rate:.0f}%"
    return f"{tokens} · {no_answer}" + (DAGGER if e.status == "partial" else "")


def role_order(entries: list[Entry]) -> list[str]:
    seen = {r for e in entries for r in (e.tokens_by_role or {})}
    return [r for r in ROLES if r in seen] + sorted(seen - set(ROLES))


def role_cells(e: Entry, roles: list[str]) -> list[str]:
    by_role = e.tokens_by_role or {}
    totals = {
        r: int(f.get("prompt_tokens", 0)) + int(f.get("completion_tokens", 0))
        for r, f in by_role.items()
    }
    whole = sum(totals.values())
    out = []
    for r in roles:
        if r not in totals or not e.n:
            out.append(MISSING)
        else:
            share = f" ({100 * totals[r] / whole:.0f}%)" if whole else ""
            out.append(f"{totals[r] / e.n:,.0f}{share}")
    return out


# -- Markdown ------------------------------------------------------------------------------
def markdown(entries: list[Entry], note: str | None = None) -> str:
    tables = layout(entries)
    varying = varying_knobs(entries)
    out = ["# Leaderboard", ""]
    if note:
        out += [f"> {note}", ""]
    out += [LEGEND, ""]
    fixed = fixed_knobs(entries, varying)
    if fixed:
        out += ["Same in every entry: " + setting_label(fixed) + ".", ""]
    for t in tables:
        out += [f"## {table_title(t, bool(varying))}", ""]
        head = ["model", "system"] + [
            b if _column_n(t, b) is None else f"{b} (n={_column_n(t, b)})" for b in t.benchmarks
        ]
        body = [
            [_row_name(r), r[1]] + [_md_accuracy(t, r, b) for b in t.benchmarks] for r in t.rows
        ]
        out += _md_table(head, body, right_from=2) + [""]
        out += [
            "Mean tokens per problem (prompt + completion) · problems with no extractable answer",
            "",
        ]
        body = [
            [_row_name(r), r[1]] + [cost_cell(t.cells.get((r, b))) for b in t.benchmarks]
            for r in t.rows
        ]
        out += _md_table(["model", "system", *t.benchmarks], body, right_from=2) + [""]
    out += _md_roles(entries, varying)
    out += _md_no_answer(entries)
    out += _md_problems(entries)
    return "\n".join(out).rstrip() + "\n"


def _md_no_answer(entries: list[Entry]) -> list[str]:
    """Why answers were not read, per entry that has any (results.jsonl's no_answer_cause):
    a figure limited by extraction, not by the model, shows here."""
    rows = [e for e in entries if e.no_answer_causes]
    if not rows:
        return []
    out = ["## Answers not read, by cause", ""]
    for e in rows:
        causes = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in e.no_answer_causes.items())
        out.append(f"- {e.model} · {e.mas} · {e.benchmark} ({setting_label(e.setting)}): {causes}")
    return out + [""]


def table_title(t: Table, varying: bool) -> str:
    title = setting_label(t.setting) if varying else "Accuracy"
    if t.constant:
        title += f" ({setting_label(t.constant)})"
    return title


def _md_accuracy(t: Table, r: tuple[str, str, str], b: str) -> str:
    e = t.cells.get((r, b))
    knobs = t.cell_knobs(e) if e is not None else None
    return accuracy_cell(e, _column_n(t, b), _best(t, b), lambda s: f"**{s}**", knobs)


def _md_roles(entries: list[Entry], varying: list[str]) -> list[str]:
    shown = [e for e in entries if e.tokens_by_role and e.status != "failed"]
    if not shown:
        return []
    roles = role_order(shown)
    out = [
        "## Where the tokens go",
        "",
        "Mean tokens per problem by role (prompt + completion), and each role's share.",
        "",
    ]
    head = ["benchmark", "model", "system", "setting", *roles]
    body = [
        [
            e.benchmark,
            _row_name(e.row),
            e.mas,
            _setting_or_blank(e, varying),
        ]
        + role_cells(e, roles)
        for e in shown
    ]
    return out + _md_table(head, body, right_from=4) + [""]


def _setting_or_blank(e: Entry, varying: list[str]) -> str:
    shown = {k: e.setting[k] for k in varying if k in e.setting}
    return setting_label(shown) if shown else ""


def _md_problems(entries: list[Entry]) -> list[str]:
    bad = [e for e in entries if e.status != "complete"]
    if not bad:
        return []
    out = ["## Incomplete and failed points", ""]
    for e in bad:
        where = ", ".join(p.source for p in e.points if p.status != "complete")
        what = f"{e.status}, n={e.n}/{e.n_expected if e.n_expected is not None else '?'}"
        why = "; ".join(e.errors) or "no error recorded"
        out.append(
            f"- {e.model} · {e.mas} · {e.benchmark} ({setting_label(e.setting)}): {what}: {why} (`{where}`)"
        )
    return out + [""]


def _row_name(row: tuple[str, str, str]) -> str:
    model, _, variant = row
    return f"{model} [{variant}]" if variant else model


def _md_table(head: list[str], body: list[list[str]], right_from: int) -> list[str]:
    def esc(s: str) -> str:
        return str(s).replace("|", "\\|")

    align = ["---" if i < right_from else "---:" for i in range(len(head))]
    return [
        "| " + " | ".join(map(esc, head)) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(map(esc, row)) + " |" for row in body),
    ]


# -- LaTeX ---------------------------------------------------------------------------------
_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(s: str) -> str:
    return "".join(_TEX.get(c, c) for c in str(s))


def _tex_cell(text: str) -> str:
    """A Markdown-free cell in LaTeX: marks become math, the bold marker \\textbf."""
    s = tex_escape(text)
    s = s.replace("±", r"$\pm$").replace(DAGGER, r"$^\dagger$").replace(DDAGGER, r"$^\ddagger$")
    s = s.replace(MISSING, "---").replace("·", r"$\cdot$")
    return s.replace("\x01", r"\textbf{").replace("\x02", "}")


def latex(entries: list[Entry], note: str | None = None) -> str:
    """One booktabs table per setting (``\\usepackage{booktabs}``)."""
    tables = layout(entries)
    varying = varying_knobs(entries)
    fixed = fixed_knobs(entries, varying)
    out = ["% Generated by python -m harness.report; needs \\usepackage{booktabs}"]
    if note:
        out.append(f"% {note}")
    for t in tables:
        caption = "Accuracy (\\%) $\\pm$ standard error"
        if varying or t.constant:
            caption += f"; {tex_escape(table_title(t, bool(varying)))}"
        if fixed:
            caption += f"; {tex_escape(setting_label(fixed))}"
        caption += ". Bold: best complete entry per column; $^\\dagger$ incomplete, $^\\ddagger$ failed, --- not run."
        if note:
            caption += f" {tex_escape(note)}"
        cols = "ll" + "r" * len(t.benchmarks)
        head = ["Model", "System"] + [
            tex_escape(b) if _column_n(t, b) is None else f"{tex_escape(b)} ($n={_column_n(t, b)}$)"
            for b in t.benchmarks
        ]
        out += [
            "",
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            f"\\caption{{{caption}}}",
            f"\\begin{{tabular}}{{{cols}}}",
            r"\toprule",
        ]
        out.append(" & ".join(head) + r" \\")
        out.append(r"\midrule")
        for r in t.rows:
            cells = [
                _tex_cell(
                    accuracy_cell(
                        t.cells.get((r, b)),
                        _column_n(t, b),
                        _best(t, b),
                        lambda s: f"\x01{s}\x02",
                        t.cell_knobs(t.cells[(r, b)]) if (r, b) in t.cells else None,
                    )
                )
                for b in t.benchmarks
            ]
            out.append(" & ".join([tex_escape(_row_name(r)), tex_escape(r[1]), *cells]) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


# -- CSV -----------------------------------------------------------------------------------
def dataframe(entries: list[Entry]) -> pd.DataFrame:
    roles = role_order(entries)
    records = []
    for e in entries:
        rec: dict[str, Any] = {
            "model": e.model,
            "mas": e.mas,
            "variant": e.variant,
            "benchmark": e.benchmark,
            **{
                k: e.setting.get(k)
                for k in ("agents", "tokens", "turns", "critic_rounds", "repeats", "temperature")
            },
            "seeds": ",".join(map(str, e.seeds)),
            "status": e.status,
            "n": e.n,
            "n_expected": e.n_expected,
            "accuracy": e.accuracy,
            "stderr": e.stderr,
            "tokens_per_problem": e.tokens_per_problem,
            "completion_tokens_per_problem": e.completion_tokens_per_problem,
            "no_answer": e.no_answer,
            "no_answer_rate": e.no_answer_rate,
            **{f"no_answer_{k}": v for k, v in (e.no_answer_causes or {}).items()},
        }
        for r in roles:
            f = (e.tokens_by_role or {}).get(r)
            rec[f"tokens_{r}"] = (
                None
                if f is None
                else int(f.get("prompt_tokens", 0)) + int(f.get("completion_tokens", 0))
            )
        rec["sources"] = " ".join(p.source for p in e.points)
        rec["errors"] = " | ".join(e.errors)
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    counts = ["agents", "tokens", "turns", "critic_rounds", "repeats", "n", "n_expected"]
    counts += ["no_answer", *(f"tokens_{r}" for r in roles)]
    for col in counts:  # integers stay integers next to missing values (mas=single's agents)
        try:
            df[col] = df[col].astype("Int64")
        except (TypeError, ValueError):
            pass  # a non-numeric value (a failed point's bad override): kept as given
    return df


def write_all(entries: list[Entry], out_dir: Path, note: str | None = None) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "leaderboard.md", out_dir / "leaderboard.tex", out_dir / "leaderboard.csv"]
    paths[0].write_text(markdown(entries, note))
    paths[1].write_text(latex(entries, note))
    dataframe(entries).to_csv(paths[2], index=False)
    return paths
