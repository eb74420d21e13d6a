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

The phases, in order: :func:`_prepare` (settings, data, the run's identity, its store and the
to-do list), :func:`_bench` (an ``async with`` that owns the engine, the scoring context and the
judge and closes them in that order), :func:`_run_episodes` (the loop, stopped by a
:class:`FailureStreak` when the engine fails on problem after problem) and :func:`_finish`
(summary.json and the tracker, however the session ended). The records of one episode are
built in :mod:`harness.records`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from harness.engines import build_engine
from harness.engines.base import EngineDead, EngineUnavailable, FatalEngineError
from harness.errors import HarnessError
from harness.identity import config_hash, digest, resolved_without_identity, run_id
from harness.mas import build_mas
from harness.mas.base import Episode, EpisodeResult
from harness.problem import Problem, Score
from harness.progress import Progress
from harness.provenance import git_info, now_iso, versions
from harness.records import result_row, transcript_line
from harness.rows import ResultRow, Summary
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
    """Run (or resume) one configuration into ``run_dir``; returns its summary (the content of
    summary.json, as :meth:`harness.rows.Summary.to_json` writes it).

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


@dataclass
class Prepared:
    """A run before anything is loaded into an engine: its identity and its to-do list."""

    settings: RunSettings
    plain: dict[str, Any]  # the resolved config, without the identity-neutral keys
    ident: dict[str, Any]
    problems: list[Problem]  # after `limit`
    store: RunStore
    done: dict[tuple[str, int], ResultRow]  # recorded rows, by (id, repeat)
    keys: list[tuple[str, int]]  # every (id, repeat) of the run
    todo: list[tuple[Problem, int]]  # those not recorded yet
    label: str


def _prepare(cfg: DictConfig, run_dir: Path) -> Prepared:
    """Settings validated, data loaded, the run's identity fixed, its store opened and what is
    left to do read from it."""
    settings = RunSettings.from_cfg(cfg)  # everything validated before any loading
    knobs, task = settings.knobs, settings.task
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
    store.prepare(plain, ident, overwrite=settings.run.overwrite)
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
    return Prepared(settings, plain, ident, problems, store, done, keys, todo, label)


async def _run(
    cfg: DictConfig, run_dir: Path, session: Session, process_started: float | None
) -> dict[str, Any]:
    prep = _prepare(cfg, run_dir)
    tracker = _start_tracker(prep)
    prior = prep.store.read_summary()
    error: str | None = None
    outcome = "finished"
    try:
        if prep.todo:
            await _run_pending(prep, tracker, session, process_started)
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
        summary = await _finish(prep, tracker, session, prior, outcome, error)
    _warn_ungraded(summary)
    return summary.to_json()


def _start_tracker(prep: Prepared) -> Tracker:
    tracker = build_tracker(prep.settings.tracking)
    tracker.start(
        prep.store.dir,
        prep.plain,
        {
            **prep.ident,
            "n_expected": len(prep.keys),
            "done": len(prep.keys) - len(prep.todo),
            "references": {p.id: p.shown_reference() for p in prep.problems},
            "git": git_info(),
            "versions": versions(),
        },
    )
    return tracker


async def _finish(
    prep: Prepared,
    tracker: Tracker,
    session: Session,
    prior: Summary | None,
    outcome: str,
    error: str | None,
) -> Summary:
    """However the session ended: the store closed, summary.json written, the tracker told."""
    store = prep.store
    store.close()
    wanted = set(prep.keys)
    rows = [row for key, row in prep.done.items() if key in wanted]
    sessions = [
        *_prior_sessions(prior),
        session.record(time.perf_counter() - session.t0, outcome),
    ]
    if session.not_recorded and error is None:
        error = f"{session.not_recorded} problems hit engine errors and were not recorded"
    if prior is not None and prior.served_model and "served_model" not in session.stats:
        session.stats["served_model"] = prior.served_model  # a resume with nothing to do
    summary = summarize(
        rows,
        cfg=prep.plain,
        knobs=prep.settings.knobs,
        ident=prep.ident,
        n_expected=len(prep.keys),
        sessions=sessions,
        engine_stats={**session.stats, "not_recorded_engine_errors": session.not_recorded},
        domain=prep.settings.task.domain,
        error=error,
        trajectory=run_stats(store.dir, wanted),
    )
    store.write_summary(summary)
    # W&B's finish takes seconds (uploads, artifacts): off the loop, which other
    # sweep points may be sharing.
    await asyncio.to_thread(tracker.finish, summary)
    if outcome == "interrupted":
        log.warning(
            "interrupted: %d of %d problems are saved in %s; run the same command again to resume",
            len(rows),
            len(prep.keys),
            store.dir,
        )
    return summary


def _warn_ungraded(summary: Summary) -> None:
    if summary.sandbox_errors:
        log.warning(
            "%d problems could not be graded: the sandbox failed (see score_details)",
            summary.sandbox_errors,
        )
    if summary.scoring_errors:
        log.warning(
            "%d answers could not be checked: the scoring pool failed or timed out (see "
            "score_details)",
            summary.scoring_errors,
        )


class FailureStreak:
    """Problems in a row the engine could not serve. An engine that fails on every call would
    otherwise fill the store with "wrong" answers: at ``limit`` the run stops (EngineDown)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def failed(self, exc: BaseException) -> None:
        self.count += 1
        if self.count >= self.limit:
            raise EngineDown(
                f"the engine failed on {self.count} problems in a row "
                f"(last: {exc}); finished problems are saved, rerun to resume"
            ) from None

    def served(self) -> None:
        self.count = 0


