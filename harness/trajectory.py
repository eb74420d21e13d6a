"""Answer trajectories: every intermediate answer of an episode, graded by the task's own scorer.

Built post hoc from the transcript (``harness.transcript``), so it follows whatever steps a
system runs and whatever extraction the scorers do. The runner calls :func:`annotate` once per
episode, after the final score (``scoring.trajectory``, on by default): each solver answer
(every proposal and revision, the single agent's answer) and each round's final solution is
graded with ``task.score`` — the same entry point as the final answer, the hidden tests in the
sandbox's grading mode for code — and recorded as a ``graded`` event. The final score is never
changed; identical answers of one episode are graded once (the final answer reuses the final
score), so a code episode runs the sandbox once per *distinct* solution.

A ``graded`` event (``version`` :data:`VERSION`)::

    {"kind": "graded", "version": 1, "seq": …, "round": 2, "call": 17, "step": "revise",
     "iteration": 1, "status": "correct", "answer": "14", "adopted": true}

``step`` is the answer's call step (propose | revise | answer) or ``round_final`` (the solution
the round ended with; ``call`` names the call that wrote it, None when there was none);
``status`` is correct | wrong | no_answer | error (the scorer could not decide: a sandbox or
scoring failure); ``adopted`` says whether the answer became the system's current solution (a
reply that did not parse is re-asked or replaced by the previous solution, so it is not).
Events get fresh ``seq`` numbers after the episode's last one; ``call`` places them.

:func:`episode_trajectory` turns one transcript into the steps of the system's answer over time
(what :mod:`harness.trajectory_stats`, the viewer and ``training.export`` read).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.problem import Score

log = logging.getLogger("harness")

VERSION = 1
EVENT = "graded"
ANSWER_STEPS = ("propose", "revise", "answer")  # solver calls whose output is an answer
ROUND_FINAL = "round_final"
CORRECT, WRONG, NO_ANSWER, ERROR = "correct", "wrong", "no_answer", "error"

#: episode classes, a partition by the system's answer over the graded steps
RIGHT_THROUGHOUT = "right_throughout"  # right at every step
RECOVERED = "recovered"  # right at first, wrong on the way, right at the end
RESCUED = "rescued"  # the first proposal not right, the final answer right
TALKED_OUT = "talked_out"  # right at some step, not right at the end ("talked out of it")
WRONG_THROUGHOUT = "wrong_throughout"  # never right
CLASSES = (RIGHT_THROUGHOUT, RECOVERED, RESCUED, TALKED_OUT, WRONG_THROUGHOUT)

#: how a step that changed the answer is attributed
FIRST = "first_proposal"
REVISION = "revision"  # critique and revision k of round r
NEW_ROUND = "new_round"  # a new round after the evaluator rejected (its advice as direction)
CEO_DIRECTION = "ceo_direction"  # a new round under the CEO's direction (mas=ceo)
KINDS = (REVISION, NEW_ROUND, CEO_DIRECTION)


def status_of(score: Score) -> str:
    """correct | wrong | no_answer | error, as the scorer decided."""
    details = score.details or {}
    if score.correct:
        return CORRECT
    if details.get("verdict") == "sandbox_error" or details.get("scoring_error"):
        return ERROR
    if str(score.reason or "").startswith(("scoring error", "sandbox error")):
        return ERROR
    return NO_ANSWER if score.answer in (None, "") else WRONG


def answer_calls(ep: dict[str, Any]) -> list[dict[str, Any]]:
    """The solver's answers in order: the last attempt of each (round, step, iteration)."""
    last: dict[tuple[Any, ...], dict[str, Any]] = {}
    for c in ep.get("calls") or []:
        if c.get("role") == "solver" and c.get("step") in ANSWER_STEPS:
            key = (c.get("round"), c.get("step"), c.get("iteration"))
            if key not in last or c["seq"] > last[key]["seq"]:
                last[key] = c
    return sorted(last.values(), key=lambda c: c["seq"])


def adopted_seqs(ep: dict[str, Any], calls: list[dict[str, Any]]) -> set[int]:
    """Seqs of the answers that became the system's solution: those that parsed, and raw text
    kept because nothing better existed (fallback ``used: raw output``)."""
    failed = {e.get("call") for e in ep.get("events") or [] if e.get("kind") == "parse_failed"}
    raw = {
        e.get("call")
        for e in ep.get("events") or []
        if e.get("kind") == "fallback" and e.get("used") == "raw output"
    }
    return {c["seq"] for c in calls if c["seq"] not in failed or c["seq"] in raw}


