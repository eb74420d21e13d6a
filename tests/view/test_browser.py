"""The viewer in a real browser (headless Debian Chromium driven by Playwright): the table and
the episodes render, filtering and sorting work, and hostile model output is shown as text and
runs nothing. Runs are made through the CLI: a real tiny-model run and model=replay runs whose
responses hold HTML and scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.view import browser
from harness.view.__main__ import main
from tests.conftest import ROOT, read_jsonl, run_cli
from tests.view.fixtures import ceo_run

# headless Chromium: skipped where it is missing, a failure under CI (tests/conftest.py)
pytestmark = pytest.mark.browser

PWNED = "window.__pwned === undefined"
# Anything a hostile text could have turned into had it been parsed as markup.
MARKUP_FROM_DATA = """(
  document.querySelectorAll("img, svg, iframe, object, embed, i, #app b, #app script").length
  + document.querySelectorAll("script:not([type])").length - 1
)"""


@pytest.fixture(scope="module")
def chromium():
    with browser.chromium() as context:
        yield context


class Watched:
    """A page with every script error and console error it raised (a CSP refusal is one)."""

    def __init__(self, context, path: Path) -> None:
        self.errors: list[str] = []
        self.page = context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("html[data-ready='1']", timeout=30_000)

    def visible_ids(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "tr.row:not([hidden])", "rows => rows.map(r => r.dataset.id)"
        )

    def count(self) -> str:
        return self.page.inner_text("#count")

    def open(self, problem_id: str):
        """Click the problem's row; its episode row once rendered."""
        ids = self.page.eval_on_selector_all("tr.row", "rows => rows.map(r => r.dataset.id)")
        row = self.page.locator("tr.row").nth(ids.index(problem_id))
        row.click()
        detail = row.locator("xpath=following-sibling::tr[1]")
        self.page.wait_for_function(
            "tr => tr && tr.classList.contains('detail') && tr.dataset.ready === '1'",
            arg=detail.element_handle(timeout=30_000),
            timeout=30_000,
        )
        return detail

    def close(self) -> None:
        self.page.close()


@pytest.mark.parametrize("embedding", [[], ["--plain"]], ids=["packed", "plain"])
def test_fixture_report_renders_filters_sorts_and_shows_hostile_text(chromium, tmp_path, embedding):
    run = ceo_run.write_run(tmp_path / "run")
    assert main([str(run), *embedding]) == 0
    w = Watched(chromium, run / "report.html")
    page = w.page
    assert w.visible_ids() == [ceo_run.GOOD_ID, ceo_run.HOSTILE_ID, ceo_run.CODE_ID]
    assert w.count() == "3 of 3 problems"

    # Filtering: by correctness, by failure kind, by text.
    page.select_option("#filter-correct", "wrong")
    assert w.visible_ids() == [ceo_run.HOSTILE_ID, ceo_run.CODE_ID]
    assert w.count() == "2 of 3 problems"
    page.select_option("#filter-failure", "engine error")
    assert w.visible_ids() == [ceo_run.CODE_ID]
    page.select_option("#filter-correct", "")
    page.select_option("#filter-failure", "")
    page.fill("#filter-text", "algebra")
    assert w.visible_ids() == [ceo_run.GOOD_ID]
    page.fill("#filter-text", "")
    assert len(w.visible_ids()) == 3

    # Sorting by tokens, both ways.
    tokens = page.locator("#problems th", has_text="tokens")
    tokens.click()
    ascending = w.visible_ids()
    tokens.click()
    assert w.visible_ids() == ascending[::-1]
    assert ascending[0] == ceo_run.HOSTILE_ID  # 3 calls: the fewest tokens

    # One episode: grouped by round, events inside their calls, thinking collapsed.
    detail = w.open(ceo_run.GOOD_ID)
    assert detail.locator("section.round").count() == 2
    roles = detail.locator(".call").evaluate_all("cs => cs.map(c => c.dataset.role)")
    assert roles == ["ceo", "recruiter", "solver", "critic", "critic", "solver", "evaluator",
                     "ceo", "solver", "critic", "evaluator"]  # fmt: skip
    ceo_card = detail.locator(".call[data-role='ceo']").first
    assert "unparsed: fallback plan" in ceo_card.inner_text()
    assert detail.locator(".call[data-role='critic'] .call-head .badge.disagree").count() == 1
    thinking = detail.locator("details.thinking-box")
    assert thinking.count() == 1 and not thinking.evaluate("d => d.open")
    assert thinking.locator("pre").count() == 0  # built only when opened
    thinking.locator("summary").click()
    # the body is built on the "toggle" event, which fires after the click returns
    thinking.locator("pre").wait_for()
    assert "Let me recount" in thinking.inner_text()
    assert ceo_run.STALE not in page.inner_text("body")

    # The hostile episode: every trick is on screen as text, and nothing ran.
    detail = w.open(ceo_run.HOSTILE_ID)
    text = detail.inner_text()
    for needle in (ceo_run.HOSTILE_SCRIPT, ceo_run.HOSTILE_IMG, ceo_run.HOSTILE_CLOSE):
        assert needle in text
    hostile_row = page.locator("tr.row", has_text="bold").first
    assert ceo_run.HOSTILE_CLOSE in hostile_row.inner_text()  # the answer cell
    assert page.evaluate(PWNED) and page.evaluate(MARKUP_FROM_DATA) == 0
    detail.locator("details.thinking-box summary").click()
    detail.locator("details.prompt-box summary").first.click()
    detail.locator("details.raw-box summary").first.click()
    assert page.evaluate(PWNED) and page.evaluate(MARKUP_FROM_DATA) == 0

    # The 150,000-character line is folded, and unfolds whole.
    critic = detail.locator(".call[data-role='critic'] .text.output")
    assert len(critic.locator("pre").inner_text()) <= 2000
    critic.locator("button.fold").click()
    assert len(critic.locator("pre").inner_text()) == len(ceo_run.HUGE_LINE) + len(" [Agree]")

    # The engine-error episode shows the failed call and the executor's tests.
    detail = w.open(ceo_run.CODE_ID)
    assert "engine error: EngineError: connection reset" in detail.inner_text()
    assert detail.locator(".event[data-kind='execution'] .badge.agree").count() == 1
    assert "assert add(2, 2) == 4" in detail.locator(".event[data-kind='tests']").inner_text()
    assert w.errors == []
    w.close()


