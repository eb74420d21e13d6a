"""MBPP sanitized: the 257-problem test split by default (``benchmark.split=all`` → 427)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.problem import Problem
from tasks.base import BenchmarkSettings
from tasks.code import CodeTask, fenced

SPLITS_FILE = "mbpp_sanitized_splits.json"
#: google-research/mbpp README: task_id ranges of each split
SPLIT_RANGES = {
    "prompt": range(1, 11),
    "test": range(11, 511),
    "validation": range(511, 601),
    "train": range(601, 1001),
}
ACCEPTED_SPLITS = (*SPLIT_RANGES, "all")


def entry_point_of(code: str, test: str) -> str | None:
    """The function the tests call: the first top-level ``def`` named in the first test."""
    names = re.findall(r"^def\s+(\w+)\s*\(", code, re.MULTILINE)
    called = [n for n in names if re.search(rf"\b{re.escape(n)}\s*\(", test)]
    return (called or names or [None])[0]


def signature_of(code: str, name: str | None) -> str | None:
    if not name:
        return None
    m = re.search(rf"^def\s+{re.escape(name)}\s*\(.*?\)\s*(?:->[^:]*)?:", code, re.M | re.S)
    return m.group(0) if m else None


@dataclass
class MbppSettings(BenchmarkSettings):
    split: str  # test | all | validation | train | prompt


class MbppSanitized(CodeTask):
    name = "mbpp_sanitized"
    hf_path = "google-research-datasets/mbpp"
    hf_config = "sanitized"
    local_file = "mbpp_sanitized.jsonl"
    settings_cls = MbppSettings

    @property
    def split(self) -> str:
        split = self.settings.split
        if split not in ACCEPTED_SPLITS:
            raise ConfigError(
                f"unknown benchmark.split {split!r} for mbpp_sanitized; "
                f"accepted: {', '.join(ACCEPTED_SPLITS)}"
            )
        return split

    def load_hub(self) -> list[dict[str, Any]]:
        if self.split != "all":
            self.hf_split = self.split
            return super().load_hub()
        rows: list[dict[str, Any]] = []
        for split in SPLIT_RANGES:
            self.hf_split = split
            rows += super().load_hub()
        return rows

    def _splits_path(self) -> Path | None:
        data_files = self.settings.data_files
        if data_files:
            return Path(data_files).parent / SPLITS_FILE
        data_dir = os.environ.get("HARNESS_DATA_DIR")
        return Path(data_dir) / SPLITS_FILE if data_dir else None

    def select(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        split = self.split
        if split == "all":
            return records
        path = self._splits_path()
        if path is not None and path.exists():
            members = set(json.loads(path.read_text())["task_ids"][split])
        else:
            members = set(SPLIT_RANGES[split])
        return [r for r in records if int(r["task_id"]) in members]

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        tests = list(record["test_list"])
        imports = list(record.get("test_imports") or [])
        code = str(record["code"])
        entry = entry_point_of(code, tests[0])
        signature = signature_of(code, entry)
        # As in the original (MBPP's own prompt format): the description, the signature to
        # keep and the first test; the remaining tests stay hidden.
        prompt = str(record["prompt"]).strip()
        if signature:
            prompt += f"\n\nThe function should have this signature:\n```python\n{signature}\n```"
        prompt += f"\n\nYour code should pass this test:\n```python\n{tests[0]}\n```"
        return Problem(
            id=str(record["task_id"]),
            prompt=prompt,
            domain=self.domain,
            reference={"tests": tests, "imports": imports},
            reference_text="\n".join([*imports, *tests]),
            reference_response=fenced(code),
            meta={"public_tests": tests[:1], "test_imports": imports},
            entry_point=entry,
        )

    def program_parts(self, problem: Problem, code: str) -> tuple[str, str]:
        ref = problem.reference
        return "\n".join([*ref["imports"], code]) + "\n", "\n".join(ref["tests"]) + "\n"