async def annotate(
    transcript: dict[str, Any],
    score: Callable[[str], Awaitable[Score]],
    final: Score,
) -> list[dict[str, Any]]:
    """Grade every answer of ``transcript`` with ``score`` (the task's scorer bound to its
    problem and scoring context) and append one ``graded`` event per answer and per round's
    final solution. ``final`` is the episode's own score: the final answer is not graded
    again. Returns the events added; a failure here is logged and costs only the events."""
    try:
        return await _annotate(transcript, score, final)
    except Exception:  # noqa: BLE001 - the trajectory is a by-product: never fail the episode
        log.exception("grading the answer trajectory of %s failed", transcript.get("id"))
        return []


async def _annotate(
    transcript: dict[str, Any],
    score: Callable[[str], Awaitable[Score]],
    final: Score,
) -> list[dict[str, Any]]:
    calls = answer_calls(transcript)
    if not calls:
        return []
    adopted = adopted_seqs(transcript, calls)
    grades = await _grade_distinct(calls, score, transcript.get("response"), final)
    added = _graded_events(calls, grades, adopted, _last_seq(transcript))
    transcript.setdefault("events", []).extend(added)
    return added


def _output(call: dict[str, Any]) -> str:
    return str(call.get("output") or "")


async def _grade_distinct(
    calls: list[dict[str, Any]],
    score: Callable[[str], Awaitable[Score]],
    response: Any,
    final: Score,
) -> dict[str, Score]:
    """The grade of each distinct answer text, all graded at once; the final response reuses
    the episode's own score."""
    cache: dict[str, Score] = {}
    if response is not None:
        cache[str(response)] = final

    async def grade(text: str) -> Score:
        try:
            return await score(text)
        except Exception as exc:  # noqa: BLE001 - one ungradable draft must not cost the episode
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")

    texts = list(dict.fromkeys(_output(c) for c in calls))
    todo = [t for t in texts if t not in cache]
    for text, got in zip(todo, await asyncio.gather(*(grade(t) for t in todo)), strict=True):
        cache[text] = got
    return cache


def _last_seq(transcript: dict[str, Any]) -> int:
    """The highest seq of the episode's calls and events (new events are numbered after it)."""
    return max(
        [int(x.get("seq") or 0) for x in (transcript.get("calls") or [])]
        + [int(x.get("seq") or 0) for x in (transcript.get("events") or [])]
        + [0]
    )


def _graded_events(
    calls: list[dict[str, Any]], grades: dict[str, Score], adopted: set[int], seq: int
) -> list[dict[str, Any]]:
    """One ``graded`` event per answer, and after each round's last answer the solution the
    round ended with (the latest adopted answer, which may be from an earlier round)."""
    added: list[dict[str, Any]] = []

    def add(**data: Any) -> None:
        nonlocal seq
        seq += 1
        added.append({"kind": EVENT, "version": VERSION, "seq": seq, **data})

    current: dict[str, Any] | None = None  # the latest adopted answer call
    for i, c in enumerate(calls):
        got = grades[_output(c)]
        add(
            round=c.get("round"),
            call=c["seq"],
            step=c.get("step"),
            iteration=c.get("iteration") or 0,
            status=status_of(got),
            answer=_short(got.answer),
            adopted=c["seq"] in adopted,
        )
        if c["seq"] in adopted:
            current = c
        nxt = calls[i + 1] if i + 1 < len(calls) else None
        if nxt is None or nxt.get("round") != c.get("round"):
            add(**_round_final(c.get("round"), current, grades))
    return added


def _round_final(round_: Any, current: dict[str, Any] | None, grades: dict[str, Score]) -> dict:
    status, answer = NO_ANSWER, None
    if current is not None:
        cur = grades[_output(current)]
        status, answer = status_of(cur), _short(cur.answer)
    return {
        "round": round_,
        "call": None if current is None else current["seq"],
        "step": ROUND_FINAL,
        "iteration": 0,
        "status": status,
        "answer": answer,
        "adopted": True,
    }


def _short(answer: Any, limit: int = 300) -> str | None:
    if answer is None:
        return None
    text = str(answer)
    return text if len(text) <= limit else text[:limit] + "…"


# -- reading: one episode's trajectory ---------------------------------------------------------


