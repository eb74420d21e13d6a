"""``python -m training.export RUN_DIR… --out FILE``: correct episodes → training records.

Reads only the versioned transcript schema of ``harness.transcript`` (``read_episodes``:
each recorded result with the transcript of the attempt it names, so a problem redone after a
crash yields one episode; ``timeline``: calls in issue order). The paper's filtering: keep
episodes whose final answer was right, one per question unless ``--per-question N`` (0: all).
Only the calls the finished result used are exported: a failed call, a parse attempt that was
re-asked, a call whose output was replaced by a fallback, or a call retried for the same step
is left out.

``--format m500`` (default) writes the M500 dataset card's schema: ``question``, ``solution``
and the conversations of the recruiter, the solver, the critics and the evaluator, each built
from that role's calls in order (a call that continues the conversation so far adds only its
new messages). ``--format messages`` writes one chat record per used call (``messages`` plus
``question``, ``role``, ``round``, ``seq``…), which ``python -m training`` groups by question.
Assistant turns hold the raw generation, thinking included (``--visible-only``: without).

``--trajectory CLASS[,CLASS…]`` keeps only episodes whose graded answer trajectory
(``harness.trajectory``: every proposal and revision graded during the run) is of that class:
``rescued`` (the discussion fixed a wrong first proposal: the traces worth training on),
``right_throughout``, ``recovered``, ``talked_out``, ``wrong_throughout`` (the last two end
wrong, so they also need ``--include-wrong``). Episodes without graded answers are skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import DataError, HarnessError
from harness.roles import CRITIC, EVALUATOR, RECRUITER, SOLVER
from harness.rows import ResultRow
from harness.text import visible_text
from harness.trajectory import CLASSES, RECOVERED, RESCUED, RIGHT_THROUGHOUT, episode_trajectory
from harness.transcript import SCHEMA, read_episodes, timeline

M500_ROLES = {
    RECRUITER: "expert_recruiter_messages",
    SOLVER: "problem_solver_messages",
    CRITIC: "critic_messages",
    EVALUATOR: "evaluator_messages",
}
_FAILED = ("error", "missing")


def run_dirs(paths: list[str]) -> list[Path]:
    """Run dirs named directly, or found under sweep dirs (any folder with results.jsonl)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "results.jsonl").is_file():
            out.append(p)
        elif p.is_dir():
            found = sorted(q.parent for q in p.rglob("results.jsonl"))
            if not found:
                raise DataError(f"{p}: no results.jsonl in it or below it (not a harness run)")
            out += found
        else:
            raise DataError(f"{p}: no such run directory")
    return out


def used_calls(ep: dict[str, Any]) -> list[dict[str, Any]]:
    """The calls whose reply the finished episode used, well-formed, in issue order.

    Left out: failed calls (an engine error), calls superseded by a later call for the same
    step (a re-ask after an unparseable reply, a recovery retry), and calls whose reply could
    not be parsed (a ``fallback`` event names them): such a reply is no example of its role.
    """
    items = timeline(ep)
    unparsed = {
        e.get("call") for e in items if e["type"] == "event" and e.get("kind") == "fallback"
    }
    calls = [c for c in items if c["type"] == "call"]
    last: dict[tuple, dict[str, Any]] = {}
    for c in calls:
        key = (c.get("role"), c.get("agent"), c.get("round"), c.get("step"), c.get("iteration"))
        last[key] = c
    final = {id(c) for c in last.values()}
    return [
        c
        for c in calls
        if id(c) in final
        and not c.get("error")
        and c.get("finish_reason") not in _FAILED
        and c.get("seq") not in unparsed
        and isinstance(c.get("raw", c.get("output")), str)
    ]


def reply(call: dict[str, Any], visible_only: bool) -> str:
    if visible_only:
        out = call.get("output")
        return out if isinstance(out, str) else visible_text(call.get("raw") or "")
    raw = call.get("raw")
    return raw if isinstance(raw, str) else call.get("output") or ""


