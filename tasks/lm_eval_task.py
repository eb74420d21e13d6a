"""``lm_eval:<task>``: any generative lm-evaluation-harness task, answered by our system and
scored by lm-eval's own filters and metrics (optional extra: ``pip install lm-eval``).

``benchmark.include_path=DIR`` adds a folder of task YAMLs (lm-eval's ``--include_path``).
lm-eval's ``minerva_math`` utilities are never imported here (they need an antlr4 that breaks
Hydra): only the task named in the config is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError, DataError
from harness.problem import DOMAINS, Problem, Score
from harness.scoring.context import ScoringContext
from harness.scoring.extract import strip_thinking
from tasks.base import BenchmarkSettings, Task


@dataclass
class LmEvalSettings(BenchmarkSettings):
    include_path: str | None  # a folder of task YAMLs of your own (lm-eval's --include_path)
    domain: str  # prompt set used for the answer format: math | mc | code | text


class LmEvalTask(Task):
    domain = "text"
    settings_cls = LmEvalSettings

    def __init__(self, settings: LmEvalSettings) -> None:
        super().__init__(settings)
        self.name = settings.task  # lm_eval:<task>
        self.task_name = settings.task.partition(":")[2]
        if self.settings.domain not in DOMAINS:
            raise ConfigError(
                f"benchmark.domain={self.settings.domain!r}; accepted: {', '.join(DOMAINS)}"
            )
        self._task: Any = None

    def lm_task(self) -> Any:
        if self._task is not None:
            return self._task
        try:
            from lm_eval.tasks import TaskManager, get_task_dict
        except ImportError as exc:
            raise ConfigError(
                f"benchmark {self.name} needs the optional extra lm-eval: pip install lm-eval "
                f"({exc})"
            ) from exc
        include = self.settings.include_path
        manager = TaskManager(include_path=str(include) if include else None, verbosity="ERROR")
        if self.task_name not in manager.all_tasks:
            raise ConfigError(
                f"lm-eval has no task {self.task_name!r}"
                + (f" (include_path={include})" if include else "")
                + "; set benchmark.include_path=DIR for task YAMLs of your own"
            )
        try:
            task = get_task_dict([self.task_name], manager)[self.task_name]
        except Exception as exc:  # noqa: BLE001 - dataset download / YAML errors
            raise DataError(f"lm-eval could not build {self.task_name}: {exc}") from exc
        if isinstance(task, dict) or getattr(task, "OUTPUT_TYPE", None) != "generate_until":
            raise ConfigError(
                f"lm-eval task {self.task_name!r} is not a single generative task "
                "(output_type generate_until); groups and loglikelihood tasks are not supported"
            )
        self._task = task
        return task

    def load_records(self) -> list[dict[str, Any]]:
        task = self.lm_task()
        return [dict(d) for d in task.eval_docs]

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        task = self.lm_task()
        target = task.doc_to_target(record)
        if isinstance(target, list):
            target = target[0]
        if isinstance(target, int) and task.config.doc_to_choice is not None:
            target = task.doc_to_choice(record)[target]
        # The oracle answer must get through the task's own answer filters, which differ per
        # task (GSM8K wants "#### N", others a boxed or "The answer is" form): use the first of
        # a few standard shapes that lm-eval scores correct.
        response, how = str(target), "target (no shape scored correct)"
        for shape in ("{t}", "#### {t}", "The answer is {t}.", "\\boxed{{{t}}}"):
            candidate = shape.format(t=target)
            if self.score_sync(record, candidate)[0]:
                response, how = candidate, shape
                break
        return Problem(
            id=f"{self.task_name}-{index}",
            prompt=str(task.doc_to_text(record)),
            domain=self.settings.domain,
            reference=record,
            reference_response=response,
            meta={"lm_eval_task": self.task_name, "oracle_source": how},
        )

    def score_sync(self, doc: dict[str, Any], text: str) -> tuple[bool, Any, dict[str, Any]]:
        """lm-eval's filters then ``process_results``: (correct, filtered answer, metrics)."""
        task = self.lm_task()
        per_filter: dict[str, Any] = {}
        answer: Any = text
        main: dict[str, Any] = {}
        filters = getattr(task, "_filters", None) or []
        for n, ensemble in enumerate(filters):
            resps: Any = [[text]]
            for make_filter in ensemble.filters:
                resps = list(make_filter().apply(resps, [doc]))
            filtered = resps[0]
            metrics = {k: _plain(v) for k, v in task.process_results(doc, [filtered]).items()}
            per_filter[ensemble.name] = {"answer": filtered, **metrics}
            if n == 0:
                answer, main = filtered, metrics
        if not filters:
            main = {k: _plain(v) for k, v in task.process_results(doc, [text]).items()}
            per_filter["none"] = {"answer": text, **main}
        # Correct: lm-eval's first metric (exact_match, acc, ...) of the first filter is 1.
        first = next(iter(main.values()), 0)
        try:
            correct = float(first) >= 1.0
        except (TypeError, ValueError):
            correct = False
        return correct, answer, per_filter

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        try:
            correct, answer, per_filter = self.score_sync(
                problem.reference, strip_thinking(response or "")
            )
            reason = None if correct else f"lm-eval metrics: {per_filter}"[:300]
            details: dict[str, Any] = {"lm_eval": per_filter}
            if not correct and str(answer).strip() in ("", "[invalid]"):
                # lm-eval's filters found nothing: its fallback value is no answer
                details["no_answer"] = "no_anchor"
                return Score(False, None, reason, details)
            return Score(correct, str(answer), reason, details)
        except Exception as exc:  # noqa: BLE001 - scoring must never abort a run
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")


def _plain(value: Any) -> Any:
    """numpy scalars → Python numbers, so details serialise to JSON."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
