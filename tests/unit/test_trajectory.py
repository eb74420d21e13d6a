"""Answer trajectories (harness.trajectory, harness.trajectory_stats) through the real runner:
a scripted engine plays known discussions on three MATH fixture problems, the real math scorer
grades every intermediate answer, and every count of the summary is checked exactly."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness import runner
from harness.engines.base import Completion, Engine, Request
from harness.settings import compose
from harness.trajectory import episode_trajectory
from harness.transcript import read_episodes, timeline

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "math500_mini.jsonl"
A, B, C = "test/fixture/1.json", "test/fixture/2.json", "test/fixture/3.json"  # 2, 1/2, 9 in^2


def sol(x: str) -> str:
    return f"Working it out, the answer is $\\boxed{{{x}}}$."


AGREE = "I checked every step. [Agree]"
DISAGREE = "The last step is wrong; redo it. [Disagree]"


def ev(ok: int) -> str:
    return f"### Correctness: {ok}\n### Advice: Check the arithmetic.\n### Recruiting Suggestion: -"


# Per problem and role: outputs in call order (the last one repeats).
SCRIPTS: dict[str, dict[str, list[str]]] = {
    # right → wrong at revision 2 of round 1; then round 2 stays wrong ("talked out of it")
    A: {
        "solver": [sol("2"), sol("2"), sol("3"), sol("3")],
        "critic": [DISAGREE, DISAGREE, AGREE],
        "evaluator": [ev(0), ev(0)],
    },
    # wrong → right in round 2 (a new round after the evaluator rejected)
    B: {
        "solver": [sol("1"), sol("\\frac{1}{2}")],
        "critic": [AGREE],
        "evaluator": [ev(0), ev(1)],
    },
    # the evaluator accepts a wrong answer in round 1
    C: {"solver": [sol("8")], "critic": [AGREE], "evaluator": [ev(1)]},
}


class PerProblem(Engine):
    """Answers by (problem, role) in call order; other roles get the canned answer."""

    def __init__(self, scripts: dict[str, dict[str, list[str]]]) -> None:
        super().__init__(8)
        self.scripts = scripts
        self.count: Counter[tuple[str, str]] = Counter()

    async def _generate(self, request: Request) -> Completion:
        from harness.roles import canned_response

        key = (request.problem_id, request.role)
        n = self.count[key]
        self.count[key] += 1
        outs = self.scripts.get(request.problem_id, {}).get(request.role)
        text = outs[min(n, len(outs) - 1)] if outs else canned_response(request.role, "math")
        return Completion(text=text, prompt_tokens=7, completion_tokens=3, finish_reason="stop")


def _run(tmp_path: Path, monkeypatch: Any, scripts: dict, *overrides: str) -> dict[str, Any]:
    monkeypatch.setattr(runner, "build_engine", lambda *a, **k: PerProblem(scripts))
    cfg = compose(
        [
            "model=oracle",
            "benchmark=math500",
            f"benchmark.data_files={FIXTURE}",
            "limit=3",
            "agents=2",
            "turns=2",
            "critic_rounds=2",
            "run.progress=false",
            "tracking.wandb.mode=disabled",
            *overrides,
        ]
    )
    return asyncio.run(runner.run_async(cfg, tmp_path))


def _counting(mp: pytest.MonkeyPatch) -> Counter[str]:
    """Counts every text the task's scorer is asked to grade."""
    from tasks.math500 import Math500

    seen: Counter[str] = Counter()
    real = Math500.score

    async def counting(self: Any, problem: Any, response: str, ctx: Any) -> Any:
        seen[response] += 1
        return await real(self, problem, response, ctx)

    mp.setattr(Math500, "score", counting)
    return seen


@pytest.fixture
def graded(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    return _counting(monkeypatch)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Counter[str]]:
    """The three scripted problems under mas=agentverse, run once for several tests."""
    run_dir = tmp_path_factory.mktemp("three")
    with pytest.MonkeyPatch.context() as mp:
        seen = _counting(mp)
        summary = _run(run_dir, mp, SCRIPTS, "mas=agentverse")
    return run_dir, summary, seen


