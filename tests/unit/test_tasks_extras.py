"""The optional extras: evalplus (HumanEval+/MBPP+) and lm-eval (``lm_eval:<task>``), each
on made-up local fixtures. Skipped when the extra is not installed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.errors import ConfigError
from tests.settings_helper import scoring_context, task_for

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _score_all(task, pairs):
    async def go():
        ctx = scoring_context(workers=1, timeout_s=5)
        try:
            return [await task.score(p, r, ctx) for p, r in pairs]
        finally:
            ctx.close()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("name", "file", "wrong"),
    [
        ("humaneval_plus", "humaneval_plus_mini.jsonl",
         "```python\ndef add_floats(a, b):\n    return a - b\n```"),
        ("mbpp_plus", "mbpp_plus_mini.jsonl",
         "```python\ndef double_it(x):\n    return x + 2\n```"),
    ],
)  # fmt: skip
def test_evalplus_tasks_on_fixtures(name: str, file: str, wrong: str) -> None:
    task = task_for(name, data_files=str(FIXTURES / "evalplus" / file))
    problems = task.load()
    assert len(problems) == 2 and all(p.entry_point for p in problems)
    assert all("assert" not in p.prompt or name == "mbpp_plus" for p in problems)
    pairs = [(p, p.reference_response) for p in problems] + [(problems[0], wrong)]
    # evalplus's sanitizer keeps the entry point and drops chatter and example calls
    chatty = f"Here you go:\n{problems[0].reference_response}\nprint('demo')"
    pairs.append((problems[0], chatty))
    scores = _score_all(task, pairs)
    assert [s.correct for s in scores] == [True, True, False, True], [s.reason for s in scores]
    assert scores[2].reason.startswith("failed")


def test_evalplus_special_oracles_apply() -> None:
    task = task_for("mbpp_plus", data_files=str(FIXTURES / "evalplus" / "mbpp_plus_mini.jsonl"))
    p = task.load()[1]
    # similar_elements is in evalplus's MBPP_OUTPUT_SET_EQ_TASKS: any order is accepted
    reordered = "```python\ndef similar_elements(a, b):\n    return [x for x in b if x in a]\n```"
    missing = "```python\ndef similar_elements(a, b):\n    return [x for x in a if x in b][:1]\n```"
    ok, bad = _score_all(task, [(p, reordered), (p, missing)])
    assert ok.correct and not bad.correct


@pytest.mark.slow
def test_lm_eval_task_from_local_yaml(tmp_path: Path) -> None:
    src = FIXTURES / "lm_eval"
    yaml = (src / "harness_fixture_arith.yaml").read_text()
    (tmp_path / "harness_fixture_arith.yaml").write_text(
        yaml.replace("__DATA__", str(src / "arith.jsonl"))
    )
    task = task_for("lm_eval", name="lm_eval:harness_fixture_arith",
                    task="lm_eval:harness_fixture_arith", include_path=str(tmp_path),
                    domain="math")  # fmt: skip
    problems = task.load()
    assert len(problems) == 3 and problems[0].prompt.startswith("Question: What is 2 + 3")
    assert problems[0].domain == "math" and "####" not in problems[0].prompt
    scores = _score_all(task, [(p, p.reference_response) for p in problems])
    assert all(s.correct for s in scores)
    wrong, nothing = _score_all(task, [(problems[0], "So #### 6"), (problems[0], "no idea")])
    assert not wrong.correct and wrong.answer == "6"
    assert not nothing.correct and wrong.details["lm_eval"]["strict-match"]["exact_match"] == 0.0
    with pytest.raises(ConfigError, match="no task"):
        task_for("lm_eval", task="lm_eval:does_not_exist", include_path=str(tmp_path)).load()
