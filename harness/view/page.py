"""The HTML document of a run report or a comparison.

The header (config, summary, counts) is rendered here with every value escaped; the table and
the episodes are built in the browser by ``assets/viewer.js`` from embedded JSON, with
``textContent`` only. The one script and the one style are pinned by hash in a
Content-Security-Policy with ``default-src 'none'``: even markup that slipped through could
neither run a script, nor load anything, nor send anything anywhere.
"""

from __future__ import annotations

import html
from importlib.resources import files
from typing import Any

from omegaconf import OmegaConf

from harness.rows import Summary
from harness.view.compare import CHANGES, Comparison
from harness.view.embed import csp_hash, script_json
from harness.view.load import RunView
from harness.view.records import FAILURES

_ASSETS = files("harness.view") / "assets"
# Settings a reader tells runs apart by, besides the top-level knobs.
_NESTED_KNOBS = (
    ("model", "name"),
    ("model", "engine"),
    ("model", "path"),
    ("mas", "name"),
    ("mas", "stop_on"),
    ("benchmark", "name"),
    ("benchmark", "split"),
)


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "—" if value is None else esc(value)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "—"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


def knobs(config: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, value) of the settings shown in the header: nested names, then top-level knobs."""
    out = []
    for group, key in _NESTED_KNOBS:
        node = config.get(group)
        if isinstance(node, dict) and node.get(key) is not None:
            out.append((f"{group}.{key}", node[key]))
    for key, value in config.items():
        if not isinstance(value, (dict, list)) and value is not None and key != "run_id":
            out.append((key, value))
    return out


def _stats(run: RunView) -> list[tuple[str, str]]:
    s = run.summary
    if s is None:  # a run that stopped before writing its summary: count what is recorded
        n = len(run.rows)
        right = sum(r["correct"] for r in run.rows)
        acc = f"{right / n:.3f}" if n else "—"
        return [
            ("accuracy", f"{acc} (no summary.json: from results.jsonl)"),
            ("n", _int(n)),
            ("correct", _int(right)),
        ]
    acc, err = s.accuracy, s.stderr
    accuracy = f"{acc:.3f}" if isinstance(acc, (int, float)) else "—"
    if isinstance(err, (int, float)):
        accuracy += f" ± {err:.3f}"
    stats = [
        ("accuracy", accuracy),
        ("n", _int(s.n)),
        ("correct", _int(s.correct)),
        ("calls", _int(s.calls)),
        ("prompt tokens", _int(s.prompt_tokens)),
        ("completion tokens", _int(s.completion_tokens)),
        ("wall time", _duration(s.wall_s)),
    ]
    for mean, label in ((s.mean_rounds, "mean rounds"), (s.mean_agents, "mean agents")):
        if isinstance(mean, (int, float)):
            stats.append((label, f"{mean:.2f}"))
    for count, label in ((s.no_answer, "no answer"), (s.errors, "errors")):
        if count:
            stats.append((label, _int(count)))
    if s.complete is False:
        stats.append(("incomplete", esc(s.error or "the run stopped early")))
    return stats


def _run_header(run: RunView, tag: str = "") -> str:
    s = run.summary or Summary()
    git = s.git.get("commit")
    sub = [esc(run.dir)]
    if s.started_at:
        sub.append(esc(s.started_at))
    if git:
        sub.append("commit " + esc(str(git)[:10]))
    stats = "".join(
        f'<div class="stat"><span>{esc(k)}</span><b>{v}</b></div>' for k, v in _stats(run)
    )
    knob_rows = "".join(
        f"<div><span>{esc(k)}</span><b>{esc(_short(v))}</b></div>" for k, v in knobs(run.config)
    )
    config_text = (
        OmegaConf.to_yaml(OmegaConf.create(run.config)) if run.config else "(no config.yaml)"
    )
    return (
        f'<section class="run-head"><h2>{esc(tag)}{esc(run.label)}</h2>'
        f'<p class="sub">{" · ".join(sub)}</p><div class="stats">{stats}</div>'
        f'<div class="knob-grid">{knob_rows}</div>'
        f"<details><summary>full config</summary><pre>{esc(config_text)}</pre></details>"
        "</section>"
    )


def _document(title: str, header: str, data: dict[str, Any], episodes: list[list[Any]]) -> str:
    script, style = _asset("viewer.js"), _asset("viewer.css")
    csp = (
        f"default-src 'none'; script-src {csp_hash(script)}; style-src {csp_hash(style)}; "
        "base-uri 'none'; form-action 'none'"
    )
    blobs = "".join(
        f'<script type="application/json" id="view-episodes-{i}">{script_json(eps)}</script>\n'
        for i, eps in enumerate(episodes)
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="harness.view">\n<title>{esc(title)}</title>\n'
        f"<style>{style}</style></head>\n<body>\n<header>{header}</header>\n"
        '<main id="app"><noscript>The table and the episodes need JavaScript.</noscript></main>\n'
        f'<script type="application/json" id="view-data">{script_json(data)}</script>\n'
        f"{blobs}<script>{script}</script>\n</body></html>\n"
    )


def run_page(run: RunView) -> str:
    header = f"<h1>Episodes</h1>{_run_header(run)}"
    data = {
        "kind": "run",
        "runs": [{"label": run.label, "dir": str(run.dir)}],
        "rows": run.rows,
        "failures": FAILURES,
    }
    return _document(f"harness.view — {run.label}", header, data, [run.episodes])


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def compare_page(cmp: Comparison) -> str:
    c = cmp.counts
    p = "—" if cmp.mcnemar_p is None else f"{cmp.mcnemar_p:.3g}"
    delta = (
        f"{cmp.accuracy_b - cmp.accuracy_a:+.3f}"
        if cmp.accuracy_a is not None and cmp.accuracy_b is not None
        else "—"
    )
    counts = "".join(
        f'<div class="stat change-{esc(k.replace(" ", "-"))}"><span>{esc(k)}</span>'
        f"<b>{_int(c.get(k, 0))}</b></div>"
        for k in CHANGES
    )
    diff_rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(_short(va))}</td><td>{esc(_short(vb))}</td></tr>"
        for k, va, vb in cmp.config_diff[:60]
    )
    more = len(cmp.config_diff) - 60
    diff = (
        '<table class="knobs diff"><tr><th>setting</th><th>A</th><th>B</th></tr>'
        f"{diff_rows}</table>" + (f"<p>… and {more} more</p>" if more > 0 else "")
        if cmp.config_diff
        else "<p>The two configurations are identical.</p>"
    )
    header = (
        "<h1>Comparison</h1>"
        f'<section class="verdict"><p>On the {cmp.shared:,} problems both runs answered: '
        f"A {_pct(cmp.accuracy_a)}, B {_pct(cmp.accuracy_b)} (B − A = {delta}); "
        f"{c.get('gained', 0):,} gained, {c.get('lost', 0):,} lost; McNemar exact p = {p}.</p>"
        f'<div class="stats">{counts}</div>'
        f"<details open><summary>settings that differ ({len(cmp.config_diff)})</summary>{diff}"
        "</details></section>"
        f'<div class="two">{_run_header(cmp.a, "A: ")}{_run_header(cmp.b, "B: ")}</div>'
    )
    data = {
        "kind": "compare",
        "runs": [{"label": r.label, "dir": str(r.dir)} for r in (cmp.a, cmp.b)],
        "rows": cmp.rows,
        "failures": FAILURES,
        "changes": CHANGES,
    }
    title = f"harness.view — {cmp.a.label} vs {cmp.b.label}"
    return _document(title, header, data, [cmp.a.episodes, cmp.b.episodes])


def _short(value: Any, limit: int = 160) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} chars)"
