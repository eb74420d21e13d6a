"""A harness run written by hand from the transcript schema (``harness/transcript.py``), for
the export tests: episodes with a re-asked critic, a failed call retried, a fallback, a stale
attempt left by a crash, a wrong episode and a question answered right twice."""

from __future__ import annotations

import json
from pathlib import Path

from harness.transcript import SCHEMA

SYSTEM_SOLVER = "You are a mathematician."
TASK = "What is 6 times 7? Put the answer in \\boxed{}."


def call(
    seq,
    role,
    step,
    *,
    rnd=1,
    agent=0,
    iteration=0,
    attempt=0,
    messages,
    raw,
    error=None,
    finish="stop",
    expert=None,
):
    from harness.text import split_thinking

    thinking, output = split_thinking(raw)
    return {
        "seq": seq,
        "role": role,
        "agent": agent,
        "expert": expert,
        "round": rnd,
        "step": step,
        "iteration": iteration,
        "attempt": attempt,
        "messages": messages,
        "prefix": "",
        "raw": raw,
        "output": output,
        "thinking": thinking,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "reasoning_tokens": None,
        "finish_reason": "error" if error else finish,
        "max_tokens": 256,
        "max_tokens_sent": 256,
        "temperature": 0.0,
        "top_p": 1.0,
        "seed": seq,
        "latency_s": 0.1,
        "start_s": seq * 0.1,
        "end_s": seq * 0.1 + 0.1,
        "engine_retries": 0,
        "error": error,
    }


def event(seq, kind, call_seq=None, rnd=1, **fields):
    return {"seq": seq, "kind": kind, "round": rnd, "call": call_seq, **fields}


def good_episode(attempt: str, answer: str = "42", prompt: str = TASK) -> dict:
    user = {"role": "user", "content": prompt}
    sys_s = {"role": "system", "content": SYSTEM_SOLVER}
    proposal = f"<think>6*7 = 42</think>The product is \\boxed{{{answer}}}."
    review_msgs = [
        {"role": "system", "content": "You are a critic."},
        user,
        {"role": "user", "content": f"Solution: The product is \\boxed{{{answer}}}."},
    ]
    calls = [
        call(
            0,
            "recruiter",
            "recruit",
            messages=[{"role": "system", "content": "Recruit."}, user],
            raw="garbage",
        ),  # replaced by a fallback (event seq 1)
        call(2, "solver", "propose", messages=[sys_s, user], raw=proposal),
        call(
            3, "critic", "review", agent=1, iteration=1, messages=review_msgs, raw="Looks fine."
        ),  # unparseable: re-asked below
        call(
            4,
            "critic",
            "review",
            agent=1,
            iteration=1,
            attempt=1,
            # The re-ask shows the unparseable reply again, as the harness does.
            messages=[
                *review_msgs,
                {"role": "assistant", "content": "Looks fine."},
                {"role": "user", "content": "End with [Agree] or [Disagree]."},
            ],
            raw="<think>check</think>Correct. [Agree]",
        ),
        call(
            5,
            "critic",
            "review",
            agent=2,
            iteration=1,
            messages=review_msgs,
            raw="I doubt the sign. [Disagree]",
        ),
        # The solver keeps its conversation: its earlier reply comes back as visible text.
        call(
            7,
            "solver",
            "revise",
            iteration=1,
            messages=[
                sys_s,
                user,
                {"role": "assistant", "content": f"The product is \\boxed{{{answer}}}."},
                {"role": "user", "content": "[critic 2]: I doubt the sign."},
            ],
            raw=f"<think>still 42</think>The sign is positive: \\boxed{{{answer}}}.",
        ),
        call(
            8,
            "evaluator",
            "evaluate",
            messages=[{"role": "system", "content": "Evaluate."}, user],
            raw="",
            error="connection reset",
        ),  # failed, retried
        call(
            9,
            "evaluator",
            "evaluate",
            messages=[{"role": "system", "content": "Evaluate."}, user],
            raw="### Correctness: 1\n### Advice: none\n### Recruiting Suggestion: same",
        ),
    ]
    events = [
        event(1, "fallback", 0, role="recruiter", reason="no experts parsed", used="canned"),
        event(6, "review", None, iteration=1, agree=1, disagree=1, abstain=0),
        event(10, "evaluation", 9, correct=True, advice="none", recruiting="same", parsed=True),
    ]
    return {
        "schema": SCHEMA,
        "id": "p1",
        "repeat": 0,
        "attempt": attempt,
        "mas": "agentverse",
        "started_at": "2026-11-29T12:00:00+00:00",
        "prompt": prompt,
        "response": f"The sign is positive: \\boxed{{{answer}}}.",
        "correct": True,
        "answer": answer,
        "rounds": 1,
        "agents": [3],
        "error": None,
        "calls": calls,
        "events": events,
    }


def write_run(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    stale = good_episode("a-stale", answer="41")  # crash before its result line: no result names it
    p1 = good_episode("a-p1")
    wrong = dict(good_episode("a-p2", prompt="What is 2+2?"), id="p2", correct=False)
    twice = [
        dict(good_episode(f"a-p3-{r}", prompt="What is 5*5?"), id="p3", repeat=r) for r in (0, 1)
    ]
    episodes = [stale, p1, wrong, *twice]
    results = [
        {"id": "p1", "repeat": 0, "attempt": "a-p1", "correct": True, "answer": "42"},
        {"id": "p2", "repeat": 0, "attempt": "a-p2", "correct": False, "answer": "42"},
        {"id": "p3", "repeat": 0, "attempt": "a-p3-0", "correct": True, "answer": "42"},
        {"id": "p3", "repeat": 1, "attempt": "a-p3-1", "correct": True, "answer": "42"},
    ]
    (run_dir / "transcripts.jsonl").write_text("".join(json.dumps(e) + "\n" for e in episodes))
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    return run_dir
