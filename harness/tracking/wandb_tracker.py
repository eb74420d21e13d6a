"""The W&B backend: one W&B run per sweep point, mirrored from the run's local files.

- The W&B run id derives from the run directory, and runs resume (``resume="allow"``), so
  re-running a point continues its W&B run instead of creating a twin.
- Several points may be tracked at once in one process (the harness launcher runs points
  concurrently on one event loop): each tracker holds its own ``Run`` object, created with
  ``reinit="create_new"``; the global ``wandb.run``/``wandb.log`` are never used.
- Every W&B call runs on the tracker's own background thread, in order, so starting and
  progress never wait on W&B (``wandb.init`` alone takes seconds, and up to
  ``init_timeout_s`` when the network hangs). ``finish`` waits, up to ``finish_timeout_s``:
  W&B's own exit hooks would otherwise cut a finish short.
- The first W&B failure (no network, bad key, quota, disk) turns W&B off for the rest of the
  process with one warning; the run and its local files go on untouched.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.rows import ResultRow, Summary
from harness.tracking import Tracker
from harness.tracking.episode_table import COLUMNS, episode_rows
from harness.tracking.naming import run_name, sweep_group, wandb_run_id
from harness.tracking.scrub import argv_has_secret, scrub, scrub_text
from harness.tracking.settings import WandbSettings

log = logging.getLogger("harness")

#: the knobs W&B groups and filters by, as top-level config keys
KNOBS = ("agents", "tokens", "turns", "critic_rounds", "repeats", "seed", "limit", "temperature")
#: run identity and provenance from the runner's ``info``, copied into the W&B config
INFO_KEYS = ("run_id", "config_hash", "data_digest", "prompts_digest", "n_expected")
#: config groups left out of the W&B config: prompt texts (their digest identifies them)
SKIPPED = ("prompts", "hydra")
#: files of the run store logged as the artifact (``artifact: results`` drops transcripts)
STORE_FILES = ("config.yaml", "summary.json", "results.jsonl", "transcripts.jsonl")

# -- the keys the W&B comparison view plots (harness/report/wandb_view.py) -------------------
# One list, used both here when logging and there when building panels, so a renamed metric
# fails tests/tracking/test_wandb_view.py instead of drawing an empty panel.
#: config keys the view filters and groups by: ``system`` is ``model/mas``, one key for both
GROUP_KEYS = ("system", "model", "mas", "benchmark")
#: the knobs the view plots accuracy against
SCALING_KNOBS = ("agents", "turns", "critic_rounds", "tokens")
#: summary.json fields the view plots (the run summary carries summary.json's own names)
SUMMARY_PLOTTED = (
    "accuracy",
    "stderr",
    "n",
    "tokens_per_problem",
    "completion_tokens_per_correct",
    "no_answer_rate",
    "calls",
    "wall_s",
)
#: answer-trajectory figures of summary.json (harness.trajectory_stats), where answers were graded
TRAJECTORY_PLOTTED = (
    "first_proposal_accuracy",
    "final_accuracy",
    "discussion_gain",
    "flips_right_to_wrong",
    "flips_wrong_to_right",
)
#: figures the tracker derives at the end of a run and adds to the run summary
DERIVED = ("calls_per_problem", "tokens_per_correct")
#: per-role figures in the run summary, one key per role that ran (format with ``role=``)
ROLE_TOKENS = "role_tokens/{role}"
ROLE_CALLS = "role_calls/{role}"
#: one history row at the end of a run: W&B's line plots draw from history only, and a run's
#: single point there lets a line plot grouped by ``system`` join that system's points
POINT = "point/{key}"
SUMMARY_POINT_KEYS = ("accuracy", "tokens_per_problem")  # Summary fields
POINT_KEYS = (*SUMMARY_POINT_KEYS, *SCALING_KNOBS)
#: the per-problem table
TABLE_KEY = "problems"
#: Summary fields the run-store artifact carries as its metadata
ARTIFACT_META = ("run_id", "config_hash", "n", "accuracy", "complete")


class _Process:
    """What all trackers of this process share."""

    lock = threading.Lock()
    off_reason: str | None = None  # set by the first failure: W&B stays off
    hinted = False
    exit_hook = False
    live: set[WandbTracker] = set()


class WandbTracker(Tracker):
    def __init__(self, settings: WandbSettings, mode: str) -> None:
        self.settings = settings
        self.mode = mode  # online | offline (resolved)
        self.run: Any = None  # the wandb Run, once started
        self.run_dir: Path | None = None
        self.info: dict[str, Any] = {}
        self._off = False
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="wandb-tracker", daemon=True)
        self._latest: tuple[int, int, int, int, float] | None = None
        self._progress_queued = False
        self._lock = threading.Lock()
        self._config: dict[str, Any] = {}  # the W&B config, once started

    # -- the Tracker interface (called by the runner; never blocks on W&B) -------------------
    def start(self, run_dir: Path, config: dict[str, Any], info: dict[str, Any]) -> None:
        self.run_dir = Path(run_dir)
        self.info = dict(info)
        if self.mode == "offline":
            _hint_offline(self.run_dir)
        _register_exit_wait()
        with _Process.lock:
            _Process.live.add(self)
        self._thread.start()
        self._submit(lambda: self._start(config))

    def progress(self, done: int, total: int, correct: int, tokens: int, elapsed_s: float) -> None:
        with self._lock:
            self._latest = (done, total, correct, tokens, elapsed_s)
            if self._progress_queued:
                return  # a slow W&B sees only the latest figures
            self._progress_queued = True
        self._submit(self._log_progress)

    def result(self, row: ResultRow) -> None:
        """Nothing per row: the per-problem table is built from ``results.jsonl`` at the end,
        so it also holds the problems of earlier sessions."""

    def waiting(self, retries: int, last_error: str) -> None:
        """Retries shown while they happen: a ``live/engine_retries`` point and the last
        error in the run summary (``engine_waiting``)."""

        def log() -> None:
            if self.run is not None:
                self.run.log({"live/engine_retries": retries})
                self.run.summary["engine_waiting"] = f"{retries} retries, last error {last_error}"

        self._submit(log)

    def finish(self, summary: Summary) -> None:
        """Waits (up to ``finish_timeout_s``) until W&B has the run: once the interpreter
        shuts down, W&B can no longer start the threads its finish needs. An async caller
        can keep its event loop free with ``await asyncio.to_thread(tracker.finish, s)``."""
        self._submit(lambda: self._finish(summary))
        self._queue.put(None)  # the thread ends after the finish
        if not self.wait(self.settings.finish_timeout_s):
            log.warning(
                "W&B is still finishing %s after %ss; going on without waiting (its local "
                "copy is in %s/wandb; `wandb sync` uploads it)",
                self.run_dir,
                self.settings.finish_timeout_s,
                self.run_dir,
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every W&B call of this tracker is done; False on timeout."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the background thread --------------------------------------------------------------
    def _submit(self, fn: Callable[[], None]) -> None:
        if not self._off and _Process.off_reason is None:
            self._queue.put(fn)

    def _loop(self) -> None:
        try:
            while True:
                fn = self._queue.get()
                if fn is None:
                    return
                if _Process.off_reason is not None and not self._off:
                    # another tracker of this process failed: close this run too
                    self._fail(RuntimeError(_Process.off_reason))
                if self._off:
                    continue
                try:
                    fn()
                except Exception as exc:  # noqa: BLE001 - W&B must never stop a run
                    self._fail(exc)
        finally:
            if self.run is not None and _Process.off_reason is not None:
                self._fail(RuntimeError(_Process.off_reason))  # closes the run, no new warning
            with _Process.lock:
                _Process.live.discard(self)

    def _fail(self, exc: BaseException) -> None:
        self._off = True
        text = str(exc).strip()
        reason = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
        with _Process.lock:
            first = _Process.off_reason is None
            if first:
                _Process.off_reason = reason
        if first:
            log.warning(
                "W&B failed (%s); W&B is off for the rest of this process. Local results are "
                "unaffected: summary.json and results.jsonl are in each run dir.",
                scrub_text(reason),
            )
        run, self.run = self.run, None
        if run is not None:
            try:
                run.finish(exit_code=1)
            except Exception:  # noqa: BLE001 - already failing; the warning above said so
                pass

    # -- W&B calls (on the background thread) ------------------------------------------------
    def _start(self, config: dict[str, Any]) -> None:
        import wandb

        assert self.run_dir is not None
        s = self.settings
        benchmark = (config.get("benchmark") or {}).get("name")
        self._config = wandb_config(config, self.info)
        self.run = wandb.init(
            project=s.project,
            entity=s.entity,
            dir=str(self.run_dir),
            id=wandb_run_id(self.run_dir),
            name=s.name or run_name(self.run_dir, self.info),
            group=s.group or sweep_group(self.run_dir, self.info),
            job_type=str(benchmark) if benchmark else None,
            tags=list(s.tags) or None,
            notes=s.notes,
            config=self._config,
            mode=self.mode,
            resume="allow",
            reinit="create_new",
            settings=wandb.Settings(
                silent=True,
                console="off",  # points share one process: captured output would mix
                init_timeout=s.init_timeout_s,
                x_disable_stats=not s.system_metrics,
                # The commit is logged from the runner's provenance instead; W&B's own git
                # probe would also record the remote URL, which can embed a token.
                disable_git=True,
                # W&B records the command line: keep it out when it carries a secret.
                x_disable_meta=argv_has_secret(sys.argv[1:]),
            ),
        )
        self.run.define_metric("live/done")
        self.run.define_metric("live/*", step_metric="live/done")

    def _log_progress(self) -> None:
        with self._lock:
            latest, self._latest = self._latest, None
            self._progress_queued = False
        if latest is None or self.run is None:
            return
        done, total, correct, tokens, elapsed = latest
        self.run.log(
            {
                "live/done": done,
                "live/total": total,
                "live/accuracy": correct / done if done else None,
                "live/tokens_per_s": tokens / elapsed if elapsed > 0 else None,
                "live/elapsed_s": elapsed,
            }
        )

    def _finish(self, summary: Summary) -> None:
        import wandb

        run = self.run
        if run is None:
            return
        assert self.run_dir is not None
        clean = scrub(summary.to_json())
        provenance = scrub({"git": summary.git, "versions": summary.versions})
        run.config.update(provenance, allow_val_change=True)
        run.summary.update(clean)  # summary.json's own names
        derived, point = view_metrics(summary, self._config)
        run.summary.update(derived)
        run.log(point)
        if self.settings.table:
            rows = episode_rows(self.run_dir, self.info.get("references"))
            table = wandb.Table(columns=COLUMNS, data=rows, allow_mixed_types=True)
            run.log({TABLE_KEY: table})
        if self.settings.artifact != "none":
            self._log_store(run, summary, clean)
        run.finish(exit_code=0 if summary.complete is not False else 1)
        self.run = None

    def _log_store(self, run: Any, summary: Summary, clean: dict[str, Any]) -> None:
        """The run store as an artifact; ``clean``: the summary as logged (secrets masked)."""
        import wandb

        assert self.run_dir is not None
        meta = {k: getattr(summary, k) for k in ARTIFACT_META}
        art = wandb.Artifact(f"run-store-{run.id}", type="run-store", metadata=meta)
        names = STORE_FILES if self.settings.artifact == "all" else STORE_FILES[:3]
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                path = self.run_dir / name
                if not path.is_file():
                    continue
                if name == "config.yaml":  # the resolved config may hold a key: mask it
                    path = Path(tmp) / name
                    cfg = yaml.safe_load((self.run_dir / name).read_text()) or {}
                    path.write_text(yaml.safe_dump(scrub(cfg), sort_keys=False))
                elif name == "summary.json":
                    path = Path(tmp) / name
                    path.write_text(json.dumps(clean, indent=2) + "\n")
                art.add_file(str(path), name=name)  # copied now: later appends do not touch it
            run.log_artifact(art)


def view_metrics(summary: Summary, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a finished run adds for the comparison view: :data:`DERIVED` and the per-role
    figures (summary keys), and the :data:`POINT_KEYS` history row. Knobs the run's system
    does not use (``agents`` under ``mas=single``) stay out of the row, so a plot against
    agents does not place single-agent runs at the config default."""
    from harness.identity import UNUSED_BY_MAS

    n = summary.n
    correct = summary.correct
    tokens = int(summary.prompt_tokens or 0) + int(summary.completion_tokens or 0)
    derived: dict[str, Any] = {
        "calls_per_problem": (summary.calls or 0) / n if n else None,
        "tokens_per_correct": tokens / correct if correct else None,
    }
    for role, figures in sorted(summary.tokens_by_role.items()):
        figures = figures or {}
        used = int(figures.get("prompt_tokens") or 0) + int(figures.get("completion_tokens") or 0)
        derived[ROLE_TOKENS.format(role=role)] = used / n if n else None
        derived[ROLE_CALLS.format(role=role)] = (figures.get("calls") or 0) / n if n else None
    unused = UNUSED_BY_MAS.get(str(config.get("mas")), ())
    values = {k: getattr(summary, k) for k in SUMMARY_POINT_KEYS}
    values.update({k: config.get(k) for k in SCALING_KNOBS if k not in unused})
    point = {POINT.format(key=k): v for k, v in values.items() if v is not None}
    return derived, point


