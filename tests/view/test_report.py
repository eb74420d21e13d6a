"""The report of a run written from the schema by hand: what it embeds, what it refuses to
let through as markup, and which attempt it shows. (The browser tests open these pages.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.rows import ResultRow
from harness.view.__main__ import main
from harness.view.embed import csp_hash, script_json, to_json
from harness.view.load import load_run
from harness.view.records import (
    ENGINE,
    INTERNAL,
    NO_ANSWER,
    SANDBOX,
    WRONG,
    ceo_summary,
    failure,
)
from tests.conftest import ROOT
from tests.view.fixtures import ceo_run
from tests.view.pages import Page, csp_source


@pytest.fixture
def fixture_run(tmp_path: Path) -> Path:
    return ceo_run.write_run(tmp_path / "run")


@pytest.fixture(params=["packed", "plain"])
def report(request, fixture_run: Path) -> Page:
    """The report, with episodes packed (the default) or as plain JSON (``--plain``)."""
    assert main([str(fixture_run)] + (["--plain"] if request.param == "plain" else [])) == 0
    return Page(fixture_run / "report.html")


def test_one_row_per_result_and_only_the_recorded_attempt(report: Page):
    rows = report.data["rows"]
    assert [r["id"] for r in rows] == [ceo_run.GOOD_ID, ceo_run.HOSTILE_ID, ceo_run.CODE_ID]
    episodes = report.episodes()
    assert [e["attempt"] for e in episodes] == ["a2", "h1", "c1"]
    assert ceo_run.STALE not in report.text_of_all_episodes()
    good = episodes[0]
    # Calls and events in issue order, whatever order the file lists them in.
    seqs = [x["seq"] for x in good["items"]]
    assert seqs == sorted(seqs) and len(seqs) == 23
    assert {x["type"] for x in good["items"]} == {"call", "event"}


def test_table_row_fields(report: Page):
    good, hostile, code = report.data["rows"]
    assert good["correct"] and good["failure"] is None
    assert good["ceo"] == "3×2k* → 2×4k"
    assert (good["rounds"], good["agents"], good["calls"]) == (2, 3, 11)
    assert good["tokens"] == sum(100 + s + 20 + s for s in (0, 2, 4, 5, 6, 10, 11, 14, 16, 17, 20))
    assert hostile["failure"] == WRONG and hostile["answer"] == ceo_run.HOSTILE_CLOSE
    assert code["failure"] == ENGINE


def test_thinking_kept_and_raw_dropped_only_when_it_repeats(report: Page):
    items = report.episodes()[0]["items"]
    revise = next(x for x in items if x.get("step") == "revise")
    assert revise["thinking"].startswith("Let me recount")
    assert "raw" not in revise and revise["raw_is_thinking_and_output"]
    hostile_solver = next(x for x in report.episodes()[1]["items"] if x.get("role") == "solver")
    assert "raw" in hostile_solver  # its raw thinking ("x") differs from the recorded one


def test_hostile_text_is_data_never_markup(report: Page):
    html = report.html
    for needle in ("<script>window.__pwned", "<img", "<b>bold</b>", "<!-- x", "</script><script>"):
        assert needle not in html, needle
    assert report.tag_names() <= {
        "html", "head", "meta", "title", "style", "body", "header", "main", "noscript", "script",
        "h1", "h2", "section", "p", "div", "span", "b", "details", "summary", "pre",
    }  # fmt: skip
    # Exactly one script runs: the viewer, allowed by hash; the JSON blobs are inert.
    (script,) = report.executable_scripts()
    csp = report.csp
    assert "default-src 'none'" in csp
    assert csp_source(csp, "script-src") == csp_hash(script)
    assert "unsafe-inline" not in csp
    # The data round-trips: hostile strings come back as the same text.
    hostile = report.episodes()[1]
    solver = next(x for x in hostile["items"] if x.get("role") == "solver")
    assert ceo_run.HOSTILE_SCRIPT in solver["output"] and ceo_run.HOSTILE_IMG in solver["output"]
    assert "\ufffd" in solver["output"]  # the lone surrogate and the bad bytes, replaced
    assert "\u2028" in solver["output"]
    critic = next(x for x in hostile["items"] if x.get("role") == "critic")
    assert critic["output"].startswith(ceo_run.HUGE_LINE)  # folded in the page, never cut
    assert report.data["rows"][1]["id"] == ceo_run.HOSTILE_ID
    assert "tiny<script>" not in html and "tiny&lt;script&gt;" in html  # config in the header


def test_script_json_cannot_close_its_element():
    value = {"a": "</script><script>x()</script>", "b": "<!-- &amp; \u2028\u2029", "c": "\ud800"}
    text = script_json(value)
    assert not any(ch in text for ch in "<>&\u2028\u2029")
    back = json.loads(text)
    assert back["a"] == value["a"] and back["b"] == value["b"] and back["c"] == "\ufffd"
    assert json.loads(to_json({"x": float("nan")})) == {"x": "nan"}


def test_plain_embedding_holds_the_same_episodes(fixture_run: Path, tmp_path: Path):
    assert main([str(fixture_run), "--out", str(tmp_path / "a.html")]) == 0
    assert main([str(fixture_run), "--plain", "--out", str(tmp_path / "b.html")]) == 0
    a, b = Page(tmp_path / "a.html"), Page(tmp_path / "b.html")
    assert all(isinstance(e, str) for e in a.blob("view-episodes-0"))
    assert all(isinstance(e, dict) for e in b.blob("view-episodes-0"))
    assert a.episodes() == b.episodes()


def test_result_without_transcript_keeps_its_row(fixture_run: Path):
    lines = (fixture_run / "transcripts.jsonl").read_bytes().splitlines(keepends=True)
    (fixture_run / "transcripts.jsonl").write_bytes(b"".join(lines[:2]))  # hostile + code gone
    run = load_run(fixture_run, pack=False)
    assert len(run.rows) == 3
    assert [e["missing"] for e in run.episodes] == [False, True, True]


def test_legacy_rows_without_attempt_show_the_last_transcript(fixture_run: Path):
    rows = [json.loads(x) for x in (fixture_run / "results.jsonl").read_text().splitlines()]
    raw = (fixture_run / "transcripts.jsonl").read_text(encoding="utf-8", errors="replace")
    eps = [json.loads(x) for x in raw.splitlines()]
    for r in rows:
        r.pop("attempt")
    for e in eps:
        e.pop("attempt")
    (fixture_run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (fixture_run / "transcripts.jsonl").write_text("".join(json.dumps(e) + "\n" for e in eps))
    run = load_run(fixture_run, pack=False)
    assert ceo_run.STALE not in json.dumps(run.episodes)
    assert len(run.episodes[0]["items"]) == 23


@pytest.mark.parametrize(
    "row, events, expected",
    [
        ({"correct": True}, [], None),
        ({"correct": False, "answer": "5"}, [], WRONG),
        ({"correct": False, "answer": None}, [], NO_ANSWER),
        ({"correct": False, "answer": None, "error": "final solution unusable: no code"}, [], NO_ANSWER),
        ({"correct": False, "answer": "x", "score_details": {"verdict": "sandbox_error"}}, [], SANDBOX),
        ({"correct": False, "answer": None, "reason": "sandbox error: OSError"}, [], SANDBOX),
        ({"correct": False, "answer": None, "failed_calls": 2}, [], ENGINE),
        ({"correct": False, "answer": "5", "failed_calls": 1}, [], WRONG),  # it went on
        ({"correct": False, "answer": None}, [{"kind": "engine_error"}], ENGINE),
        ({"correct": False, "answer": None, "error": "KeyError: 'x'"}, [], INTERNAL),
        ({"correct": False, "answer": "5"}, [{"kind": "internal_error"}], INTERNAL),
        ({"correct": False, "answer": None, "engine_errors": 1}, [], ENGINE),  # an older row
    ],
)  # fmt: skip
def test_failure_kinds(row, events, expected):
    assert failure(ResultRow.from_json(row), {"events": events, "calls": []}) == expected


def test_ceo_summary():
    assert ceo_summary([]) == ""
    plans = [
        {"stop": False, "agents": 3, "budget": 8192, "parsed": True},
        {"stop": False, "agents": 2, "budget": 3000, "parsed": True, "adjustments": ["clamped"]},
        {"stop": True, "parsed": True},
    ]
    assert ceo_summary(plans) == "3×8k → 2×3000* → stop"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.view", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, fixture_run: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    other = ceo_run.write_run(tmp_path / "other", benchmark="aime2024")
    third = ceo_run.write_run(tmp_path / "third")
    cases = [
        [str(tmp_path / "nowhere")],
        [str(empty)],
        [str(fixture_run), str(other)],  # different benchmarks
        [str(fixture_run), str(other), str(third), "--out", str(tmp_path / "x.html")],
    ]
    for args in cases:
        proc = _cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "different benchmarks" in _cli(str(fixture_run), str(other)).stderr


def test_cli_writes_reports_for_a_sweep_folder(tmp_path: Path):
    for name in ("a", "b", "c"):
        ceo_run.write_run(tmp_path / "sweep" / name)
    proc = _cli(str(tmp_path / "sweep"))
    assert proc.returncode == 0, proc.stderr
    for name in ("a", "b", "c"):
        assert (tmp_path / "sweep" / name / "report.html").exists()
    assert proc.stdout.count("report of") == 3
