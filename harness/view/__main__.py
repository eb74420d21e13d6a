"""``python -m harness.view RUN_DIR…``: write a self-contained HTML report of each run, or the
comparison of two runs of one benchmark.

    python -m harness.view RUN_DIR                      # RUN_DIR/report.html
    python -m harness.view RUN_A RUN_B                  # RUN_A/compare-<B>.html, flips first
    python -m harness.view RUN_A RUN_B --each           # a report in each run dir instead
    python -m harness.view SWEEP_DIR                    # a report in every run dir under it
    python -m harness.view RUN_DIR --out r.html --screenshot r.png
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.view.compare import GAINED, LOST, compare
from harness.view.load import is_run_dir, load_run
from harness.view.page import compare_page, run_page

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m harness.view",
        description="Self-contained HTML report of a run's episodes, or the comparison of two "
        "runs of one benchmark (problems that flipped first).",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or sweep dirs)")
    p.add_argument("--out", help="the HTML file to write (one run, or a comparison)")
    p.add_argument("--each", action="store_true", help="two runs: a report each, no comparison")
    p.add_argument(
        "--plain",
        action="store_true",
        help="embed episodes as plain JSON (greppable, larger) instead of gzip+base64",
    )
    p.add_argument("--screenshot", metavar="PNG", help="also save a PNG of the page (Chromium)")
    return p


def _expand(paths: list[str]) -> list[Path]:
    """Run dirs as given; a folder that is not one stands for every run dir beneath it."""
    runs: list[Path] = []
    for arg in paths:
        path = Path(arg)
        if is_run_dir(path) or not path.is_dir():
            runs.append(path)  # load_run reports a missing or non-run path
            continue
        found = sorted(p.parent for p in path.rglob("results.jsonl"))
        if not found:
            raise HarnessError(f"{path}: no run directory (results.jsonl) in it")
        runs.extend(found)
    return runs


def _slug(path: Path, other: Path) -> str:
    """The parts of ``path`` that tell it apart from ``other``, fit for a file name."""
    a, b = path.resolve().parts, other.resolve().parts
    differ = [p for i, p in enumerate(a) if i >= len(b) or b[i] != p] or [a[-1]]
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", "-".join(differ))[:80].strip("_") or "other"


def _target(out: str | None, default: Path) -> Path:
    """``--out`` as given, or inside it when it names a folder; else the default."""
    if not out:
        return default
    path = Path(out)
    return path / default.name if path.is_dir() else path


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.2f} MB"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    pack = not args.plain
    runs = _expand(args.runs)
    explicit_pair = len(args.runs) == 2 and len(runs) == 2 and not args.each
    if args.out and not explicit_pair and len(runs) != 1:
        raise HarnessError("--out names one file: give one run, or two runs to compare")
    if args.screenshot and not explicit_pair and len(runs) != 1:
        raise HarnessError("--screenshot takes one page: give one run, or two runs to compare")
    written: list[Path] = []
    if explicit_pair:
        a, b = (load_run(r, pack=pack) for r in runs)
        cmp = compare(a, b)
        out = _target(args.out, a.dir / f"compare-{_slug(b.dir, a.dir)}.html")
        written.append(_write(out, compare_page(cmp)))
        print(
            f"comparison of A={a.dir} and B={b.dir} ({a.benchmark}): {out} "
            f"({cmp.shared} shared problems, {cmp.counts[GAINED]} gained, "
            f"{cmp.counts[LOST]} lost; {_size(out)})"
        )
    else:
        for run_dir in runs:
            run = load_run(run_dir, pack=pack)
            out = _target(args.out, run.dir / "report.html")
            written.append(_write(out, run_page(run)))
            print(f"report of {run.dir}: {out} ({len(run.rows)} problems; {_size(out)})")
    if args.screenshot:
        from harness.view.browser import screenshot

        png = screenshot(written[0], args.screenshot)
        print(f"screenshot: {png}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
