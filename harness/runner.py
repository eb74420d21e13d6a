"""config → problems → episodes (engine, sandbox) → scores → run store → summary → tracker.

All pending problems × repeats run concurrently (bounded by ``run.episode_concurrency``); the
engine's own limiter bounds requests in flight (``model.max_concurrency``), so an engine sees
many requests at once. Each finished problem is appended to the store at once, so a crash
loses at most the problems in flight, and re-running resumes.

What is recorded: every episode that ran to its end, including those that met call errors and
went on (a retried call, a rejected request and its fallback). What is not: an episode the
engine could not serve (``EngineUnavailable``: the engine is down) — a rerun retries it. A
``FatalEngineError`` (a bad API key) stops the run at once. Whenever a run stops, the episodes
in flight are cancelled and awaited before the sandbox and the pools close, and summary.json
says how far it got (``complete``, ``error``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from harness.engines import build_engine
from harness.engines.base import EngineDead, EngineUnavailable, FatalEngineError
from harness.errors import HarnessError
from harness.identity import config_hash, digest, resolved_without_identity, run_id
from harness.mas import build_mas
from harness.mas.base import Episode
from harness.problem import Problem, Score
from harness.progress import Progress
from harness.provenance import git_info, now_iso, versions
from harness.run_settings import RunSettings
from harness.runlog import run_log
from harness.scoring.context import ScoringContext
from harness.scoring.judge import Judge
from harness.store import RunStore
from harness.summary import summarize
from harness.tracking import Tracker, build_tracker
from harness.trajectory import annotate
from harness.trajectory_stats import run_stats
from harness.transcript import SCHEMA

log = logging.getLogger("harness")


class EngineDown(HarnessError):
    """The engine is down (it died, or failed on many problems in a row): finished problems
    are saved and a rerun resumes; the CLI exits with status 3."""

    exit_code = 3


def run(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """One run on a fresh event loop (scripts and tests; the CLI keeps one loop per process)."""
    return asyncio.run(run_async(cfg, run_dir))


@dataclass
class Session:
    """This invocation's share of a run (a run may take several: crash, resume, extend)."""

    started_at: str = field(default_factory=now_iso)
    t0: float = field(default_factory=time.perf_counter)
    startup_s: float | None = None  # process start → first episode (imports, data, engine)
    engine_start_s: float | None = None
    generation_s: float | None = None
    computed: int = 0
    completion_tokens: int = 0
    not_recorded: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    def record(self, wall_s: float, outcome: str) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "ended_at": now_iso(),
            "wall_s": round(wall_s, 3),
            "startup_s": _round(self.startup_s),
            "engine_start_s": _round(self.engine_start_s),
            "generation_s": _round(self.generation_s),
            "computed": self.computed,
            "completion_tokens": self.completion_tokens,
            "not_recorded": self.not_recorded,
            "outcome": outcome,
        }


async def run_async(
    cfg: DictConfig, run_dir: str | Path, process_started: float | None = None
) -> dict[str, Any]:
    """Run (or resume) one configuration into ``run_dir``; returns its summary.

    ``process_started``: the ``time.time()`` at which the process started, so the summary can
    tell start-up cost (imports, config, data, model loading) apart from generation."""
    with run_log(run_dir) as run_file:
        session = Session()
        try:
            return await _run(cfg, Path(run_dir), session, process_started)
        except HarnessError as exc:
            run_file.file_only(log, logging.ERROR, str(exc))
            _record_early_failure(cfg, Path(run_dir), session, exc)
            raise


def _record_early_failure(cfg: DictConfig, run_dir: Path, session: Session, exc: Exception) -> None:
    """A point that failed before its run store existed (a missing data file, a bad knob) still
    leaves a summary.json saying why, so a sweep's report shows it as failed, not absent. A
    directory that holds another run's results is left alone."""
    store = RunStore(run_dir)
    if store.summary_path.exists() or store.results_path.exists():
        return
    summary: dict[str, Any] = {}
    for key in ("agents", "tokens", "turns", "critic_rounds", "repeats", "seed", "limit"):
        try:
            summary[key] = cfg.get(key)
        except Exception:  # noqa: BLE001 - a bad interpolation is part of what failed
            summary[key] = None
    for group in ("benchmark", "model", "mas"):
        try:
            summary[group] = str(cfg[group]["name"])
        except Exception:  # noqa: BLE001
            summary[group] = None
    summary.update(
        {
            "n": 0,
            "n_expected": None,
            "accuracy": None,
            "stderr": None,
            "complete": False,
            "error": str(exc),
            "sessions": [session.record(time.perf_counter() - session.t0, "failed")],
            "git": git_info(),
            "versions": versions(),
        }
    )
    store.write_summary(summary)