def wandb_config(config: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """The resolved config, flattened (``model/engine``) with secrets masked, plus top-level
    keys to group and filter by: ``model``, ``mas``, ``benchmark`` (names) and the knobs."""
    from harness.knobs import parse_tokens

    clean = scrub({k: v for k, v in config.items() if k not in SKIPPED})
    out: dict[str, Any] = dict(_flatten(clean))
    for group in ("model", "mas", "benchmark"):
        node = clean.get(group)
        out[group] = node.get("name") if isinstance(node, dict) else node
    out["system"] = f"{out['model']}/{out['mas']}"  # one key to group by model and system
    for knob in KNOBS:
        if knob in clean:
            out[knob] = clean[knob]
    try:
        out["tokens"] = parse_tokens(out.get("tokens"))  # 2k → 2048, so plots can sort it
    except Exception:  # noqa: BLE001 - a bad value fails the run's own check, not this one
        pass
    for key in INFO_KEYS:
        if info.get(key) is not None:
            out[key] = info[key]
    for key in ("git", "versions"):
        if isinstance(info.get(key), dict):
            out[key] = scrub(info[key])
    return out


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flatten(value, f"{prefix}/{key}" if prefix else str(key)))
    return out


def _hint_offline(run_dir: Path) -> None:
    with _Process.lock:
        if _Process.hinted:
            return
        _Process.hinted = True
    log.info(
        "W&B is offline (no credentials, or WANDB_MODE=offline): each run dir gets a "
        "wandb/offline-run-*; upload later with `wandb sync %s/wandb/offline-run-*`",
        run_dir,
    )