@dataclass
class Step:
    """One answer of the system, in order: what it was and what the system held after it."""

    label: str  # r1.propose, r1.revise2, r2.propose, r1.answer (mas=single)
    kind: str  # first_proposal | revision | new_round | ceo_direction
    round: int
    iteration: int
    seq: int
    status: str  # this answer's grade
    adopted: bool
    state: str  # the system's answer after this step: correct | wrong | no_answer | error
    tokens: int  # prompt + completion tokens of every call up to and including this one
    completion_tokens: int


@dataclass
class Trajectory:
    steps: list[Step]
    round_ends: list[dict[str, Any]]  # round, state, tokens, completion_tokens (all of the round)
    evaluations: list[dict[str, Any]]  # round, accepted, parsed, state (of what it judged)
    verdicts: list[dict[str, Any]]  # round, iteration, agent, agree, state
    first: str  # state after the first proposal
    final: bool  # the episode's own (recorded) score
    klass: str
    flips: list[dict[str, Any]] = field(default_factory=list)  # label, kind, direction, seq
    mismatch: bool = False  # the graded last state disagrees with the recorded final score

    @property
    def strip(self) -> str:
        """✓ ✗ — per graded answer (— no answer, ? ungradable), the last mark the final score."""
        marks = {CORRECT: "✓", WRONG: "✗", NO_ANSWER: "—", ERROR: "?"}
        return "".join(marks[s.status] for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["strip"] = self.strip
        return out


def _order(label: str) -> tuple[int, int]:
    """Canonical order of step labels across episodes (round, then position in the round)."""
    head, _, tail = label.partition(".")
    r = int(head[1:]) if head[1:].isdigit() else 0
    if tail.startswith("revise"):
        return r, int(tail[6:] or 0)
    if tail == "end":
        return r, 10**6
    return r, 0


def label_of(step: str, round_: int, iteration: int) -> str:
    if step == "revise":
        return f"r{round_}.revise{iteration}"
    return f"r{round_}.{step}"


def episode_trajectory(ep: dict[str, Any]) -> Trajectory | None:
    """The graded trajectory of one transcript, or None when it holds no ``graded`` events."""
    events = ep.get("events") or []
    graded = [e for e in events if e.get("kind") == EVENT and e.get("step") != ROUND_FINAL]
    if not graded:
        return None
    calls = sorted(ep.get("calls") or [], key=lambda c: c.get("seq") or 0)
    spent = _tokens_spent(calls)
    steps, flips = _steps(ep, graded, spent)
    final = bool(ep.get("correct"))
    return Trajectory(
        steps=steps,
        round_ends=_round_ends(steps, calls, spent),
        evaluations=_evaluations(events, steps),
        verdicts=_verdicts(events, steps),
        first=steps[0].state,
        final=final,
        klass=_klass(steps, final),
        flips=flips,
        mismatch=(steps[-1].state == CORRECT) != final,
    )


def _tokens_spent(calls: list[dict[str, Any]]) -> Callable[[int], tuple[int, int]]:
    """(all tokens, completion tokens) of the calls up to and including a seq."""
    cum_total: list[tuple[int, int, int]] = []
    total = completion = 0
    for c in calls:
        total += int(c.get("prompt_tokens") or 0) + int(c.get("completion_tokens") or 0)
        completion += int(c.get("completion_tokens") or 0)
        cum_total.append((int(c.get("seq") or 0), total, completion))

    def spent(upto: int) -> tuple[int, int]:
        t = cc = 0
        for s, a, b in cum_total:
            if s > upto:
                break
            t, cc = a, b
        return t, cc

    return spent


def _steps(
    ep: dict[str, Any],
    graded: list[dict[str, Any]],
    spent: Callable[[int], tuple[int, int]],
) -> tuple[list[Step], list[dict[str, Any]]]:
    """The steps in call order, each with the system's answer after it, and the steps that
    flipped that answer between right and not right."""
    ceo_rounds = {e.get("round") for e in ep.get("events") or [] if e.get("kind") == "ceo_decision"}
    steps: list[Step] = []
    state = NO_ANSWER
    flips: list[dict[str, Any]] = []
    for e in sorted(graded, key=lambda e: e.get("call") or 0):
        r, it, seq = int(e.get("round") or 0), int(e.get("iteration") or 0), int(e["call"])
        step = str(e.get("step"))
        kind = _step_kind(ep, step, r, ceo_rounds, first=not steps)
        before = state
        if e.get("adopted"):  # an answer that was not adopted leaves the system's answer
            state = str(e.get("status"))
        if steps and (before == CORRECT) != (state == CORRECT):
            direction = "right_to_wrong" if before == CORRECT else "wrong_to_right"
            flips.append(
                {"label": label_of(step, r, it), "kind": kind, "direction": direction, "seq": seq}
            )
        tokens, comp = spent(seq)
        steps.append(
            Step(
                label_of(step, r, it),
                kind,
                r,
                it,
                seq,
                str(e.get("status")),
                bool(e.get("adopted")),
                state,
                tokens,
                comp,
            )
        )
    return steps, flips


def _step_kind(ep: dict[str, Any], step: str, round_: int, ceo_rounds: set, first: bool) -> str:
    """What made the step: the first proposal, a revision, or a new round (under the CEO's
    direction when the system is mas=ceo or the CEO decided that round)."""
    if first:
        return FIRST
    if step == "revise":
        return REVISION
    return CEO_DIRECTION if (ep.get("mas") == "ceo" or round_ in ceo_rounds) else NEW_ROUND


def _state_at(steps: list[Step], seq: int | None) -> str:
    """The system's answer as of ``seq`` (after the last step at or before it)."""
    state = NO_ANSWER
    for s in steps:
        if seq is not None and s.seq > seq:
            break
        state = s.state
    return state


def _round_ends(
    steps: list[Step], calls: list[dict[str, Any]], spent: Callable[[int], tuple[int, int]]
) -> list[dict[str, Any]]:
    """The answer and the tokens spent at the end of each round (its last call of any role)."""
    round_ends = []
    for r in sorted({s.round for s in steps}):
        last = max(
            (int(c.get("seq") or 0) for c in calls if int(c.get("round") or 0) <= r), default=0
        )
        tokens, comp = spent(last)
        round_ends.append(
            {
                "round": r,
                "state": _state_at(steps, last),
                "tokens": tokens,
                "completion_tokens": comp,
            }
        )
    return round_ends


def _evaluations(events: list[dict[str, Any]], steps: list[Step]) -> list[dict[str, Any]]:
    """The evaluator's verdicts, each with the answer it judged."""
    return [
        {
            "round": e.get("round"),
            "accepted": bool(e.get("correct")),
            "parsed": e.get("parsed", True),
            "state": _state_at(steps, e.get("call")),
            "seq": e.get("call"),
        }
        for e in events
        if e.get("kind") == "evaluation"
    ]


def _verdicts(events: list[dict[str, Any]], steps: list[Step]) -> list[dict[str, Any]]:
    """The critics' agree/disagree verdicts, each with the answer it judged."""
    return [
        {
            "round": e.get("round"),
            "iteration": e.get("iteration"),
            "agent": e.get("agent"),
            "agree": e.get("agree"),
            "state": _state_at(steps, e.get("call")),
            "seq": e.get("call"),
        }
        for e in events
        if e.get("kind") == "verdict"
    ]


def _klass(steps: list[Step], final: bool) -> str:
    """The episode's class (CLASSES) from its answer over the steps and its own final score."""
    first = steps[0].state
    ever_right = any(s.state == CORRECT for s in steps) or final
    ever_wrong = any(s.state != CORRECT for s in steps)
    if final:
        if first != CORRECT:
            return RESCUED
        return RECOVERED if ever_wrong else RIGHT_THROUGHOUT
    return TALKED_OUT if ever_right else WRONG_THROUGHOUT


def flip_seq(traj: Trajectory) -> int | None:
    """The seq of the call that decided the episode: for one talked out of a right answer the
    last right→wrong flip, for a rescued one the last wrong→right, else the first flip."""
    if not traj.flips:
        return None
    order = {TALKED_OUT: ("right_to_wrong",), RESCUED: ("wrong_to_right",)}.get(traj.klass, ())
    for direction in order:
        hits = [f for f in traj.flips if f["direction"] == direction]
        if hits:
            return int(hits[-1]["seq"])
    return int(traj.flips[0]["seq"])


__all__ = [
    "CLASSES",
    "KINDS",
    "Step",
    "Trajectory",
    "annotate",
    "episode_trajectory",
    "flip_seq",
    "status_of",
]


if __name__ == "__main__":  # python -m harness.trajectory RUN_DIR… [--grade]
    from harness.trajectory_cli import main

    main()