def sent_messages(call: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat the call sent. Assistant turns in it (the agent's memory, or its unparseable
    reply shown again in a re-ask) are context: weight 0, no loss on them."""
    out = []
    for m in call.get("messages") or []:
        msg = {"role": m["role"], "content": m["content"]}
        if m["role"] == "assistant":
            msg["weight"] = 0
        out.append(msg)
    return out


def conversation(calls: list[dict[str, Any]], visible_only: bool) -> list[dict[str, Any]]:
    """One role's calls as one conversation."""
    conv: list[dict[str, Any]] = []
    for c in calls:
        sent = sent_messages(c)
        if conv and _continues(conv, sent):
            new = sent[len(conv) :]
        elif conv:
            # A fresh prompt (stateless role, or another critic): its system message, when it
            # repeats the one the conversation opened with, is not repeated.
            new = sent[1:] if sent and sent[0] == conv[0] and sent[0]["role"] == "system" else sent
        else:
            new = sent
        conv += new
        conv.append({"role": "assistant", "content": reply(c, visible_only)})
    return conv


def _continues(conv: list[dict[str, str]], sent: list[dict[str, str]]) -> bool:
    if len(sent) < len(conv):
        return False
    for ours, theirs in zip(conv, sent, strict=False):
        if ours["role"] != theirs["role"]:
            return False
        same = ours["content"] == theirs["content"]
        # Other agents (and the agent itself, in memory) saw the visible text only.
        if not same and not (
            ours["role"] == "assistant"
            and visible_text(ours["content"]) == theirs["content"].strip()
        ):
            return False
    return True


def m500_record(
    ep: dict[str, Any], calls: list[dict[str, Any]], visible_only: bool
) -> dict[str, Any]:
    rec: dict[str, Any] = {"question": ep.get("prompt") or "", "solution": ep.get("response") or ""}
    for role, field in M500_ROLES.items():
        rec[field] = conversation([c for c in calls if c.get("role") == role], visible_only)
    return rec


def message_records(
    ep: dict[str, Any], calls: list[dict[str, Any]], visible_only: bool, run_dir: Path
) -> Iterator[dict[str, Any]]:
    for c in calls:
        messages = sent_messages(c)
        messages.append({"role": "assistant", "content": reply(c, visible_only)})
        yield {
            "messages": messages,
            "question": ep.get("prompt") or "",
            "id": ep.get("id"),
            "role": c.get("role"),
            "step": c.get("step"),
            "round": c.get("round"),
            "seq": c.get("seq"),
            "run": str(run_dir),
        }


def export(
    paths: list[str],
    out: Path,
    fmt: str = "m500",
    per_question: int = 1,
    visible_only: bool = False,
    include_wrong: bool = False,
    trajectory: tuple[str, ...] = (),
) -> Counter:
    if fmt not in ("m500", "messages"):
        raise DataError(f"--format {fmt} must be m500 or messages")
    unknown = [c for c in trajectory if c not in CLASSES]
    if unknown:
        raise DataError(f"--trajectory {','.join(unknown)}: not a class ({', '.join(CLASSES)})")
    ending_right = {RESCUED, RECOVERED, RIGHT_THROUGHOUT}
    if trajectory and not include_wrong and not set(trajectory) & ending_right:
        raise DataError(
            f"--trajectory {','.join(trajectory)}: these episodes end wrong; add --include-wrong"
        )
    counts: Counter = Counter()
    taken: Counter = Counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for run_dir in run_dirs(paths):
            for line, ep in read_episodes(run_dir):
                row = ResultRow.from_json(line)
                counts["episodes"] += 1
                if ep.get("schema") != SCHEMA:
                    counts["other_schema"] += 1
                    continue
                if ep.get("error") or (row.correct is not True and not include_wrong):
                    counts["not_correct"] += 1
                    continue
                if trajectory:
                    traj = episode_trajectory(ep)
                    if traj is None or traj.klass not in trajectory:
                        counts["no_trajectory" if traj is None else "other_trajectory"] += 1
                        continue
                question = ep.get("prompt") or f"{run_dir}#{ep.get('id')}"
                if per_question and taken[question] >= per_question:
                    counts["beyond_per_question"] += 1
                    continue
                calls = used_calls(ep)
                if not calls:
                    counts["no_used_calls"] += 1
                    continue
                taken[question] += 1
                counts["exported_episodes"] += 1
                if fmt == "m500":
                    records = [m500_record(ep, calls, visible_only)]
                else:
                    records = list(message_records(ep, calls, visible_only, run_dir))
                for r in records:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
                counts["records"] += len(records)
    tmp.replace(out)
    if counts["other_schema"]:
        print(
            f"warning: {counts['other_schema']} episodes are not transcript schema {SCHEMA} "
            "(written by an older harness) and were skipped",
            file=sys.stderr,
        )
    return counts


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m training.export",
        description="Turn the correct episodes of harness runs into training records.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run dirs or sweep dirs")
    p.add_argument("--out", required=True, type=Path, help="the JSONL file to write")
    p.add_argument("--format", default="m500", choices=("m500", "messages"))
    p.add_argument(
        "--per-question", type=int, default=1, help="episodes kept per question (0: all)"
    )
    p.add_argument("--visible-only", action="store_true", help="drop thinking from replies")
    p.add_argument(
        "--include-wrong",
        action="store_true",
        help="also export episodes whose answer was wrong (not the paper's filtering: for "
        "inspection and tests)",
    )
    p.add_argument(
        "--trajectory",
        default="",
        metavar="CLASS[,CLASS]",
        help="only episodes of these answer-trajectory classes: " + ", ".join(CLASSES),
    )
    a = p.parse_args(argv)
    classes = tuple(c.strip() for c in a.trajectory.split(",") if c.strip())
    try:
        counts = export(
            a.runs, a.out, a.format, a.per_question, a.visible_only, a.include_wrong, classes
        )
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(
        f"{counts['records']} records from {counts['exported_episodes']} correct episodes "
        f"({counts['episodes']} read; {counts['not_correct']} not correct, "
        f"{counts['beyond_per_question']} beyond --per-question, "
        f"{counts['no_used_calls']} without usable calls"
        + (
            f", {counts['other_trajectory']} of another trajectory, "
            f"{counts['no_trajectory']} without graded answers"
            if classes
            else ""
        )
        + f") → {a.out}"
    )


if __name__ == "__main__":
    main()
