"""GPQA-Diamond (198 questions, 4-way multiple choice; gated on the HF hub).

The source lists the correct answer in its own column, so the choices must be shuffled. Here
the correct letter is assigned in balanced blocks of four questions (each block uses A, B, C
and D once, in a seeded order), so letters are spread evenly over any prefix of the set, and
the distractors are shuffled per question with a seed derived from (shuffle_seed, id, repeat).
Everything is deterministic: a rerun poses exactly the same questions.
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from harness.scoring.scorers import score_letter
from tasks.base import BenchmarkSettings, Task, located

LETTERS = "ABCD"


def hub_token() -> str | None:
    """The token the hub client would use (env variables, or the file its login wrote)."""
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:  # noqa: BLE001 - no hub client: no token
        return None


def offline() -> bool:
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # noqa: BLE001
        return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")


INCORRECT = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def correct_position(index: int, repeat: int, seed: int) -> int:
    """Balanced: within each block of 4 consecutive questions every position occurs once."""
    block, offset = divmod(index, 4)
    order = list(range(4))
    random.Random(f"gpqa-block:{seed}:{block}").shuffle(order)
    return (order[offset] + repeat) % 4


def arrange(correct: str, incorrect: list[str], position: int, rng_key: str) -> list[str]:
    others = list(incorrect)
    random.Random(rng_key).shuffle(others)
    return others[:position] + [correct] + others[position:]


def render(question: str, choices: list[str]) -> str:
    lines = "\n".join(f"{letter}) {text}" for letter, text in zip(LETTERS, choices, strict=True))
    return f"{question.strip()}\n\n{lines}"


@dataclass
class GpqaSettings(BenchmarkSettings):
    shuffle_per_repeat: bool  # each repeat gets its own choice order
    shuffle_seed: int


class GpqaDiamond(Task):
    name = "gpqa_diamond"
    domain = "mc"
    hf_path = "Idavidrein/gpqa"
    hf_config = "gpqa_diamond"
    hf_split = "train"
    local_file = "gpqa_diamond.jsonl"
    settings_cls = GpqaSettings

    @property
    def seed(self) -> int:
        return self.settings.shuffle_seed

    def load_records(self) -> list[dict[str, Any]]:
        data_files = self.settings.data_files
        if data_files and data_files.endswith(".csv"):  # the original release is a CSV
            path = Path(data_files)
            if not path.exists():
                raise DataError(f"data file not found: {path}")
            with path.open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
            # CSV cells span lines: name the data row (after the header), not the line.
            return located(rows, str(path), lambda i: f"{path} data row {i + 1}")
        return super().load_records()

    def load_hub(self) -> list[dict[str, Any]]:
        # `datasets` finds the token itself (HF_TOKEN, or the one `hf auth login` stored) and
        # loads a cached copy with the hub offline, so nothing is refused before it tries.
        try:
            return super().load_hub()
        except DataError as exc:
            msg = str(exc).lower()
            if offline():
                raise
            if hub_token() is None:
                raise DataError(
                    "GPQA is gated on the Hugging Face hub and no token was found: accept its "
                    "terms at https://huggingface.co/datasets/Idavidrein/gpqa, then log in "
                    "(`hf auth login`) or export HF_TOKEN=<token> (or set "
                    "benchmark.data_files=PATH to a local copy, CSV or JSONL)"
                ) from exc
            if any(k in msg for k in ("gated", "401", "403", "unauthorized", "access")):
                raise DataError(
                    "no access to the gated dataset Idavidrein/gpqa with the Hugging Face token "
                    "found: accept its terms on the dataset page with that account"
                ) from exc
            raise

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        question = str(record["Question"])
        correct = str(record["Correct Answer"]).strip()
        incorrect = [str(record[k]).strip() for k in INCORRECT]
        pid = str(record.get("Record ID") or f"gpqa-{index}")
        meta = {
            "question": question,
            "correct_text": correct,
            "incorrect": incorrect,
            "index": index,
            **{k: record[k] for k in ("Subdomain", "High-level domain") if record.get(k)},
        }
        return self._pose(Problem(pid, "", self.domain, "", "", meta), repeat=0)

    def _pose(self, problem: Problem, repeat: int) -> Problem:
        m = problem.meta
        pos = correct_position(int(m["index"]), repeat, self.seed)
        key = f"gpqa:{self.seed}:{problem.id}:{repeat}"
        choices = arrange(m["correct_text"], m["incorrect"], pos, key)
        letter = LETTERS[pos]
        return replace(
            problem,
            prompt=render(m["question"], choices),
            reference=letter,
            reference_response=f"The correct choice is {letter}) {m['correct_text']}.\n\n"
            f"$\\boxed{{{letter}}}$",
            meta={**m, "choices": choices, "repeat_shuffle": repeat},
        )

    def problem_for_repeat(self, problem: Problem, repeat: int) -> Problem:
        if not self.settings.shuffle_per_repeat or repeat == 0:
            return problem
        return self._pose(problem, repeat)

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        try:
            choices = problem.meta.get("choices")
            return await score_letter(response or "", str(problem.reference), LETTERS, choices)
        except Exception as exc:  # noqa: BLE001 - scoring must never abort a run
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")
