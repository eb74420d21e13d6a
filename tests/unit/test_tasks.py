"""Task registry, loaders and problem construction (small made-up fixtures only)."""

from __future__ import annotations

import asyncio
import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from harness.errors import ConfigError, DataError
from tasks import REGISTRY
from tasks.mbpp import MbppSanitized
from tasks.settings import benchmark_settings
from tests.settings_helper import benchmark_node, scoring_context, task_for

FIXTURES = Path(__file__).parents[1] / "fixtures"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_registry_names_and_unknown_task() -> None:
    expected = {"math500", "aime2024", "aime2025", "gpqa_diamond", "mbpp_sanitized",
                "humaneval", "scibench", "commongen_hard", "humaneval_plus", "mbpp_plus"}  # fmt: skip
    assert set(REGISTRY) == expected
    with pytest.raises(ConfigError) as err:
        benchmark_settings(benchmark_node("math500", task="nope"))
    msg = str(err.value)
    assert "\n" not in msg and "math500" in msg and "lm_eval:<task>" in msg


def test_settings_are_typed_and_a_typo_is_a_one_line_error() -> None:
    settings = benchmark_settings(benchmark_node("scibench", rel_tol="0.1"))
    assert settings.rel_tol == 0.1
    with pytest.raises(ConfigError, match="benchmark.rel_toll"):
        benchmark_settings(benchmark_node("scibench", rel_toll=0.1))
    with pytest.raises(ConfigError, match="benchmark.shuffle_seed"):
        benchmark_settings(benchmark_node("gpqa_diamond", shuffle_seed="abc"))
    with pytest.raises(ConfigError, match="missing key benchmark.split"):
        benchmark_settings({"name": "mbpp_sanitized", "task": "mbpp_sanitized", "data_files": None})
    # a task takes its typed settings, never a raw mapping laid over its YAML
    assert task_for("mbpp_sanitized").settings.split == "test"
    with pytest.raises(TypeError, match="MbppSettings"):
        MbppSanitized({"task": "mbpp_sanitized"})


def test_every_benchmark_yaml_names_a_known_task() -> None:
    for path in (Path(__file__).parents[2] / "conf" / "benchmark").glob("*.yaml"):
        node = OmegaConf.load(path)
        task = str(node.task)
        assert task in REGISTRY or task.startswith("lm_eval:"), path.name


def test_math500_from_data_files_and_data_dir(tmp_path, monkeypatch) -> None:
    task = task_for("math500", data_files=str(FIXTURES / "math500_mini.jsonl"))
    problems = task.load()
    assert [p.id for p in problems] == ["test/fixture/1.json", "test/fixture/2.json",
                                        "test/fixture/3.json"]  # fmt: skip
    assert all(p.domain == "math" for p in problems)
    # the oracle answer is the dataset's own solution (its last box is the answer)
    assert problems[1].reference_response.endswith("$\\boxed{\\dfrac{1}{2}}$.")
    (tmp_path / "math500.jsonl").write_text((FIXTURES / "math500_mini.jsonl").read_text())
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    assert len(task_for("math500").load()) == 3
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(DataError):
        task_for("math500").load()


def test_math_oracle_and_wrong_answers_score() -> None:
    task = task_for("math500", data_files=str(FIXTURES / "math500_mini.jsonl"))
    problems = task.load()

    async def go():
        ctx = scoring_context(workers=1, timeout_s=5)
        try:
            good = [await task.score(p, p.reference_response, ctx) for p in problems]
            bad = await task.score(problems[0], "\\boxed{3}", ctx)
            units = await task.score(problems[2], "The area is \\boxed{9}.", ctx)
            return good, bad, units
        finally:
            ctx.close()

    good, bad, units = asyncio.run(go())
    assert all(s.correct for s in good)
    assert not bad.correct and bad.answer == "3"
    assert units.correct


