"""The answer trajectory in the viewer, in headless Chromium: a strip per problem (✓ ✗ — per
graded answer), the filter "right, then talked out of it", and the call that flipped the answer
highlighted in the episode. The run is the scripted-engine run of tests/unit/test_trajectory.py
(real runner, real math scorer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.view import browser
from harness.view.__main__ import main
from tests.unit.test_trajectory import SCRIPTS, A, B, C, _run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as mp:
        _run(run_dir, mp, SCRIPTS, "mas=agentverse")
    assert main([str(run_dir)]) == 0
    return run_dir / "report.html"


def test_strip_filter_and_flipped_step(report):
    with browser.chromium() as context:
        errors: list[str] = []
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(report.resolve().as_uri())
        page.wait_for_selector("html[data-ready='1']", timeout=30_000)

        def rows() -> dict[str, str]:
            return dict(
                page.eval_on_selector_all(
                    "tr.row",
                    "rs => rs.map(r => [r.dataset.id, r.querySelector('td.traj').textContent])",
                )
            )

        # the strip: every graded answer of the system, in order
        assert rows() == {A: "✓✓✗✗", B: "✗✓", C: "✗"}
        options = page.eval_on_selector_all(
            "#filter-trajectory option", "os => os.map(o => o.textContent)"
        )
        assert (
            "right, then talked out of it (1)" in options and "wrong, then rescued (1)" in options
        )
        page.select_option("#filter-trajectory", "talked_out")
        assert list(rows()) == [A] and page.inner_text("#count") == "1 of 3 problems"
        page.select_option("#filter-trajectory", "rescued")
        assert list(rows()) == [B]
        page.select_option("#filter-trajectory", "talked_out")

        # the episode: each solver answer carries its grade; the flipping revision is marked
        row = page.locator("tr.row").first
        row.click()
        detail = row.locator("xpath=following-sibling::tr[1]")
        page.wait_for_function(
            "tr => tr.dataset.ready === '1'", arg=detail.element_handle(), timeout=30_000
        )
        grades = detail.locator(".call[data-role='solver'] .call-head .badge.grade")
        assert grades.all_inner_texts() == ["✓ correct", "✓ correct", "✗ wrong", "✗ wrong"]
        flipped = detail.locator(".call.flip")
        assert flipped.count() == 1
        assert flipped.get_attribute("data-role") == "solver"
        assert "revise 2" in flipped.locator(".step").inner_text()
        assert "talked the system out of a right answer" in flipped.inner_text()
        assert detail.locator(".event[data-kind='graded']").count() == 2  # the round finals
        assert "✓✓✗✗ · talked out" in detail.locator(".ep-head").inner_text()
        shot = report.parent / "trajectory_view.png"
        detail.screenshot(path=str(shot))
        assert shot.read_bytes()[:4] == b"\x89PNG"
        assert errors == []