async def _run(
    cfg: DictConfig, run_dir: Path, session: Session, process_started: float | None
) -> dict[str, Any]:
    settings = RunSettings.from_cfg(cfg)  # everything validated before any loading
    knobs, opts, task = settings.knobs, settings.run, settings.task
    plain = resolved_without_identity(cfg)
    loaded = task.load()
    # The data actually loaded, before `limit` (raising it must not look like other data).
    ident = {
        "run_id": run_id(plain),
        "config_hash": config_hash(plain),
        "data_digest": digest([[p.id, p.prompt, p.reference] for p in loaded]),
        "prompts_digest": digest(plain.get("prompts")),
        "schema": SCHEMA,
    }
    problems = loaded if knobs.limit is None else loaded[: knobs.limit]
    store = RunStore(run_dir)
    store.prepare(plain, ident, overwrite=opts.overwrite)
    done = store.load_results()
    keys = [(p.id, r) for p in problems for r in range(knobs.repeats)]
    todo = [(p, r) for p in problems for r in range(knobs.repeats) if (p.id, r) not in done]
    label = f"{settings.model.name}/{settings.mas.name}/{task.name}"
    log.info(
        "%s: %d problems × %d repeats, %d already done, %d to run (%s)",
        label,
        len(problems),
        knobs.repeats,
        len(keys) - len(todo),
        len(todo),
        store.dir,
    )
    tracker = build_tracker(settings.tracking)
    tracker.start(
        store.dir,
        plain,
        {
            **ident,
            "n_expected": len(keys),
            "done": len(keys) - len(todo),
            "references": {p.id: p.shown_reference() for p in problems},
            "git": git_info(),
            "versions": versions(),
        },
    )
    prior = store.read_summary() or {}
    error: str | None = None
    outcome = "finished"
    try:
        if todo:
            await _run_pending(
                settings, problems, todo, done, store, label, tracker, session, process_started
            )
    except (asyncio.CancelledError, KeyboardInterrupt):
        outcome, error = "interrupted", "interrupted"
        raise
    except HarnessError as exc:
        outcome, error = "failed", str(exc)
        raise
    except BaseException as exc:
        outcome, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        store.close()
        wanted = set(keys)
        rows = [row for key, row in done.items() if key in wanted]
        sessions = [
            *_prior_sessions(prior),
            session.record(time.perf_counter() - session.t0, outcome),
        ]
        if session.not_recorded and error is None:
            error = f"{session.not_recorded} problems hit engine errors and were not recorded"
        if prior.get("served_model") and "served_model" not in session.stats:
            session.stats["served_model"] = prior["served_model"]  # a resume with nothing to do
        summary = summarize(
            rows,
            cfg=plain,
            knobs=knobs,
            ident=ident,
            n_expected=len(keys),
            sessions=sessions,
            engine_stats={**session.stats, "not_recorded_engine_errors": session.not_recorded},
            domain=task.domain,
            error=error,
            trajectory=run_stats(store.dir, wanted),
        )
        store.write_summary(summary)
        # W&B's finish takes seconds (uploads, artifacts): off the loop, which other
        # sweep points may be sharing.
        await asyncio.to_thread(tracker.finish, summary)
        if outcome == "interrupted":
            log.warning(
                "interrupted: %d of %d problems are saved in %s; run the same command again "
                "to resume",
                len(rows),
                len(keys),
                store.dir,
            )
    if summary.get("sandbox_errors"):
        log.warning(
            "%d problems could not be graded: the sandbox failed (see score_details)",
            summary["sandbox_errors"],
        )
    if summary.get("scoring_errors"):
        log.warning(
            "%d answers could not be checked: the scoring pool failed or timed out (see "
            "score_details)",
            summary["scoring_errors"],
        )
    return summary


