"""The typed records (harness.rows): the JSON they write is the JSON the runner always wrote
(DESIGN.md section 4), and rows and summaries of older versions read back without loss."""

from __future__ import annotations

import json

from harness.knobs import Knobs
from harness.rows import SUMMARY_FIELDS, UNSET, ResultRow, Summary
from harness.summary import summarize
from harness.tracking.wandb_tracker import SUMMARY_PLOTTED, TRAJECTORY_PLOTTED

# A results line as the runner writes it (a judged mas=ceo episode), key order included.
ROW = {
    "id": "test/algebra/1.json",
    "repeat": 0,
    "attempt": "8acada99f7eb42bd",
    "correct": False,
    "answer": None,
    "no_answer_cause": "no_anchor",
    "reason": "no boxed answer",
    "error": None,
    "failed_calls": 0,
    "calls": 60,
    "prompt_tokens": 58191,
    "completion_tokens": 1896,
    "rounds": 3,
    "agents": 3,
    "reasoning_tokens": 0,
    "engine_retries": 0,
    "cost_usd": None,
    "tokens_by_role": {"ceo": {"calls": 6, "prompt_tokens": 8555, "completion_tokens": 192}},
    "ceo_decisions": [{"round": 1, "stop": False, "agents": 3, "budget": 32, "parsed": False}],
    "latency_s": 34.1903,
    "score_details": {"extraction": "none", "no_answer": "no_anchor", "judge": {"correct": None}},
    "judge_correct": None,
}


def test_a_row_reads_and_writes_back_byte_for_byte() -> None:
    row = ResultRow.from_json(ROW)
    assert json.dumps(row.to_json()) == json.dumps(ROW)
    assert row.judged and row.judge_correct is None and row.no_answer and row.key[1] == 0
    unjudged = {k: v for k, v in ROW.items() if k != "judge_correct"}
    back = ResultRow.from_json(unjudged)
    assert back.judge_correct is UNSET and not back.judged
    assert "judge_correct" not in back.to_json()  # absent stays absent, null stays null


def test_a_row_of_an_older_version_keeps_what_this_version_does_not_know() -> None:
    legacy = {
        "id": "p1",
        "correct": True,
        "answer": "14",
        "engine_errors": 1,
        "reference": "14",
        "score_details": None,
        "text_escaped": 2,
    }
    row = ResultRow.from_json(legacy)
    assert (row.repeat, row.attempt, row.no_answer_cause, row.failed_calls) == (0, None, None, 0)
    assert row.score_details == {} and row.tokens_by_role == {}
    assert row.extra == {"engine_errors": 1, "reference": "14", "text_escaped": 2}
    out = row.to_json()
    assert list(out)[-3:] == ["engine_errors", "reference", "text_escaped"]
    assert {k: out[k] for k in legacy if k != "score_details"} == {
        k: v for k, v in legacy.items() if k != "score_details"
    }


def _rows() -> list[ResultRow]:
    """Three code problems × three repeats: pass@k, with costs and one judged row."""
    rows = []
    for i in range(3):
        for r in range(3):
            rows.append(
                ResultRow.from_json(
                    ROW
                    | {
                        "id": f"p{i}",
                        "repeat": r,
                        "correct": (i + r) % 2 == 0,
                        "answer": "x",
                        "cost_usd": 0.01,
                        "score_details": {},
                    }
                )
            )
    rows[0].judge_correct = True
    rows[0].score_details = {"judge": {"correct": True}}
    return rows


def test_summary_keys_come_in_the_order_summary_json_always_had() -> None:
    knobs = Knobs(
        agents=3,
        tokens=32,
        turns=3,
        critic_rounds=2,
        limit=3,
        repeats=3,
        seed=0,
        temperature=0.0,
        top_p=1.0,
    )
    summary = summarize(
        _rows(),
        cfg={"benchmark": {"name": "mbpp"}, "model": {"name": "tiny"}, "mas": {"name": "ceo"}},
        knobs=knobs,
        ident={"run_id": "r", "config_hash": "h", "data_digest": "d", "prompts_digest": "p"},
        n_expected=9,
        sessions=[{"started_at": "t0", "ended_at": "t1", "wall_s": 2.0, "computed": 9}],
        engine_stats={"per_call_seeds": True, "served_model": "m", "not_recorded_engine_errors": 0},
        domain="code",
        trajectory={"trajectory_n": 9, "final_accuracy": 0.5},
    )
    data = summary.to_json()
    keys = list(data)
    # identity, then the scores stats.summarize computes, in its order
    assert keys[:20] == [
        "benchmark",
        "model",
        "mas",
        "agents",
        "tokens",
        "turns",
        "critic_rounds",
        "repeats",
        "seed",
        "temperature",
        "limit",
        "run_id",
        "config_hash",
        "data_digest",
        "prompts_digest",
        "n",
        "n_problems",
        "accuracy",
        "stderr",
        "pass@1",
    ]
    assert keys[keys.index("versions") + 1 :] == [
        "judge_n",
        "judge_unparsed",
        "judge_accuracy",
        "judge_agreement",
        "trajectory_n",
        "final_accuracy",
        "per_call_seeds",
        "served_model",
        "not_recorded_engine_errors",
    ]
    assert data["repeats"] == 3 and data["cost_usd"] == 0.09 and data["judge_accuracy"] == 1.0
    # read back: every key lands where it was built, so the file is written back unchanged
    back = Summary.from_json(json.loads(json.dumps(data)))
    assert back.to_json() == data and list(back.to_json()) == keys
    assert back.pass_at_k == summary.pass_at_k and back.trajectory == summary.trajectory
    assert back.engine == {"per_call_seeds": True} and back.extra == {}


def test_a_summary_of_an_older_version_reads() -> None:
    old = {"n": 4, "accuracy": 0.5, "error": None, "wall_s_total": 12.0, "retired_field": 1}
    s = Summary.from_json(old)
    assert s.finished and s.complete is None and s.sessions == [] and s.wall_s_total == 12.0
    assert s.extra == {"retired_field": 1} and s.to_json()["retired_field"] == 1
    assert not Summary.from_json(old | {"not_recorded_engine_errors": 2}).finished
    assert not Summary.from_json({"n": 4, "complete": False}).finished


def test_the_keys_the_wandb_view_plots_are_summary_fields() -> None:
    assert set(SUMMARY_PLOTTED) <= SUMMARY_FIELDS
    assert all(Summary._group(k) == "trajectory" for k in TRAJECTORY_PLOTTED)