def _replay(tmp_path: Path, name: str, responses: dict[str, str], *more: str) -> Path:
    table = tmp_path / f"{name}.jsonl"
    table.write_text(
        "".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in responses.items())
    )
    out = tmp_path / name
    proc = run_cli(
        "model=replay", f"model.path={table}", "mas=ceo", "benchmark=math500", "limit=2",
        f"hydra.run.dir={out}", *more,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _math500_head(data_dir: Path, n: int) -> list[tuple[str, str]]:
    rows = read_jsonl(data_dir / "math500.jsonl")[:n]
    return [(r["unique_id"], r["answer"]) for r in rows]


HOSTILE = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">'


def test_replay_run_with_scripts_in_responses_runs_nothing(chromium, tmp_path, data_dir):
    (id1, ans1), (id2, _) = _math500_head(data_dir, 2)
    responses = {
        id1: f"{HOSTILE} So the answer is \\boxed{{{ans1}}}.",
        id2: f"{HOSTILE} \\boxed{{</script><script>window.__pwned=3</script>}}",
    }
    run = _replay(tmp_path, "hostile", responses)
    results = {r["id"]: r for r in read_jsonl(run / "results.jsonl")}
    assert results[id1]["correct"] and not results[id2]["correct"]
    assert main([str(run)]) == 0
    w = Watched(chromium, run / "report.html")
    page = w.page
    assert sorted(w.visible_ids()) == sorted(results)
    page.select_option("#filter-correct", "wrong")
    assert w.visible_ids() == [id2]
    page.select_option("#filter-correct", "")
    for pid in (id1, id2):
        detail = w.open(pid)
        solver = detail.locator(".call[data-role='solver'] .text.output").first
        assert HOSTILE in solver.inner_text()
        for box in detail.locator("details summary").all():
            box.click()  # every lazily built part too
        assert page.evaluate(PWNED) and page.evaluate(MARKUP_FROM_DATA) == 0
    assert w.errors == []
    w.close()


def test_comparison_shows_flips_first_side_by_side(chromium, tmp_path, data_dir):
    (id1, ans1), (id2, ans2) = _math500_head(data_dir, 2)
    a = _replay(tmp_path, "a", {id1: f"\\boxed{{{ans1}}}", id2: "\\boxed{wrong}"})
    b = _replay(tmp_path, "b", {id1: f"\\boxed{{{ans1}}}", id2: f"\\boxed{{{ans2}}}"})
    out = tmp_path / "cmp.html"
    assert main([str(a), str(b), "--out", str(out)]) == 0
    w = Watched(chromium, out)
    page = w.page
    assert w.visible_ids() == [id2, id1]  # the flip first
    first = page.locator("tr.row").first
    assert "gained" in first.inner_text()
    page.select_option("#filter-change", "flipped")
    assert w.visible_ids() == [id2]
    detail = w.open(id2)
    sides = detail.locator(".side")
    assert sides.count() == 2
    assert "wrong" in sides.nth(0).locator(".ep-head").inner_text()
    assert "correct" in sides.nth(1).locator(".ep-head").inner_text()
    assert "\\boxed{wrong}" in sides.nth(0).inner_text()
    assert w.errors == []
    w.close()


@pytest.mark.slow
def test_real_tiny_model_run(chromium, tmp_path, data_dir):
    """A real model, the real multi-agent system and a code benchmark (executor, sandbox)."""
    out = tmp_path / "tiny"
    proc = run_cli(
        "model=tiny", "mas=ceo", "benchmark=mbpp_sanitized", "limit=2", "tokens=32", "turns=1",
        f"hydra.run.dir={out}", timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = read_jsonl(out / "results.jsonl")
    transcripts = {(t["id"], t.get("attempt")): t for t in read_jsonl(out / "transcripts.jsonl")}
    assert main([str(out)]) == 0
    w = Watched(chromium, out / "report.html")
    page = w.page
    assert w.visible_ids() == [r["id"] for r in results]
    wrong = [r["id"] for r in results if not r["correct"]]
    page.select_option("#filter-correct", "wrong")
    assert w.visible_ids() == wrong
    page.select_option("#filter-correct", "")
    first = results[0]
    detail = w.open(first["id"])
    calls = transcripts[(first["id"], first.get("attempt"))]["calls"]
    assert detail.locator(".call").count() == len(calls) == first["calls"]
    roles = set(detail.locator(".call").evaluate_all("cs => cs.map(c => c.dataset.role)"))
    assert {"ceo", "recruiter", "solver", "critic", "evaluator"} <= roles
    assert detail.locator(".event[data-kind='ceo_decision']").count() >= 1
    assert page.evaluate(PWNED)
    assert w.errors == []
    w.close()


def test_code_run_shows_the_executor_tests_and_the_sandbox_run(chromium, tmp_path, data_dir):
    """model=oracle on MBPP-S: the reference solution, the executor's tests run with it in the
    sandbox. The run stands where it happened (after the tests), not inside the solver's call."""
    out = tmp_path / "code"
    proc = run_cli(
        "model=oracle", "mas=ceo", "benchmark=mbpp_sanitized", "limit=1", f"hydra.run.dir={out}"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (result,) = read_jsonl(out / "results.jsonl")
    assert main([str(out)]) == 0
    w = Watched(chromium, out / "report.html")
    detail = w.open(result["id"])
    executor = detail.locator(".call[data-role='executor']")
    assert executor.count() == 1
    assert executor.locator(".event[data-kind='tests']").count() == 1
    run = detail.locator("section.round > .event[data-kind='execution']")
    assert run.count() == 1 and "passed" in run.inner_text()
    order = detail.locator("section.round > *").evaluate_all(
        "els => els.map(e => e.dataset.role || e.dataset.kind || '')"
    )
    assert order.index("executor") < order.index("execution") < order.index("evaluator")
    # the reference is the hidden tests, as the transcript recorded them
    first_test = read_jsonl(out / "transcripts.jsonl")[0]["reference"].splitlines()[0]
    assert first_test.startswith("assert ") and first_test in detail.inner_text()
    assert w.errors == []
    w.close()


def test_a_large_run_shows_rows_a_page_at_a_time(chromium, tmp_path):
    """1,200 results (as MATH-500 with repeats gives): the first 500 rows are built, filters
    and sorting apply to all of them, and "show more" adds the next page."""
    run = tmp_path / "large"
    run.mkdir()
    rows = [
        {"id": f"p{i:04d}", "repeat": 0, "correct": i % 2 == 0, "answer": str(i), "calls": 1}
        for i in range(1200)
    ]
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main([str(run)]) == 0
    w = Watched(chromium, run / "report.html")
    page = w.page
    assert w.count() == "1200 of 1200 problems"
    assert len(w.visible_ids()) == 500
    page.click("button.show-more")
    assert w.visible_ids() == [r["id"] for r in rows[:1000]]
    assert "200 not shown" in page.inner_text("button.show-more")
    page.select_option("#filter-correct", "wrong")
    assert w.count() == "600 of 1200 problems"
    shown = w.visible_ids()
    assert shown == [r["id"] for r in rows if not r["correct"]][:500]
    page.locator("#problems th", has_text="#").click()
    page.locator("#problems th", has_text="#").click()  # descending
    assert w.visible_ids()[0] == "p1199"
    detail = w.open("p1199")
    assert "No transcript of this attempt was recorded." in detail.inner_text()
    assert w.errors == []
    w.close()


def test_cli_screenshot_is_a_png_of_the_page(tmp_path):
    run = ceo_run.write_run(tmp_path / "run")
    png = tmp_path / "shot" / "viewer.png"
    # Its own process: Playwright's sync API cannot start inside the module's running one.
    proc = subprocess.run(
        [sys.executable, "-m", "harness.view", str(run), "--out", str(tmp_path), "--screenshot",
         str(png)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "report.html").exists()  # --out a folder: the report goes inside
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (1400, 1500)
