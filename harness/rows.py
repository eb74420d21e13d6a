"""The two records a run leaves for its readers, typed: a line of ``results.jsonl``
(:class:`ResultRow`) and ``summary.json`` (:class:`Summary`).

Each field is defined once, here; the runner builds them (``harness.records``,
``harness.summary``) and the report, the viewer, the tracker and the trace export read their
attributes. The JSON is the contract of DESIGN.md section 4 and does not change: a field's
name is its JSON key, ``to_json()`` writes the keys in the order they have always been written,
and ``from_json()`` reads what any version wrote: a missing field gets its default, a key this
version does not know is kept (``extra``) and written back last, so nothing is lost.

Field metadata says how a field is written:

- ``flatten``: an open dict whose keys are written in its place (pass@k, trajectory figures);
- ``omit_none``: left out while None (the key exists only when there is something to say);
- ``with``: written only when that other field is (the judge's four figures, coverage's s.e.).

This module imports nothing of the harness at load time, so the viewer, the report and the
trace export read rows without loading the runner's layers.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal


class _Unset(enum.Enum):
    UNSET = "unset"


#: a field that is absent from the JSON (as opposed to present and null)
UNSET: Literal[_Unset.UNSET] = _Unset.UNSET

Key = tuple[str, int]  # (problem id, repeat)


def _flat(**extra: Any) -> Any:
    return field(default_factory=dict, metadata={"flatten": True, **extra})


def _omit_none() -> Any:
    return field(default=None, metadata={"omit_none": True})


def _with(other: str) -> Any:
    return field(default=None, metadata={"with": other})


def _to_json(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        meta = f.metadata
        if meta.get("flatten"):
            out.update(value)
        elif not _absent(obj, value, meta):
            out[f.name] = value
    return out


def _absent(obj: Any, value: Any, meta: Any) -> bool:
    """The field is left out of the JSON: unset, or null where null means "nothing to say"."""
    if value is UNSET or (meta.get("omit_none") and value is None):
        return True
    return bool(meta.get("with")) and getattr(obj, meta["with"]) is None


def _split(cls: Any, data: dict[str, Any]) -> dict[str, Any]:
    """``data``'s keys as keyword arguments of ``cls``: typed fields by name, the rest into
    the open dict :meth:`_group` names."""
    typed = {f.name for f in fields(cls) if not f.metadata.get("flatten")}
    groups: dict[str, dict[str, Any]] = {
        f.name: {} for f in fields(cls) if f.metadata.get("flatten")
    }
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in typed:
            kwargs[key] = value
        else:
            groups[cls._group(key)][key] = value
    return kwargs | groups


@dataclass
class ResultRow:
    """One finished episode: a line of ``results.jsonl`` (built by harness.records)."""

    id: str
    repeat: int = 0
    attempt: str | None = None  # the transcript line of the same attempt carries it too
    correct: bool = False
    answer: str | None = None
    # why no answer was read (harness.scoring.extract.CAUSES); None when one was
    no_answer_cause: str | None = None
    reason: str | None = None
    error: str | None = None  # the episode's error, else the first failed call's
    failed_calls: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rounds: int | None = None
    agents: int | list[int] | None = None
    reasoning_tokens: int = 0
    engine_retries: int = 0
    cost_usd: float | None = None  # priced API models only
    tokens_by_role: dict[str, dict[str, int]] = field(default_factory=dict)
    ceo_decisions: list[dict[str, Any]] | None = None
    latency_s: float | None = None
    score_details: dict[str, Any] = field(default_factory=dict)  # the scorer's, open
    # the LLM judge's verdict (None: unparsed); absent when no judge ran
    judge_correct: bool | None | Literal[_Unset.UNSET] = UNSET
    # keys this version does not write (older rows: ``engine_errors``, ``reference``) and the
    # store's ``text_escaped``
    extra: dict[str, Any] = _flat()

    @classmethod
    def _group(cls, key: str) -> str:
        return "extra"

    @property
    def key(self) -> Key:
        return (str(self.id), int(self.repeat or 0))

    @property
    def judged(self) -> bool:
        return self.judge_correct is not UNSET

    @property
    def no_answer(self) -> bool:
        """Nothing was extracted (``answer`` null or empty)."""
        return self.answer in (None, "")

    @property
    def tokens(self) -> int:
        return int(self.prompt_tokens or 0) + int(self.completion_tokens or 0)

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultRow:
        kwargs = _split(cls, data)
        # null where older rows or odd scorers wrote nothing
        kwargs["score_details"] = kwargs.get("score_details") or {}
        kwargs["tokens_by_role"] = kwargs.get("tokens_by_role") or {}
        kwargs.setdefault("id", "")
        return cls(**kwargs)


#: engine facts the runner adds (harness.runner._engine_stats, _record_seeds), in its order
ENGINE_KEYS = ("per_call_seeds", "response_cache", "unanswered_ids", "unknown_ids")
#: the answer-trajectory figures' names (harness.trajectory_stats), for reading a summary back
_TRAJECTORY = re.compile(
    r"^(trajectory_|first_proposal_|final_|discussion_gain|flips_|rescued_|talked_out_|"
    r"evaluator_|critic_|critics_)"
)
_PASS_AT = re.compile(r"^pass@\d+$")


@dataclass
class Summary:
    """``summary.json``: the figures of one run, with the n they rest on and where they came
    from (built by harness.summary.summarize)."""

    # -- what was run
    benchmark: str | None = None
    model: str | None = None
    mas: str | None = None
    agents: int | None = None
    tokens: int | None = None
    turns: int | None = None
    critic_rounds: int | None = None
    # the most samples any problem has (harness.scoring.stats), 0 without results
    repeats: int | None = None
    seed: int | None = None
    temperature: float | None = None
    limit: int | None = None
    run_id: str | None = None
    config_hash: str | None = None
    data_digest: str | None = None
    prompts_digest: str | None = None
    # -- scores (harness.scoring.stats.summarize)
    n: int = 0
    n_problems: int | None = None
    accuracy: float | None = None
    stderr: float | None = None
    coverage_mean: float | None = _omit_none()  # CommonGen-Hard's own metric
    coverage_stderr: float | None = _with("coverage_mean")
    scoring_errors: int | None = _omit_none()  # answers the scoring pool could not decide
    pass_at_k: dict[str, float] = _flat()  # "pass@1", … (code, with repeats)
    majority_accuracy: float | None = _omit_none()  # maj@n (math, choices, with repeats)
    # -- counts over the results
    n_expected: int | None = None
    # every selected problem × repeat has a result and the run did not fail
    complete: bool | None = None
    error: str | None = None
    correct: int | None = None
    errors: int | None = None
    sandbox_errors: int | None = None  # apart from wrong code: the sandbox failed
    no_answer: int | None = None
    no_answer_rate: float | None = None
    no_answer_causes: dict[str, int] = field(default_factory=dict)  # by extraction cause
    calls: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    engine_retries: int | None = None
    failed_calls: int | None = None
    cost_usd: float | None = None
    tokens_per_problem: float | None = None
    completion_tokens_per_problem: float | None = None
    completion_tokens_per_correct: float | None = None
    tokens_by_role: dict[str, dict[str, int]] = field(default_factory=dict)
    mean_rounds: float | None = None
    mean_agents: float | None = None
    # -- time (this session; ``sessions`` holds every session of the run)
    wall_s: float | None = None
    wall_s_total: float | None = None
    computed_this_session: int | None = None
    startup_s: float | None = None
    engine_start_s: float | None = None
    generation_s: float | None = None
    problems_per_s: float | None = None
    completion_tokens_per_s: float | None = None
    started_at: str | None = None
    ended_at: str | None = None
    sessions: list[dict[str, Any]] = field(default_factory=list)
    git: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    # -- the LLM judge, beside (never instead of) the symbolic accuracy; absent without one
    judge_n: int | None = _omit_none()
    judge_unparsed: int | None = _with("judge_n")
    judge_accuracy: float | None = _with("judge_n")
    judge_agreement: float | None = _with("judge_n")
    # -- answer-trajectory figures (harness.trajectory_stats), where answers were graded
    trajectory: dict[str, Any] = _flat()
    # -- the engine: ENGINE_KEYS as far as known, then the model the server named
    engine: dict[str, Any] = _flat()
    served_model: str | None = _omit_none()
    not_recorded_engine_errors: int = 0  # problems the engine could not serve: not in n
    extra: dict[str, Any] = _flat()  # keys this version does not write

    @classmethod
    def _group(cls, key: str) -> str:
        if _PASS_AT.match(key):
            return "pass_at_k"
        if key in ENGINE_KEYS:
            return "engine"
        if _TRAJECTORY.match(key):
            return "trajectory"
        return "extra"

    @property
    def finished(self) -> bool:
        """Complete; a summary written before ``complete`` existed is judged by its n and
        errors."""
        if self.complete is not None:
            return bool(self.complete)
        return self.n > 0 and not self.not_recorded_engine_errors and not self.error

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        kwargs = _split(cls, data)
        for name in ("no_answer_causes", "tokens_by_role", "git", "versions"):
            if kwargs.get(name) is None:
                kwargs.pop(name, None)
        if kwargs.get("sessions") is None:
            kwargs.pop("sessions", None)
        kwargs["n"] = int(kwargs.get("n") or 0)
        kwargs["not_recorded_engine_errors"] = int(kwargs.get("not_recorded_engine_errors") or 0)
        return cls(**kwargs)


#: summary.json's field names (the W&B run summary carries them as they are)
SUMMARY_FIELDS = frozenset(f.name for f in fields(Summary) if not f.metadata.get("flatten"))


def read_results(run_dir: str | Path) -> dict[Key, ResultRow]:
    """The recorded result of each (id, repeat), typed (harness.transcript.results_by_key)."""
    from harness.transcript import results_by_key

    return {k: ResultRow.from_json(r) for k, r in results_by_key(run_dir).items()}


def read_summary(path: str | Path) -> Summary | None:
    """``summary.json`` (a file, or the run dir holding it); None when missing or unreadable."""
    import json

    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, json.JSONDecodeError):
        return None
    return Summary.from_json(data) if isinstance(data, dict) else None
