"""The transcript schema (version 1): what one episode did, call by call, step by step.

The viewer (``harness.view``) and the trace export (``training.export``) read this and nothing
else, so every field here is a contract; a change of meaning bumps ``SCHEMA``.

``transcripts.jsonl`` holds one line per *episode attempt*::

    {"schema": "harness.transcript/1", "id": …, "repeat": 0, "attempt": "3f9c…",
     "mas": "ceo", "started_at": "2026-11-29T12:00:00+00:00", "prompt": …, "reference": …,
     "response": …, "correct": true, "answer": "14", "rounds": 2, "agents": [3, 2], "error": null,
     "calls": [Call, …], "events": [Event, …]}

``reference`` is the reference as a reader is shown it (the answer; a code task's hidden
tests), added within version 1: older lines lack it. ``attempt`` is a fresh id per try of one (id, repeat). The matching line of ``results.jsonl``
carries the same ``attempt``: a crash between the transcript line and the result line leaves a
transcript whose attempt no result names, and :func:`read_episodes` skips it, so after a resume
each result has exactly one episode.

Calls and events share one counter, ``seq`` (issue order within the attempt), so the episode's
order is rebuilt by sorting on it; ``start_s``/``end_s`` (seconds since the episode began) show
what overlapped (critics run in parallel). Each event names the call it came from (``call`` is
that call's ``seq``; null for decisions made without a model call, e.g. a fallback).

A call (one request to the engine, after engine-level retries):

=================  ==========================================================================
seq                order within the attempt, shared with events
role               ceo | recruiter | solver | critic | executor | evaluator (harness.roles)
agent              which instance of the role: 0 for the solver and single roles, k ≥ 1 for
                   critic k of the round (the expert list's position)
expert             the expert persona the agent plays (None for roles without one)
round              1-based outer round (iteration); 0 for calls outside rounds
step               decide | recruit | propose | review | revise | write_tests | evaluate |
                   answer (mas=single)
iteration          review→revise iteration (1-based) for review/revise, else 0
attempt            parse retry: 0 first try, 1… re-asks after an unparseable reply
messages           the chat sent (list of {role, content})
prefix             text the model was made to continue (forced ``<think>``, budget forcing)
raw                everything generated, exactly, including thinking (prefix + text)
output             the visible text (thinking removed): what other agents saw
thinking           the thinking text (``<think>`` or an API's reasoning field), or None
prompt_tokens, completion_tokens, reasoning_tokens (None when the engine does not say)
finish_reason      stop | length | error | missing
max_tokens         the limit asked for; ``max_tokens_sent`` what reached the engine (a
                   clamp to the context left is recorded in ``clamp``)
temperature, top_p, seed   the sampling of this call
latency_s, start_s, end_s
engine_retries     transient engine errors retried inside this call (by the engine and, with
                   backoff, by the episode)
error              engine error text (None when the call succeeded)
cost_usd           the call's price (priced API models), else None
=================  ==========================================================================

A budget-forced call (a reasoning model near its limit while thinking, ``reasoning.budget_forcing``)
holds both of its requests: ``raw`` is the cut-off text, the inserted ``</think>`` and the forced
answer; its ``budget_forced`` event says where the insert is (``at``, ``inserted``).

Event kinds (``kind``; every event also has ``seq``, ``round``, ``call``):

- ``ceo_decision``: said {stop, recruit, max_tokens, direction}, the plan after validation
  (stop, agents, budget, direction), ``parsed``, ``adjustments`` (each clamp or fallback)
- ``experts``: solver, critics (the recruited personas)
- ``verdict``: one critic's review: agent, expert, iteration, agree (bool | None for an
  abstention), text (the objection passed on; "" when agreeing)
- ``review``: the iteration's tally: iteration, agree, disagree, abstain
- ``consensus``: iteration at which every critic agreed
- ``tests``: the executor's tests for the problem (written once): code, call
- ``execution``: program, verdict, passed, output (the report the evaluator read: verdict and
  stdout/stderr tails), tests_from (seq of the call that wrote the tests); ``call`` is the call
  that wrote the solution run
- ``executor_skipped``: reason (no code block, no sandbox, mas.execute_code false);
  ``sandbox_error``: error
- ``evaluation``: correct, advice, recruiting, parsed
- ``memory``: what was broadcast into agents' memory: to (the memories' owners: "solver",
  "critic 1", …), sender (the tag the receivers see), text
- ``fallback``: role, agent, reason, used; ``parse_failed``: role, agent, attempt, reason
- ``stop``: by (ceo | evaluator); ``stop_ignored``: by, reason
- ``budget_forced`` (ok, at, inserted, extra_tokens), ``think_recovery`` (role, agent, action,
  max_tokens, temperature of the re-ask): a reasoning model's cut-off thinking and what was done
- ``engine_error``: a call error the episode went on after (reason, fatal: bool)
- ``internal_error``: error, traceback
- ``graded`` (``version`` 1, added after the episode by ``harness.trajectory``): one
  intermediate answer graded by the task's scorer: step (propose | revise | answer |
  round_final), iteration, status (correct | wrong | no_answer | error), answer, adopted
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = "harness.transcript/1"

STEPS = ("decide", "recruit", "propose", "review", "revise", "write_tests", "evaluate", "answer")


def iter_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file of the run store, one line at a time; a missing file is
    empty, and a line that is not a complete object (the torn last line of a crash) is skipped."""
    path = Path(path)
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                yield row


def results_by_key(run_dir: str | Path) -> dict[tuple[str, int], dict[str, Any]]:
    """The recorded result of each (id, repeat): the first complete line, as resume counts it."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for row in iter_records(Path(run_dir) / "results.jsonl"):
        if "id" in row:
            out.setdefault((str(row["id"]), int(row.get("repeat", 0))), row)
    return out


def read_episodes(run_dir: str | Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(result row, transcript) for every recorded result, in transcript order.

    Only the transcript of the attempt the result names is yielded: older attempts of the same
    problem (left by a crash before their result line) are skipped. Streams the transcript
    file, so a run with thousands of calls is never held in memory at once.
    """
    results = results_by_key(run_dir)
    for ep in iter_records(Path(run_dir) / "transcripts.jsonl"):
        row = results.get((str(ep.get("id")), int(ep.get("repeat", 0))))
        if row is not None and row.get("attempt") == ep.get("attempt"):
            yield row, ep


def timeline(ep: dict[str, Any]) -> list[dict[str, Any]]:
    """Calls and events of one episode in issue order, each tagged ``type`` call|event."""
    items = [{"type": "call", **c} for c in ep.get("calls", [])]
    items += [{"type": "event", **e} for e in ep.get("events", [])]
    return sorted(items, key=lambda x: (x.get("seq", 0), x["type"] == "event"))