async def _run_pending(
    settings: RunSettings,
    problems: list[Problem],
    todo: list[tuple[Problem, int]],
    done: dict[tuple[str, int], dict[str, Any]],
    store: RunStore,
    label: str,
    tracker: Tracker,
    session: Session,
    process_started: float | None,
) -> None:
    knobs, opts, task = settings.knobs, settings.run, settings.task
    cache = opts.response_cache_path if opts.response_cache else None
    engine = build_engine(settings.model, problems, cache_path=cache, pose=task.problem_for_repeat)
    ctx = ScoringContext(settings.scoring, sandbox_cfg=settings.sandbox)
    if task.domain == "code":
        # Whether code can run here (bubblewrap needs unprivileged user namespaces, which many
        # compute nodes disable) is known now, in one line, not after the model has loaded.
        await asyncio.to_thread(lambda: ctx.sandbox().mechanism)
    mas = build_mas(
        settings.mas,
        settings.prompts,
        agents=knobs.agents,
        tokens=knobs.tokens,
        turns=knobs.turns,
        critic_rounds=knobs.critic_rounds,
        sandbox_factory=ctx.sandbox,
    )
    judge = Judge.from_config(settings.scoring, problems)
    max_conc = settings.model.max_concurrency
    # An engine that fails on every call would otherwise fill the store with "wrong" answers.
    breaker = opts.max_failed_problems or max(8, 2 * max_conc)
    failing = {"streak": 0}
    try:
        t = time.perf_counter()
        await engine.start()
        session.engine_start_s = time.perf_counter() - t
        _record_seeds(engine, store, session)
        getattr(engine, "inner", engine).on_wait = tracker.waiting  # retries shown in W&B too
        if judge is not None:
            await judge.start()
        n_total = len(problems) * knobs.repeats
        ids = {p.id for p in problems}  # a lowered `limit` leaves rows outside the selection
        progress = Progress(
            n_total,
            n_total - len(todo),
            sum(bool(r.get("correct")) for (pid, _), r in done.items() if pid in ids),
            label,
            opts.progress,
            on_update=tracker.progress,
        )
        gate = asyncio.Semaphore(int(opts.episode_concurrency or 2 * max_conc))
        t_gen = time.perf_counter()
        if process_started is not None:
            session.startup_s = time.time() - process_started
        else:
            session.startup_s = t_gen - session.t0

        async def one(problem: Problem, repeat: int) -> None:
            async with gate:
                posed = task.problem_for_repeat(problem, repeat)
                try:
                    row, transcript = await _episode(
                        settings, mas, engine, ctx, posed, repeat, judge
                    )
                except EngineUnavailable as exc:
                    # Not recorded: an engine that is down is not a wrong answer; a rerun
                    # retries the problem.
                    failing["streak"] += 1
                    session.not_recorded += 1
                    log.warning(
                        "%s/%d: engine unavailable, not recorded: %s", posed.id, repeat, exc
                    )
                    if failing["streak"] >= breaker:
                        raise EngineDown(
                            f"the engine failed on {failing['streak']} problems in a row "
                            f"(last: {exc}); finished problems are saved, rerun to resume"
                        ) from None
                    return
                failing["streak"] = 0
                store.append(row, transcript)
                done[(posed.id, repeat)] = row
                session.computed += 1
                session.completion_tokens += int(row["completion_tokens"])
                tracker.result(row)
                progress.update(row["correct"], row["completion_tokens"])

        try:
            async with asyncio.TaskGroup() as tg:
                for p, r in todo:
                    tg.create_task(one(p, r))
        except BaseExceptionGroup as group:
            raise _first(group) from None
        finally:
            session.generation_s = time.perf_counter() - t_gen
            progress.close()
    finally:
        # Only now: every episode has finished or been cancelled and awaited, so nothing is
        # scored against a closing sandbox.
        ctx.close()
        await engine.release()
        if judge is not None:
            await judge.engine.release()
    stats = session.stats
    if cache:
        stats["response_cache"] = {"hits": engine.hits, "misses": engine.misses}
    missing = getattr(engine, "missing", None)
    if missing:
        stats["unanswered_ids"] = sorted(missing)
    unknown = getattr(engine, "unknown_ids", None)
    if unknown:
        stats["unknown_ids"] = unknown
    # The model id the server's answers named (an API alias reaches whatever the provider
    # serves today): summary.json's served_model, the leaderboard's name for the row.
    served = getattr(getattr(engine, "inner", engine), "served_model", None)
    if served:
        stats["served_model"] = served


def _record_seeds(engine: Any, store: RunStore, session: Session) -> None:
    """Whether each call's seed decided its sample (the engine knows once started): in
    summary.json and the run's identity.json. False: a rerun is not call-for-call identical."""
    seeds = getattr(getattr(engine, "inner", engine), "per_call_seeds", None)
    session.stats["per_call_seeds"] = seeds
    ident = store.read_identity()
    if ident and ident.get("per_call_seeds") != seeds:
        ident["per_call_seeds"] = seeds
        tmp = store.identity_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(ident, indent=2) + "\n")
        tmp.replace(store.identity_path)