def test_aime_ids_and_integer_references(tmp_path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [
        {"id": 60, "problem": "P", "solution": "so $\\boxed{25}$", "answer": "025", "url": "u"},
        {"id": 61, "problem": "Q", "solution": "no box here", "answer": "100", "url": "u"},
    ])  # fmt: skip
    problems = task_for("aime2024", data_files=str(path)).load()
    assert [p.id for p in problems] == ["60", "61"] and problems[0].reference == 25
    assert problems[0].meta["oracle_source"] == "solution"
    assert problems[1].reference_response.endswith("$\\boxed{100}$.")
    path = write_jsonl(tmp_path / "b.jsonl", [{"problem_idx": 1, "problem": "P", "answer": 70}])
    (p,) = task_for("aime2025", data_files=str(path)).load()
    assert p.id == "2025-I-1" and p.reference == 70


# -- GPQA ------------------------------------------------------------------------------------


def gpqa(**kw):
    return task_for("gpqa_diamond", data_files=str(FIXTURES / "gpqa_diamond.jsonl"), **kw)


def test_gpqa_letters_are_even_and_stable() -> None:
    first = gpqa().load()
    letters = Counter(p.reference for p in first)
    assert letters == {"A": 10, "B": 10, "C": 10, "D": 10}
    # any prefix is balanced too (limit=N)
    assert max(Counter(p.reference for p in first[:12]).values()) == 3
    second = gpqa().load()
    assert [p.prompt for p in first] == [p.prompt for p in second]
    assert [p.reference for p in first] == [p.reference for p in second]
    for p in first:
        choices = p.meta["choices"]
        assert sorted(choices) == sorted([p.meta["correct_text"], *p.meta["incorrect"]])
        assert choices["ABCD".index(p.reference)] == p.meta["correct_text"]
        assert f"{p.reference}) {p.meta['correct_text']}" in p.prompt
    # the correct answer is not always B (the original harness's flaw)
    assert letters["B"] < len(first)
    # another seed gives another (still balanced) order
    other = gpqa(shuffle_seed=1).load()
    assert [p.reference for p in other] != [p.reference for p in first]
    assert Counter(p.reference for p in other) == letters


def test_gpqa_per_repeat_shuffle_and_scoring() -> None:
    fixed = gpqa()
    p = fixed.load()[0]
    assert fixed.problem_for_repeat(p, 3) is p  # default: same order every repeat
    task = gpqa(shuffle_per_repeat=True)
    p = task.load()[0]
    reps = [task.problem_for_repeat(p, r) for r in range(4)]
    assert {q.reference for q in reps} == set("ABCD")
    assert all(q.id == p.id for q in reps)
    assert task.problem_for_repeat(p, 2).prompt == task.problem_for_repeat(p, 2).prompt

    async def go():
        return [await task.score(q, q.reference_response, None) for q in reps]

    assert all(s.correct for s in asyncio.run(go()))


def test_gpqa_csv_and_missing_token(tmp_path, monkeypatch) -> None:
    rows = [json.loads(line) for line in (FIXTURES / "gpqa_diamond.jsonl").open()][:4]
    path = tmp_path / "gpqa_diamond.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert len(task_for("gpqa_diamond", data_files=str(path)).load()) == 4
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored login token either
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)

    def refused(*a, **k):
        raise ConnectionError("401 Client Error: gated dataset")

    monkeypatch.setattr("datasets.load_dataset", refused)
    with pytest.raises(DataError, match="gated.*no token was found.*HF_TOKEN"):
        task_for("gpqa_diamond").load()


# -- code tasks ------------------------------------------------------------------------------


def mbpp_rows() -> list[dict]:
    def row(tid: int, imports: list[str] | None = None) -> dict:
        return {"source_file": "x", "task_id": tid, "prompt": f"Write a function number {tid}.",
                "code": f"def f{tid}(x):\n    return x + {tid}",
                "test_imports": imports or [],
                "test_list": [f"assert f{tid}(0) == {tid}", f"assert f{tid}(1) == {tid + 1}"]}  # fmt: skip

    return [row(2), row(11, ["import math"]), row(12), row(520), row(700)]