def test_known_trajectories_give_exact_counts(three):
    _, s, graded = three
    assert (s["n"], s["correct"]) == (3, 1)  # the final score is the scorer's, unchanged
    assert s["trajectory_n"] == 3
    assert (s["first_proposal_accuracy"], s["final_accuracy"]) == (pytest.approx(1 / 3),) * 2
    assert s["discussion_gain"] == 0
    assert s["first_proposal_stderr"] == pytest.approx(0.333333, abs=1e-6)
    # flips, attributed
    assert (s["flips_right_to_wrong"], s["flips_wrong_to_right"]) == (1, 1)
    assert s["flips_right_to_wrong_revision"] == 1 and s["flips_wrong_to_right_new_round"] == 1
    assert s["flips_wrong_to_right_revision"] == 0 and s["flips_right_to_wrong_new_round"] == 0
    assert s["flips_by_step"] == {
        "r1.revise1": {
            "right_to_wrong": 0,
            "wrong_to_right": 0,
            "steps": 1,
            "from_right": 1,
            "from_wrong": 0,
        },
        "r1.revise2": {
            "right_to_wrong": 1,
            "wrong_to_right": 0,
            "steps": 1,
            "from_right": 1,
            "from_wrong": 0,
        },
        "r2.propose": {
            "right_to_wrong": 0,
            "wrong_to_right": 1,
            "steps": 2,
            "from_right": 0,
            "from_wrong": 2,
        },
    }
    assert s["trajectory_classes"] == {
        "right_throughout": 0,
        "recovered": 0,
        "rescued": 1,
        "talked_out": 1,
        "wrong_throughout": 1,
    }
    assert (s["rescued_rate"], s["talked_out_rate"]) == (pytest.approx(1 / 3),) * 2
    # the evaluator against the truth: A r1 ✗ reject, A r2 ✗ reject, B r1 ✗ reject,
    # B r2 ✓ accept, C r1 ✗ accept
    assert s["evaluator_n"] == 5
    assert (
        s["evaluator_accepted_right"],
        s["evaluator_accepted_wrong"],
        s["evaluator_rejected_right"],
        s["evaluator_rejected_wrong"],
    ) == (1, 1, 0, 3)
    assert s["evaluator_accepted_wrong_rate"] == 0.25 and s["evaluator_accepted_wrong_n"] == 4
    assert s["evaluator_rejected_right_rate"] == 0 and s["evaluator_rejected_right_n"] == 1
    # the critics: A r1 disagree on ✓ twice, A r2 agree on ✗, B r1 agree on ✗, B r2 agree on
    # ✓, C agree on ✗
    assert s["critic_verdicts_n"] == 6 and s["critics_abstained"] == 0
    assert (
        s["critics_agreed_right"],
        s["critics_agreed_wrong"],
        s["critics_disagreed_right"],
        s["critics_disagreed_wrong"],
    ) == (1, 3, 2, 0)
    assert s["critics_agreed_wrong_rate"] == 1.0 and s["critics_agreed_wrong_n"] == 3
    assert s["critics_disagreed_right_rate"] == pytest.approx(2 / 3)
    # the scaling curve inside the episode: every step, episodes that stopped carried along
    curve = {p["step"]: p for p in s["trajectory_curve"]}
    assert list(curve) == [
        "r1.propose",
        "r1.revise1",
        "r1.revise2",
        "r1.end",
        "r2.propose",
        "r2.end",
    ]
    assert [round(p["accuracy"] * 3) for p in s["trajectory_curve"]] == [1, 1, 0, 0, 1, 1]
    # tokens so far: every call is 7 + 3 tokens; r1.propose follows the recruiter in each
    # episode; at r2.end A spent 11 calls, B 8, C (stopped after round 1) 4
    assert curve["r1.propose"]["tokens"] == 20 and curve["r1.propose"]["completion_tokens"] == 6
    assert curve["r2.end"]["tokens"] == pytest.approx((110 + 80 + 40) / 3, abs=0.1)
    assert all(p["n"] == 3 for p in s["trajectory_curve"])
    assert s["trajectory_grading_errors"] == 0 and s["trajectory_final_mismatch"] == 0
    # identical answers of an episode are graded once, the final answer never again: A's
    # "2" (propose, revise1) once, its "3" is the final; B's "1"; C's final only
    assert graded[sol("2")] == 1 and graded[sol("3")] == 1 and graded[sol("8")] == 1
    assert graded[sol("1")] == 1 and graded[sol("\\frac{1}{2}")] == 1


