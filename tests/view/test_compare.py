"""Pairing two runs problem by problem: flips first, counts of each direction, McNemar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.view.__main__ import main
from harness.view.compare import (
    BOTH_RIGHT,
    BOTH_WRONG,
    GAINED,
    LOST,
    ONLY_A,
    ONLY_B,
    compare,
    config_diff,
    mcnemar_exact,
)
from harness.view.load import load_run
from tests.view.fixtures import ceo_run
from tests.view.pages import Page


def _set_results(run: Path, verdicts: dict[str, bool], drop: tuple[str, ...] = ()) -> None:
    rows = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    rows = [
        r | {"correct": verdicts.get(r["id"], r["correct"])} for r in rows if r["id"] not in drop
    ]
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_flips_first_with_counts(tmp_path: Path):
    a = ceo_run.write_run(tmp_path / "a")
    b = ceo_run.write_run(tmp_path / "b")
    # A: good right, hostile wrong, code wrong.  B: good wrong (lost), hostile right (gained),
    # code absent (only in A).
    _set_results(b, {ceo_run.GOOD_ID: False, ceo_run.HOSTILE_ID: True}, drop=(ceo_run.CODE_ID,))
    cmp = compare(load_run(a), load_run(b))
    assert [(r["id"], r["change"]) for r in cmp.rows] == [
        (ceo_run.GOOD_ID, LOST),
        (ceo_run.HOSTILE_ID, GAINED),
        (ceo_run.CODE_ID, ONLY_A),
    ]
    assert cmp.counts == {LOST: 1, GAINED: 1, BOTH_WRONG: 0, BOTH_RIGHT: 0, ONLY_A: 1, ONLY_B: 0}
    assert cmp.shared == 2 and cmp.accuracy_a == 0.5 and cmp.accuracy_b == 0.5
    assert cmp.mcnemar_p == 1.0
    # Each side points at its own run's episode.
    assert cmp.rows[2]["a"]["ep"] == 2 and cmp.rows[2]["b"] is None


def test_comparison_page_and_default_name(tmp_path: Path):
    a = ceo_run.write_run(tmp_path / "runs" / "agentverse")
    b = ceo_run.write_run(tmp_path / "runs" / "ceo")
    (b / "config.yaml").write_text(
        (b / "config.yaml").read_text().replace("agents: 3", "agents: 4")
    )
    _set_results(b, {ceo_run.HOSTILE_ID: True})
    assert main([str(a), str(b)]) == 0
    page = Page(a / "compare-ceo.html")
    data = page.data
    assert data["kind"] == "compare" and [r["change"] for r in data["rows"]][0] == GAINED
    assert page.episodes(0)[1]["attempt"] == page.episodes(1)[1]["attempt"] == "h1"
    assert "agents" in page.html and "1 gained, 0 lost" in page.html
    assert len(page.executable_scripts()) == 1


def test_different_benchmarks_are_refused(tmp_path: Path):
    a = ceo_run.write_run(tmp_path / "a")
    b = ceo_run.write_run(tmp_path / "b", benchmark="gpqa_diamond")
    with pytest.raises(DataError, match="different benchmarks"):
        compare(load_run(a), load_run(b))


def test_config_diff_ignores_where_a_run_was_made():
    a = {"agents": 3, "run": {"dir": "x"}, "hydra": {"a": 1}, "mas": {"name": "ceo"}}
    b = {"agents": 4, "run": {"dir": "y"}, "hydra": {"a": 2}, "mas": {"name": "ceo"}, "new": 1}
    assert config_diff(a, b) == [("agents", 3, 4), ("new", None, 1)]


@pytest.mark.parametrize("lost, gained", [(0, 0), (1, 9), (9, 1), (5, 5), (0, 12), (17, 40)])
def test_mcnemar_exact_matches_scipy_binomial_test(lost: int, gained: int):
    from scipy import stats  # the dev extra

    p = mcnemar_exact(lost, gained)
    if lost + gained == 0:
        assert p is None
    else:
        assert p == pytest.approx(stats.binomtest(lost, lost + gained, 0.5).pvalue, rel=1e-9)