def test_mbpp_splits_from_file_and_ranges(tmp_path) -> None:
    data = write_jsonl(tmp_path / "mbpp.jsonl", mbpp_rows())
    by_range = task_for("mbpp_sanitized", data_files=str(data), split="test").load()
    assert [p.id for p in by_range] == ["11", "12"]
    (tmp_path / "mbpp_sanitized_splits.json").write_text(
        json.dumps(
            {"task_ids": {"test": [12], "prompt": [2], "validation": [520], "train": [700, 11]}}
        )  # fmt: skip
    )
    by_file = task_for("mbpp_sanitized", data_files=str(data), split="test").load()
    assert [p.id for p in by_file] == ["12"]
    all_ = task_for("mbpp_sanitized", data_files=str(data), split="all").load()
    assert len(all_) == 5
    with pytest.raises(ConfigError, match="accepted"):
        task_for("mbpp_sanitized", data_files=str(data), split="dev").load()


def test_mbpp_prompt_shows_signature_and_first_test_only(tmp_path) -> None:
    data = write_jsonl(tmp_path / "mbpp.jsonl", mbpp_rows())
    task = task_for("mbpp_sanitized", data_files=str(data), split="all")
    p = next(p for p in task.load() if p.id == "11")
    assert "def f11(x):" in p.prompt and "assert f11(0) == 11" in p.prompt
    assert "assert f11(1) == 12" not in p.prompt
    assert p.meta["public_tests"] == ["assert f11(0) == 11"] and p.entry_point == "f11"
    program, tests = task.program_parts(p, "def f11(x):\n    return x + 11")
    assert program.startswith("import math\n") and "def f11" in program
    assert "assert f11(1) == 12" in tests and "assert" not in program


def test_humaneval_prompt_hides_tests(tmp_path) -> None:
    rec = {"task_id": "HumanEval/0", "prompt": "def g():\n    \"\"\"Doc.\"\"\"\n",
           "entry_point": "g", "canonical_solution": "    return 1\n",
           "test": "def check(candidate):\n    assert candidate() == 1\n"}  # fmt: skip
    p = task_for("humaneval", data_files=str(write_jsonl(tmp_path / "h.jsonl", [rec]))).load()[0]
    assert "check" not in p.prompt and p.entry_point == "g"
    assert p.reference_response.startswith("```python\ndef g():")


# -- SciBench, CommonGen ---------------------------------------------------------------------


def test_scibench_ids_come_from_source_and_problemid(tmp_path) -> None:
    rec = {"problem_text": "How much?", "answer_latex": " 50.7", "answer_number": "50.7",
           "unit": "$\\mathrm{atm}$ ", "source": "atkins", "problemid": " 1", "comment": " "}  # fmt: skip
    rows = [rec, dict(rec), {**rec, "answer_number": "−2", "problemid": " 2"}]
    problems = task_for("scibench", data_files=str(write_jsonl(tmp_path / "s.jsonl", rows))).load()
    # (source, problemid) repeats upstream: the second one is numbered, not the row position.
    assert [p.id for p in problems] == ["atkins/1", "atkins/1#2", "atkins/2"]
    assert problems[2].reference == -2.0
    assert "\\mathrm{atm}" in problems[0].prompt


def test_commongen_oracle_covers_all_concepts(tmp_path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"concepts": ["dog", "run", "ball", "throw"]}])
    task = task_for("commongen_hard", data_files=str(path))
    (p,) = task.load()
    assert p.domain == "text" and "dog, run, ball, throw" in p.prompt
    s = asyncio.run(task.score(p, p.reference_response, None))
    assert s.correct and s.details["coverage"] == 1.0
