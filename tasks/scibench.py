"""SciBench textbook problems: numeric answers compared with a relative tolerance (upstream
uses ``math.isclose(pred, gold, rel_tol=0.05)``; ``benchmark.rel_tol`` changes it).

The hub repository ``xw27/scibench`` has no dataset config: ``load_dataset`` would read all its
JSON files as one ``train`` split, the ten textbooks *and* their ten ``*_sol`` few-shot files
(692 rows). The loader therefore reads the ten textbook files by name, in a fixed order (the
order of the local ``scibench.jsonl``), and never the ``_sol`` files.

Problem ids are ``<source>/<problemid>`` (``#2`` for the second problem of a textbook with the
same number: ``(source, problemid)`` repeats three times upstream), so they do not depend on a
row's position and the hub, a folder copy of it and the local JSONL give the same ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from harness.scoring.scorers import parse_number, score_numeric
from tasks.base import BenchmarkSettings, Records, Task, located

# The ten textbooks, in the order of the local copy (mandyyyyii/scibench dataset/original/).
TEXTBOOKS = (
    "atkins",
    "calculus",
    "chemmc",
    "class",
    "diff",
    "fund",
    "matter",
    "quan",
    "stat",
    "thermo",
)


@dataclass
class SciBenchSettings(BenchmarkSettings):
    rel_tol: float  # relative tolerance of the numeric comparison


class SciBench(Task):
    name = "scibench"
    domain = "math"
    hf_path = "xw27/scibench"
    hf_split = "train"
    local_file = "scibench.jsonl"
    settings_cls = SciBenchSettings
    _ids: list[str] = []

    def _textbook_rows(self, name: str, text: str, where: str) -> list[Any]:
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(rows, list):
            raise DataError(f"{where}: expected a JSON list of problems")
        return located(rows, where, lambda i: f"{where} item {i + 1}")

    def _textbooks(self, read: Any, source: str) -> Records:
        out = Records()
        out.source = source
        for name in TEXTBOOKS:
            out += read(name)
        return out

    def load_dir(self, path: Path) -> list[dict[str, Any]]:
        """A folder holding the hub repository's files (``atkins.json`` … ``thermo.json``)."""

        def read(name: str) -> list[Any]:
            f = path / f"{name}.json"
            if not f.exists():
                raise DataError(
                    f"{path} has no {name}.json: a SciBench folder holds the ten textbook files "
                    f"of xw27/scibench ({', '.join(TEXTBOOKS)})"
                )
            return self._textbook_rows(name, f.read_text(encoding="utf-8"), str(f))

        return self._textbooks(read, str(path))

    def load_hub(self) -> list[dict[str, Any]]:
        try:
            from huggingface_hub import hf_hub_download
        except ImportError as exc:  # pragma: no cover - datasets depends on it
            raise DataError("loading SciBench from the hub needs huggingface_hub") from exc

        def read(name: str) -> list[Any]:
            try:
                # Works offline from the hub cache too (HF_HUB_OFFLINE=1).
                local = hf_hub_download(self.hf_path, f"{name}.json", repo_type="dataset")
            except Exception as exc:  # the hub raises many types; the user needs one line
                first = str(exc).splitlines()[0] if str(exc) else ""
                raise DataError(
                    f"could not load {self.hf_path}/{name}.json from the Hugging Face hub "
                    f"({type(exc).__name__}: {first}); for local data set "
                    f"benchmark.data_files=PATH or HARNESS_DATA_DIR"
                ) from exc
            text = Path(local).read_text(encoding="utf-8")
            return self._textbook_rows(name, text, f"hf://datasets/{self.hf_path}/{name}.json")

        return self._textbooks(read, f"hf://datasets/{self.hf_path}")

    def select(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Ids from the data: (source, problemid), numbered on repeats within a textbook.
        seen: dict[str, int] = {}
        self._ids = []
        for r in records:
            key = f"{str(r['source']).strip()}/{str(r['problemid']).strip()}"
            seen[key] = seen.get(key, 0) + 1
            self._ids.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
        return records

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        gold = parse_number(str(record["answer_number"]))
        if gold is None:
            raise DataError(f"scibench line {index + 1}: answer_number is not a number")
        unit = str(record.get("unit") or "").strip()
        prompt = str(record["problem_text"]).strip()
        if unit:
            # SciBench's own convention: the unit is given, the answer is the bare number.
            prompt += f"\n\nThe unit of the answer is {unit}; give only the number in the box."
        number = str(record["answer_number"]).strip()
        solution = str(record.get("solution") or "").strip()
        response = f"The answer is therefore $\\boxed{{{number}}}$."
        if solution:
            response = f"{solution}\n\n{response}"
        return Problem(
            id=self._ids[index] if index < len(self._ids) else str(index + 1),
            prompt=prompt,
            domain=self.domain,
            reference=gold,
            reference_response=response,
            meta={
                "source": record.get("source"),
                "problemid": str(record.get("problemid", "")).strip(),
                "unit": unit,
                "answer_latex": str(record.get("answer_latex", "")).strip(),
            },
        )

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        try:
            rel_tol = self.settings.rel_tol
            return await score_numeric(response or "", float(problem.reference), rel_tol, ctx)
        except Exception as exc:  # noqa: BLE001 - scoring must never abort a run
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")