def test_graded_events_in_the_transcript(three):
    eps = {row["id"]: ep for row, ep in read_episodes(three[0])}
    ev_a = [e for e in eps[A]["events"] if e["kind"] == "graded"]
    assert all(e["version"] == 1 for e in ev_a)
    answers = [(e["step"], e["round"], e["iteration"], e["status"]) for e in ev_a]
    assert answers == [
        ("propose", 1, 0, "correct"),
        ("revise", 1, 1, "correct"),
        ("revise", 1, 2, "wrong"),
        ("round_final", 1, 0, "wrong"),
        ("propose", 2, 0, "wrong"),
        ("round_final", 2, 0, "wrong"),
    ]
    calls = {c["seq"]: c for c in eps[A]["calls"]}
    for e in ev_a:
        assert calls[e["call"]]["role"] == "solver"
    seqs = [x["seq"] for x in timeline(eps[A])]
    assert len(seqs) == len(set(seqs))  # fresh seq numbers: calls and events never collide
    t = episode_trajectory(eps[A])
    assert t is not None and t.strip == "✓✓✗✗" and t.klass == "talked_out"
    assert t.flips == [
        {
            "label": "r1.revise2",
            "kind": "revision",
            "direction": "right_to_wrong",
            "seq": ev_a[2]["call"],
        }
    ]
    assert episode_trajectory(eps[B]).strip == "✗✓"
    assert episode_trajectory(eps[C]).strip == "✗"


def test_ceo_round_is_attributed_to_its_direction(tmp_path, monkeypatch, graded):
    s = _run(tmp_path, monkeypatch, {B: SCRIPTS[B]}, "mas=ceo", "limit=2")
    assert s["flips_wrong_to_right_ceo_direction"] == 1
    assert s["flips_wrong_to_right_new_round"] == 0


def test_an_unparsed_revision_keeps_the_previous_answer(tmp_path, monkeypatch, graded):
    scripts = {
        A: {
            # the revision has no \boxed{} (re-asked once, still none): the right proposal stays
            "solver": [sol("2"), "I am not sure any more.", "Still thinking."],
            "critic": [DISAGREE, AGREE],
            "evaluator": [ev(1)],
        }
    }
    s = _run(tmp_path, monkeypatch, scripts, "mas=agentverse", "limit=1")
    assert s["correct"] == 1 and s["flips_right_to_wrong"] == 0
    (row, ep), *_ = read_episodes(tmp_path)
    t = episode_trajectory(ep)
    assert [(x.status, x.adopted, x.state) for x in t.steps] == [
        ("correct", True, "correct"),
        ("no_answer", False, "correct"),
    ]
    assert t.klass == "right_throughout" and t.strip == "✓—"


