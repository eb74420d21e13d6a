import pytest

from harness.errors import ConfigError
from harness.rows import ResultRow, Summary
from harness.run_settings import judge_model_settings
from harness.scoring.judge import parse_verdict
from harness.summary import _add_judge


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Judgement: correct", True),
        ("**Judgment:** Incorrect.", False),
        ("<think>Judgement: incorrect</think>\nJudgement: correct", True),
        ("The answer matches.", None),
    ],
)
def test_verdict_parsing(text, verdict):
    assert parse_verdict(text) is verdict


def test_unknown_judge_model_lists_accepted_names():
    with pytest.raises(ConfigError, match="accepted: .*smollm2-135m"):
        judge_model_settings("gpt-99")


def test_judge_figures_sit_beside_the_symbolic_ones():
    rows = [
        ResultRow("1", correct=True, judge_correct=True),
        ResultRow("2", correct=False, judge_correct=True),
        ResultRow("3", correct=False, judge_correct=None),  # the judge's reply was unparsed
    ]
    s = Summary()
    _add_judge(s, rows)
    judge = {k: v for k, v in s.to_json().items() if k.startswith("judge_")}
    assert judge == {
        "judge_n": 2,
        "judge_unparsed": 1,
        "judge_accuracy": 1.0,
        "judge_agreement": 0.5,
    }
    unjudged = Summary()
    _add_judge(unjudged, [ResultRow("1", correct=True)])
    assert not any(k.startswith("judge_") for k in unjudged.to_json())  # no judge: no keys


def test_the_judge_model_is_read_with_the_run_settings():
    from tests.settings_helper import settings_for

    assert settings_for().judge_model is None
    judge = settings_for("scoring.judge=smollm2-135m").judge_model
    assert (judge.engine, judge.name, judge.build) == ("transformers", "smollm2-135m", "smollm2")