def _register_exit_wait() -> None:
    """Wait for the trackers' threads at exit *before* W&B's own exit hooks run: those
    (``atexit``, one per run) finish runs and stop W&B's service under a finish still in
    progress. ``threading._register_atexit`` hooks run before any ``atexit`` hook, when the
    interpreter starts shutting down (concurrent.futures relies on the same hook)."""
    with _Process.lock:
        if _Process.exit_hook:
            return
        _Process.exit_hook = True
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:
            raise RuntimeError
        register(_wait_at_exit)
    except RuntimeError:  # an interpreter without the hook, or already shutting down
        atexit.register(_wait_at_exit)


def _wait_at_exit() -> None:
    with _Process.lock:
        live = list(_Process.live)
    if not live:
        return
    for tracker in live:
        tracker._queue.put(None)  # a run the runner never finished ends here too
    deadline = time.monotonic() + max(t.settings.finish_timeout_s for t in live)
    for tracker in live:
        if not tracker.wait(max(0.0, deadline - time.monotonic())):
            log.warning(
                "W&B did not finish within %ss; its local copy is in %s/wandb "
                "(`wandb sync` uploads it)",
                tracker.settings.finish_timeout_s,
                tracker.run_dir,
            )


def wandb_is_off() -> bool:
    """Whether an earlier W&B failure in this process turned W&B off."""
    return _Process.off_reason is not None