def test_off_switch_then_graded_after_the_run(tmp_path, monkeypatch, graded, three):
    import json
    import subprocess
    import sys

    from tests.conftest import cli_env

    s = _run(tmp_path, monkeypatch, SCRIPTS, "mas=agentverse", "scoring.trajectory=false")
    assert "trajectory_n" not in s and s["n"] == 3
    assert sum(graded.values()) == 3  # only the final answers
    for _, ep in read_episodes(tmp_path):
        assert not [e for e in ep["events"] if e["kind"] == "graded"]
    # graded afterwards from the run's own config: the same figures as graded during the run
    proc = subprocess.run(
        [sys.executable, "-m", "harness.trajectory", str(tmp_path), "--grade"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "graded the answers of 3 episodes" in proc.stdout
    after = json.loads((tmp_path / "summary.json").read_text())
    during = three[1]
    keys = sorted(set(during) - set(s))  # every trajectory field
    assert len(keys) > 40 and "critics_agreed_wrong_rate" in keys
    assert {k: after[k] for k in keys} == {k: during[k] for k in keys}
    assert (after["n"], after["correct"]) == (3, 1)


def test_single_agent_trajectory():
    # the strip of a single-agent episode is its one answer
    ep = {
        "mas": "single",
        "correct": True,
        "calls": [
            {
                "seq": 1,
                "role": "solver",
                "step": "answer",
                "round": 1,
                "iteration": 0,
                "prompt_tokens": 5,
                "completion_tokens": 2,
            }
        ],
        "events": [
            {
                "kind": "graded",
                "version": 1,
                "seq": 2,
                "round": 1,
                "call": 1,
                "step": "answer",
                "iteration": 0,
                "status": "correct",
                "adopted": True,
            }
        ],
    }
    t = episode_trajectory(ep)
    assert t.strip == "✓" and t.klass == "right_throughout" and t.steps[0].tokens == 7


def test_export_selects_episodes_by_trajectory(three, tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import cli_env
    from training.export import export

    run_dir = three[0]
    out = tmp_path / "rescued.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "training.export", str(run_dir), "--out", str(out)]
        + ["--trajectory", "rescued"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["question"] for r in records] == ["Simplify $\\frac{2}{4}$."]  # B only
    assert "2 not correct" in proc.stdout
    counts = export(
        [str(run_dir)], tmp_path / "t.jsonl", trajectory=("talked_out",), include_wrong=True
    )
    assert counts["exported_episodes"] == 1 and counts["other_trajectory"] == 2
    bad = subprocess.run(
        [sys.executable, "-m", "training.export", str(run_dir), "--out", str(out)]
        + ["--trajectory", "talked_out"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--include-wrong" in bad.stderr


def test_report_table_and_plot(three, tmp_path):
    import subprocess
    import sys

    from tests.conftest import cli_env

    run_dir = three[0]
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.report", str(run_dir), "--out", str(out)],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    md = (out / "trajectories.md").read_text()
    # the per-point row: first proposal 1/3, final 1/3, one flip each way with its step kind
    # (gain: -1, +1, 0 over three problems: s.e. sqrt(3/2 · 2) / 3 = 57.7%)
    assert "| 33.3 ± 33.3 | 33.3 ± 33.3 | 0.0 ± 57.7 | 1 (revision 1) | 1 (new_round 1) |" in md
    assert "25.0 ± 28.6 (n=4)" in md  # the evaluator accepted 1 of 4 wrong answers
    # the per-step table of the point
    assert "| r1.revise2 | 0.0 ± 0.0 | 3 |" in md and "| r2.propose | 33.3 ± 33.3 | 3 |" in md
    assert "rescued 1, talked out 1, wrong throughout 1" in md
    png = out / "trajectory_scaling.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert (out / "trajectories.csv").read_text().count("\n") == 2


def test_code_answers_are_graded_by_the_hidden_tests_in_the_sandbox(tmp_path, monkeypatch):
    from tasks.code import CodeTask

    seen: Counter[str] = Counter()
    real = CodeTask.score

    async def counting(self: Any, problem: Any, response: str, ctx: Any) -> Any:
        seen[response] += 1
        return await real(self, problem, response, ctx)

    monkeypatch.setattr(CodeTask, "score", counting)
    wrong = "```python\ndef not_the_function():\n    return 0\n```"

    def build(model_cfg: Any, problems: list[Any], **_: Any) -> PerProblem:
        p = problems[0]
        script = {"solver": [wrong, p.reference_response], "critic": [DISAGREE, AGREE]}
        return PerProblem({p.id: {**script, "evaluator": [ev(1)]}})

    monkeypatch.setattr(runner, "build_engine", build)
    cfg = compose(
        [
            "model=oracle",
            "mas=agentverse",
            "benchmark=mbpp_sanitized",
            "limit=1",
            "agents=2",
            "turns=1",
            "critic_rounds=1",
            "run.progress=false",
            "tracking.wandb.mode=disabled",
        ]
    )
    s = asyncio.run(runner.run_async(cfg, tmp_path))
    assert (s["n"], s["correct"], s["sandbox_errors"]) == (1, 1, 0)
    assert s["trajectory_classes"]["rescued"] == 1 and s["flips_wrong_to_right_revision"] == 1
    assert s["trajectory_grading_errors"] == 0
    (_, ep), *_ = read_episodes(tmp_path)
    graded = [e for e in ep["events"] if e["kind"] == "graded"]
    assert [(e["step"], e["status"]) for e in graded] == [
        ("propose", "wrong"),
        ("revise", "correct"),
        ("round_final", "correct"),
    ]
    # the wrong draft ran the hidden tests once; the final answer was graded once, by the run
    assert list(seen.values()) == [1, 1] and seen[wrong] == 1
