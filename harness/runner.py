"""config → problems → episodes (engine, sandbox) → scores → run store → summary.

All pending problems × repeats run concurrently (bounded by ``run.episode_concurrency``); the
engine's own limiter bounds requests in flight (``model.max_concurrency``), so an engine sees
many requests at once. Each finished problem is appended to the store at once, so a crash
loses at most the problems in flight, and re-running resumes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from harness.engines import build_engine
from harness.errors import HarnessError
from harness.knobs import Knobs
from harness.mas import build_mas
from harness.mas.base import Episode
from harness.problem import Problem, Score
from harness.progress import Progress
from harness.scoring.context import ScoringContext
from harness.scoring.judge import Judge
from harness.store import RunStore
from harness.summary import summarize
from tasks import get_task

log = logging.getLogger("harness")


def run(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    return asyncio.run(run_async(cfg, run_dir))


async def run_async(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    knobs = Knobs.from_cfg(cfg)
    task = get_task(cfg.benchmark)
    problems = task.load()
    if knobs.limit is not None:
        problems = problems[: knobs.limit]

    store = RunStore(run_dir)
    store.prepare(cfg, overwrite=bool(cfg.run.get("overwrite")))
    done = store.load_results()
    todo = [(p, r) for p in problems for r in range(knobs.repeats) if (p.id, r) not in done]
    label = f"{cfg.model.name}/{cfg.mas.name}/{cfg.benchmark.name}"
    log.info(
        "%s: %d problems × %d repeats, %d already done, %d to run (%s)",
        label,
        len(problems),
        knobs.repeats,
        len(problems) * knobs.repeats - len(todo),
        len(todo),
        store.dir,
    )

    engine_stats: dict[str, Any] = {}
    if todo:
        engine_stats = await _run_pending(cfg, knobs, task, problems, todo, done, store, label)
    store.close()
    computed = [(p, r) for p, r in todo if (p.id, r) in done]

    prior = store.read_summary() or {}
    wall = time.perf_counter() - t0
    keys = {(p.id, r) for p in problems for r in range(knobs.repeats)}
    rows = [row for key, row in done.items() if key in keys]
    summary = summarize(
        rows,
        cfg=cfg,
        knobs=knobs,
        session_wall_s=wall,
        prior_wall_s=float(prior.get("wall_s_total", prior.get("wall_s", 0.0)) or 0.0),
        computed=len(computed),
        engine_stats=engine_stats,
        domain=task.domain,
        session_tokens=sum(int(done[(p.id, r)]["completion_tokens"]) for p, r in computed),
    )
    store.write_summary(summary)
    if summary.get("sandbox_errors"):
        log.warning(
            "%d problems could not be graded: the sandbox failed (see score_details)",
            summary["sandbox_errors"],
        )
    return summary


async def _run_pending(cfg, knobs, task, problems, todo, done, store, label) -> dict[str, Any]:
    cache = cfg.run.response_cache_path if cfg.run.get("response_cache") else None
    engine = build_engine(cfg.model, problems, cache_path=cache, pose=task.problem_for_repeat)
    ctx = ScoringContext(cfg.scoring, sandbox_cfg=cfg.get("sandbox"))
    mas = build_mas(
        cfg.mas,
        cfg.prompts,
        agents=knobs.agents,
        tokens=knobs.tokens,
        turns=knobs.turns,
        critic_rounds=knobs.critic_rounds,
        sandbox_factory=ctx.sandbox,
    )
    judge = Judge.from_config(cfg.scoring, problems)
    await engine.start()
    if judge is not None:
        await judge.start()
    n_total = len(problems) * knobs.repeats
    ids = {p.id for p in problems}  # a lowered `limit` leaves rows outside the selection
    progress = Progress(
        n_total,
        n_total - len(todo),
        sum(bool(r.get("correct")) for (pid, _), r in done.items() if pid in ids),
        label,
        cfg.run.get("progress"),
    )
    limit = cfg.run.get("episode_concurrency") or 2 * int(cfg.model.get("max_concurrency") or 1)
    gate = asyncio.Semaphore(int(limit))
    for_repeat = getattr(task, "problem_for_repeat", None)

    failing = {"streak": 0, "skipped": 0, "stop": False}
    # An engine that fails on every call would otherwise fill the store with "wrong" answers.
    breaker = max(8, 2 * int(cfg.model.get("max_concurrency") or 1))

    async def one(problem: Problem, repeat: int) -> None:
        async with gate:
            if failing["stop"]:
                return
            if for_repeat is not None:
                problem = for_repeat(problem, repeat)
            row, transcript = await _episode(
                cfg, knobs, task, mas, engine, ctx, problem, repeat, judge
            )
            if row["engine_errors"]:
                # Not recorded: an infrastructure failure is not a wrong answer, and a rerun
                # retries the problem.
                failing["streak"] += 1
                failing["skipped"] += 1
                log.warning(
                    "%s/%d: engine error, not recorded: %s", problem.id, repeat, row["error"]
                )
                if failing["streak"] >= breaker:
                    failing["stop"] = True
                    raise HarnessError(
                        f"the engine failed on {failing['streak']} problems in a row "
                        f"(last: {row['error']}); finished problems are saved, rerun to resume"
                    )
                return
            failing["streak"] = 0
            store.append(row, transcript)
            done[(problem.id, repeat)] = row
            progress.update(row["correct"], row["completion_tokens"])

    try:
        await asyncio.gather(*(one(p, r) for p, r in todo))
    finally:
        progress.close()
        ctx.close()
        await engine.release()
        if judge is not None:
            await judge.engine.release()
    stats: dict[str, Any] = {}
    if failing["skipped"]:
        stats["not_recorded_engine_errors"] = failing["skipped"]
        log.warning(
            "%d problems hit engine errors and were not recorded: rerun to retry them",
            failing["skipped"],
        )
    if cache:
        stats["response_cache"] = {"hits": engine.hits, "misses": engine.misses}
    missing = getattr(engine, "missing", None)
    if missing:
        stats["unanswered_ids"] = sorted(missing)
    unknown = getattr(engine, "unknown_ids", None)
    if unknown:
        stats["unknown_ids"] = unknown
    return stats


async def _episode(cfg, knobs, task, mas, engine, ctx, problem, repeat, judge=None):
    t0 = time.perf_counter()
    ep = Episode(
        engine,
        problem,
        repeat,
        seed=knobs.seed,
        temperature=float(cfg.get("temperature") or 0.0),
        top_p=float(cfg.get("top_p") or 1.0),
        reasoning=cfg.get("reasoning"),
    )
    try:
        result = await mas.solve(ep)
    except HarnessError:
        raise  # bad configuration: every episode would fail the same way
    except Exception as exc:  # one broken episode is a failed problem, not a failed run
        log.exception("episode %s/%d failed", problem.id, repeat)
        result = ep.result
        result.error = f"{type(exc).__name__}: {exc}"
    try:
        score = await task.score(problem, result.response, ctx)
    except Exception as exc:
        log.exception("scoring %s/%d failed", problem.id, repeat)
        score = Score(False, None, reason=f"scoring error: {type(exc).__name__}: {exc}")
    if judge is not None:
        verdict = await judge.grade(problem, result.response)
        if verdict is not None:
            score.details["judge"] = verdict
    totals = result.totals()
    engine_errors = [c.error for c in result.calls if c.finish_reason == "error"]
    row = {
        "id": problem.id,
        "repeat": repeat,
        "correct": bool(score.correct),
        "answer": score.answer,
        "reason": score.reason,
        "error": result.error or (engine_errors[0] if engine_errors else None),
        "engine_errors": len(engine_errors),
        **{
            k: totals[k]
            for k in ("calls", "prompt_tokens", "completion_tokens", "rounds", "agents")
        },
        "tokens_by_role": totals["by_role"],
        "latency_s": round(time.perf_counter() - t0, 4),
        "score_details": score.details,
    }
    if "judge" in score.details:
        row["judge_correct"] = score.details["judge"]["correct"]
    transcript = {
        "id": problem.id,
        "repeat": repeat,
        "prompt": problem.prompt,
        "response": result.response,
        "correct": row["correct"],
        "answer": score.answer,
        **result.transcript(),
    }
    return row, transcript
