"""Reports over finished sweeps: leaderboards (Markdown, LaTeX, CSV) and scaling plots.

``python -m harness.report PATH…`` (see :mod:`harness.report.cli`). Data flows one way: run
dirs or W&B runs → :mod:`points` (one per sweep point, with its status) → :mod:`entries`
(cells: seeds pooled, settings apart) → :mod:`render` and :mod:`plots`.
"""