def _first(group: BaseExceptionGroup) -> BaseException:
    """The exception that explains why the run stopped: a fatal engine error as one line, else
    the first user-facing error, else the first exception."""
    flat: list[BaseException] = []

    def walk(g: BaseExceptionGroup) -> None:
        for exc in g.exceptions:
            walk(exc) if isinstance(exc, BaseExceptionGroup) else flat.append(exc)

    walk(group)
    for exc in flat:
        if isinstance(exc, EngineDead):
            return EngineDown(
                f"the engine is down: {exc}; finished problems are saved, rerun to resume"
            )
    for exc in flat:
        if isinstance(exc, FatalEngineError):
            return HarnessError(f"the engine refused the run: {exc}")
    for exc in flat:
        if isinstance(exc, HarnessError):
            return exc
    return flat[0]


async def _episode(
    settings: RunSettings,
    mas: Any,
    engine: Any,
    ctx: ScoringContext,
    problem: Problem,
    repeat: int,
    judge: Judge | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    knobs, task = settings.knobs, settings.task
    t0 = time.perf_counter()
    started_at = now_iso()
    attempt = uuid.uuid4().hex[:16]
    ep = Episode(
        engine,
        problem,
        repeat,
        seed=knobs.seed,
        temperature=knobs.temperature,
        top_p=knobs.top_p,
        reasoning=settings.reasoning,
    )
    try:
        result = await mas.solve(ep)
    except (HarnessError, EngineUnavailable, FatalEngineError):
        raise  # bad configuration, an engine that is down or refuses: not this problem's fault
    except Exception as exc:  # one broken episode is a failed problem, not a failed run
        log.exception("episode %s/%d failed", problem.id, repeat)
        result = ep.result
        result.error = f"{type(exc).__name__}: {exc}"
    engine_errors = [c.error for c in result.calls if c.error]
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
    calls = result.calls
    row = {
        "id": problem.id,
        "repeat": repeat,
        "attempt": attempt,
        "correct": bool(score.correct),
        "answer": score.answer,
        # why no answer was read (harness.scoring.extract.CAUSES); None when one was
        "no_answer_cause": no_answer_cause(score),
        "reason": score.reason,
        "error": result.error or (engine_errors[0] if engine_errors else None),
        "failed_calls": len(engine_errors),
        **{
            k: totals[k]
            for k in ("calls", "prompt_tokens", "completion_tokens", "rounds", "agents")
        },
        "reasoning_tokens": sum(int(getattr(c, "reasoning_tokens", 0) or 0) for c in calls),
        "engine_retries": sum(int(getattr(c, "engine_retries", 0) or 0) for c in calls),
        "cost_usd": _cost(calls),
        "tokens_by_role": totals["by_role"],
        "ceo_decisions": totals.get("ceo_decisions") or None,
        "latency_s": round(time.perf_counter() - t0, 4),
        "score_details": score.details,
    }
    if "judge" in score.details:
        row["judge_correct"] = score.details["judge"]["correct"]
    transcript = {
        "schema": SCHEMA,
        "id": problem.id,
        "repeat": repeat,
        "attempt": attempt,
        "mas": settings.mas.name,
        "started_at": started_at,
        "prompt": problem.prompt,
        "reference": problem.shown_reference(),
        "response": result.response,
        "correct": row["correct"],
        "answer": score.answer,
        **result.transcript(),
    }
    if settings.scoring.trajectory:  # every intermediate answer graded; the score stays
        await annotate(transcript, lambda text: task.score(problem, text, ctx), score)
    return row, transcript


def no_answer_cause(score: Score) -> str | None:
    """The extractor's cause, or "scoring_error" / "no_anchor" when a scorer gave none."""
    if score.answer not in (None, ""):
        return None
    cause = (score.details or {}).get("no_answer")
    if cause:
        return str(cause)
    return "scoring_error" if (score.reason or "").startswith("scoring error") else "no_anchor"


def _cost(calls: list[Any]) -> float | None:
    costs = [c.cost_usd for c in calls if getattr(c, "cost_usd", None) is not None]
    return round(sum(costs), 8) if costs else None


def _prior_sessions(prior: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(prior.get("sessions"), list):
        return prior["sessions"]
    if prior.get("wall_s_total") is not None:  # a summary written before sessions were kept
        return [{"wall_s": prior["wall_s_total"], "outcome": "unknown"}]
    return []


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