@dataclass
class Bench:
    """What the episodes run on: the engine, the scoring context (pools, sandbox), the system
    and the judge, alive for the duration of :func:`_bench`."""

    engine: Any
    ctx: ScoringContext
    mas: Any
    judge: Judge | None


@asynccontextmanager
async def _bench(prep: Prepared, session: Session) -> AsyncIterator[Bench]:
    """Builds and starts the engine and the judge; on the way out, whatever happened, closes
    the scoring context, then the engine, then the judge's engine."""
    settings, problems = prep.settings, prep.problems
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
    judge = Judge.from_settings(settings.judge_model, settings.scoring, problems)
    try:
        t = time.perf_counter()
        await engine.start()
        session.engine_start_s = time.perf_counter() - t
        yield Bench(engine, ctx, mas, judge)
    finally:
        # Only now: every episode has finished or been cancelled and awaited, so nothing is
        # scored against a closing sandbox.
        ctx.close()
        await engine.release()
        if judge is not None:
            await judge.engine.release()


async def _run_pending(
    prep: Prepared, tracker: Tracker, session: Session, process_started: float | None
) -> None:
    async with _bench(prep, session) as bench:
        _record_seeds(bench.engine, prep.store, session)
        getattr(bench.engine, "inner", bench.engine).on_wait = tracker.waiting  # W&B too
        if bench.judge is not None:
            await bench.judge.start()
        await _run_episodes(prep, bench, tracker, session, process_started)
    _engine_stats(bench.engine, prep.settings, session.stats)


def _progress(prep: Prepared, tracker: Tracker) -> Progress:
    n_total = len(prep.problems) * prep.settings.knobs.repeats
    ids = {p.id for p in prep.problems}  # a lowered `limit` leaves rows outside the selection
    return Progress(
        n_total,
        n_total - len(prep.todo),
        sum(r.correct for (pid, _), r in prep.done.items() if pid in ids),
        prep.label,
        prep.settings.run.progress,
        on_update=tracker.progress,
    )


