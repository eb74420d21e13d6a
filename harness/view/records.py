"""One recorded result and its transcript → what the page shows: a table row and an episode.

The row is small (it is parsed when the page opens); the episode carries every call and event
of the attempt in issue order (:func:`harness.transcript.timeline`) and is parsed only when the
problem is opened.
"""

from __future__ import annotations

import re
from typing import Any

from harness.rows import ResultRow
from harness.trajectory import episode_trajectory, flip_seq
from harness.transcript import timeline

WRONG, NO_ANSWER, SANDBOX, ENGINE, INTERNAL = (
    "wrong answer",
    "no answer",
    "sandbox error",
    "engine error",
    "internal error",
)
# A missing answer split by why it was not read (results.jsonl's no_answer_cause), so the
# filter shows when a number is limited by extraction rather than by the model.
NO_ANSWER_CAUSES = {
    "no_anchor": "no answer: none stated",
    "several_answers": "no answer: several stated",
    "unparseable": "no answer: unreadable",
    "empty_response": "no answer: empty reply",
}
FAILURES = (WRONG, NO_ANSWER, *NO_ANSWER_CAUSES.values(), SANDBOX, ENGINE, INTERNAL)


# How the runner records an episode that raised: "TypeError: …".
_CRASH = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def failure(row: ResultRow, ep: dict[str, Any] | None) -> str | None:
    """Why a problem was not solved, in the order a reader should look: the harness's own
    trouble (sandbox, engine, a crash of the episode) before the model's (no answer, wrong)."""
    if row.correct:
        return None
    if row.score_details.get("verdict") == "sandbox_error" or str(row.reason or "").startswith(
        "sandbox error"
    ):
        return SANDBOX
    ep = ep or {}
    kinds = {e.get("kind") for e in ep.get("events") or []}
    if "internal_error" in kinds:
        return INTERNAL
    failed_calls = (
        row.failed_calls
        or row.extra.get("engine_errors")  # the count's name in rows of older versions
        or "engine_error" in kinds
        or any(c.get("error") for c in ep.get("calls") or [])
    )
    if failed_calls and (row.no_answer or row.error):
        return ENGINE
    if _CRASH.match(str(row.error or "")):
        return INTERNAL
    if not row.no_answer:
        return WRONG
    return NO_ANSWER_CAUSES.get(str(row.no_answer_cause), NO_ANSWER)


def reference(row: ResultRow, ep: dict[str, Any] | None) -> str | None:
    """The reference answer, where the run recorded one (results or transcript)."""
    details = row.score_details
    for value in (
        row.extra.get("reference"),  # results lines of older versions carried it
        (ep or {}).get("reference"),
        details.get("reference"),
        details.get("gold"),
    ):
        if value is not None:
            return value if isinstance(value, str) else str(value)
    return None


def _budget(tokens: Any) -> str:
    if isinstance(tokens, int) and tokens and tokens % 1024 == 0:
        return f"{tokens // 1024}k"
    return str(tokens)


def ceo_decisions(row: ResultRow, ep: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The CEO's plan of each round (after validation), from the result or the transcript."""
    if row.ceo_decisions:
        return list(row.ceo_decisions)
    return [e for e in (ep or {}).get("events") or [] if e.get("kind") == "ceo_decision"]


def ceo_summary(decisions: list[dict[str, Any]]) -> str:
    """``2×4k → 3×8k → stop``; ``*`` marks a plan that was a fallback or was adjusted."""
    parts = []
    for d in decisions:
        mark = "" if d.get("parsed", True) and not d.get("adjustments") else "*"
        if d.get("stop"):
            parts.append("stop" + mark)
        else:
            parts.append(f"{d.get('agents', '?')}×{_budget(d.get('budget'))}{mark}")
    return " → ".join(parts)


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value: Any) -> int | float | None:
    """Rounds/agents as one number: a list (agents per round) shows its largest entry."""
    if isinstance(value, list):
        nums = [v for v in value if _number(v) is not None]
        return max(nums) if nums else None
    return _number(value)


def table_row(n: int, row: ResultRow, ep: dict[str, Any] | None) -> dict[str, Any]:
    """The page's row of one result (the page's own keys, read by its script)."""
    prompt_tokens = _number(row.prompt_tokens) or 0
    completion_tokens = _number(row.completion_tokens) or 0
    return {
        "n": n,
        "id": str(row.id),
        "repeat": int(row.repeat or 0),
        "correct": bool(row.correct),
        "answer": row.answer,
        "reference": reference(row, ep),
        "rounds": _count(row.rounds),
        "agents": _count(row.agents),
        "calls": _number(row.calls),
        "tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
        "wall": _number(row.latency_s),
        "ceo": ceo_summary(ceo_decisions(row, ep)),
        "failure": failure(row, ep),
        "reason": row.reason or row.error,
        **_trajectory(ep),
    }


def _trajectory(ep: dict[str, Any] | None) -> dict[str, Any]:
    """The graded answer trajectory (harness.trajectory): the strip (✓ ✗ — per graded answer),
    its class and the seq of the call that decided it (flipped it right→wrong or back)."""
    t = episode_trajectory(ep) if ep else None
    if t is None:
        return {}
    return {"trajectory": t.strip, "trajectory_class": t.klass, "flip": flip_seq(t)}


def _raw_adds_nothing(call: dict[str, Any]) -> bool:
    """True when ``raw`` is just (prefix +) thinking + output: showing it would repeat them."""
    raw = call.get("raw")
    if not isinstance(raw, str):
        return True
    rest = raw
    for part in (call.get("prefix"), call.get("thinking"), call.get("output")):
        if isinstance(part, str) and part:
            rest = rest.replace(part, "", 1)
    return not rest.replace("<think>", "").replace("</think>", "").strip()


def _item(item: dict[str, Any]) -> dict[str, Any]:
    if item["type"] == "call" and "raw" in item and _raw_adds_nothing(item):
        item = {k: v for k, v in item.items() if k != "raw"}
        item["raw_is_thinking_and_output"] = True
    return item


def episode_body(row: ResultRow, ep: dict[str, Any] | None) -> dict[str, Any]:
    """Everything of one attempt the page can show when the problem is opened."""
    ep = ep or {}
    return {
        "id": row.id,
        "repeat": row.repeat,
        "attempt": ep.get("attempt"),
        "schema": ep.get("schema"),
        "mas": ep.get("mas"),
        "started_at": ep.get("started_at"),
        "prompt": ep.get("prompt"),
        "response": ep.get("response"),
        "answer": row.answer,
        "reference": reference(row, ep),
        "correct": bool(row.correct),
        "reason": row.reason,
        "error": row.error or ep.get("error"),
        "judge": row.score_details.get("judge"),
        "missing": not ep,
        **_trajectory(ep),
        "items": [_item(x) for x in timeline(ep)] if ep else [],
    }