async def _run_episodes(
    prep: Prepared,
    bench: Bench,
    tracker: Tracker,
    session: Session,
    process_started: float | None,
) -> None:
    """Every pending (problem, repeat) at once, bounded by ``run.episode_concurrency``; each
    result is stored as it finishes."""
    settings, opts = prep.settings, prep.settings.run
    max_conc = settings.model.max_concurrency
    streak = FailureStreak(opts.max_failed_problems or max(8, 2 * max_conc))
    progress = _progress(prep, tracker)
    gate = asyncio.Semaphore(int(opts.episode_concurrency or 2 * max_conc))
    t_gen = time.perf_counter()
    if process_started is not None:
        session.startup_s = time.time() - process_started
    else:
        session.startup_s = t_gen - session.t0

    async def run_one(problem: Problem, repeat: int) -> None:
        async with gate:
            posed = settings.task.problem_for_repeat(problem, repeat)
            try:
                row, transcript = await _episode(settings, bench, posed, repeat)
            except EngineUnavailable as exc:
                # Not recorded: an engine that is down is not a wrong answer; a rerun
                # retries the problem.
                session.not_recorded += 1
                log.warning("%s/%d: engine unavailable, not recorded: %s", posed.id, repeat, exc)
                streak.failed(exc)
                return
            streak.served()
            row = prep.store.append(row, transcript)
            prep.done[(posed.id, repeat)] = row
            session.computed += 1
            session.completion_tokens += row.completion_tokens
            tracker.result(row)
            progress.update(row.correct, row.completion_tokens)

    try:
        async with asyncio.TaskGroup() as tg:
            for p, r in prep.todo:
                tg.create_task(run_one(p, r))
    except BaseExceptionGroup as group:
        raise _first(group) from None
    finally:
        session.generation_s = time.perf_counter() - t_gen
        progress.close()


def _engine_stats(engine: Any, settings: RunSettings, stats: dict[str, Any]) -> None:
    """What the engine knows after the run, for summary.json."""
    if settings.run.response_cache and settings.run.response_cache_path:
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
    settings: RunSettings, bench: Bench, problem: Problem, repeat: int
) -> tuple[ResultRow, dict[str, Any]]:
    """One (problem, repeat): solved, scored (and judged), its two records built."""
    t0 = time.perf_counter()
    started_at = now_iso()
    attempt = uuid.uuid4().hex[:16]
    result = await _solve(settings, bench, problem, repeat)
    score = await _score(settings, bench, problem, repeat, result.response)
    row = result_row(problem, repeat, attempt, result, score, time.perf_counter() - t0)
    transcript = transcript_line(
        problem, repeat, attempt, settings.mas.name, started_at, result, score
    )
    if settings.scoring.trajectory:  # every intermediate answer graded; the score stays
        task, ctx = settings.task, bench.ctx
        await annotate(transcript, lambda text: task.score(problem, text, ctx), score)
    return row, transcript


async def _solve(
    settings: RunSettings, bench: Bench, problem: Problem, repeat: int
) -> EpisodeResult:
    knobs = settings.knobs
    ep = Episode(
        bench.engine,
        problem,
        repeat,
        seed=knobs.seed,
        temperature=knobs.temperature,
        top_p=knobs.top_p,
        reasoning=settings.reasoning,
    )
    try:
        return await bench.mas.solve(ep)
    except (HarnessError, EngineUnavailable, FatalEngineError):
        raise  # bad configuration, an engine that is down or refuses: not this problem's fault
    except Exception as exc:  # one broken episode is a failed problem, not a failed run
        log.exception("episode %s/%d failed", problem.id, repeat)
        result = ep.result
        result.error = f"{type(exc).__name__}: {exc}"
        return result


async def _score(
    settings: RunSettings, bench: Bench, problem: Problem, repeat: int, response: str
) -> Score:
    try:
        score = await settings.task.score(problem, response, bench.ctx)
    except Exception as exc:
        log.exception("scoring %s/%d failed", problem.id, repeat)
        score = Score(False, None, reason=f"scoring error: {type(exc).__name__}: {exc}")
    if bench.judge is not None:
        verdict = await bench.judge.grade(problem, response)
        if verdict is not None:
            score.details["judge"] = verdict
    return score


def _prior_sessions(prior: Summary | None) -> list[dict[str, Any]]:
    if prior is None:
        return []
    if prior.sessions:
        return prior.sessions
    if prior.wall_s_total is not None:  # a summary written before sessions were kept
        return [{"wall_s": prior.wall_s_total, "outcome": "unknown"}]
    return []


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
