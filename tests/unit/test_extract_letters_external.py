"""Multiple-choice extraction measured on other projects' published cases
(tests/fixtures/external/<project>/, each with its licence): lighteval's extractive-match letter
tests, Inspect AI's choice/answer scorer and multiple_choice solver tests, lm-eval's
MultiChoiceRegexFilter tests, and simple-evals' multilingual answer patterns (cases built from
its own anchor list and letter scripts, each verdict given by simple-evals' own procedure run
on its vendored patterns). Prints the score per source; fails below the score reached when the
cases were vendored. Misses are explained in the README (extraction section)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from harness.scoring.extract import extract_letter

EXTERNAL = Path(__file__).parents[1] / "fixtures" / "external"
# Measured when the cases were vendored; a lower score is a regression.
FLOORS = {"lighteval": 15, "inspect_ai": 6, "lm-eval": 2, "simple-evals": 177}
TOTALS = {"lighteval": 15, "inspect_ai": 9, "lm-eval": 2, "simple-evals": 178}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _gold_letter(gold: str) -> str:
    """lighteval extracts its gold with the same config as the prediction; our golds are
    letters, so a gold string is read with extract_letter, else as its first capital A-D."""
    got = extract_letter(gold).answer
    if got:
        return got
    m = re.search(r"(?<![A-Za-z])([A-D])(?![a-z])", gold)
    assert m, gold
    return m.group(1)


def lighteval_cases() -> list[tuple[str, bool, bool]]:
    out = []
    for c in _jsonl(EXTERNAL / "lighteval" / "letter_cases.jsonl"):
        got = extract_letter(c["response"]).answer
        out.append((c["source"], got == _gold_letter(c["gold"]), c["expected"]))
    return out


def inspect_cases() -> list[tuple[str, bool, bool]]:
    out = []
    for c in _jsonl(EXTERNAL / "inspect_ai" / "letter_cases.jsonl"):
        got = extract_letter(c["response"]).answer
        out.append((c["source"], [got] == c["target"], c["expected"]))  # one answer per reply
    return out


def lm_eval_cases() -> list[tuple[str, bool, bool]]:
    out = []
    for c in _jsonl(EXTERNAL / "lm_eval" / "gpqa_filter_cases.jsonl"):
        letters = "ABCD"[: len(c["choices"])]
        got = extract_letter(c["response"], letters, c["choices"]).answer
        out.append((c["source"], f"({got})" == c["expected_answer"], True))
    return out


def simple_evals_cases() -> list[tuple[str, str, str]]:
    """(response, gold, source): every anchor of MULTILINGUAL_ANSWER_REGEXES written out with
    a letter in each script simple-evals reads (Latin, Arabic, Bengali, full-width), and the
    GPQA pattern with each markup its normalize_response removes."""
    p = json.loads((EXTERNAL / "simple_evals" / "answer_patterns.json").read_text("utf-8"))
    scripts = [
        "ABCD",
        "أبجد",
        "অবডঢ",
        "ＡＢＣＤ",
    ]
    out = []
    for k, regex in enumerate(p["MULTILINGUAL_ANSWER_REGEXES"]):
        anchor = regex.replace("\\s*", "")
        for s, script in enumerate(scripts):
            i = (k + s) % 4
            response = f"Let me reason about it first.\n\n{anchor} {script[i]}"
            out.append((response, "ABCD"[i], f"simple-evals multilingual anchor {anchor!r}"))
    wrappers = ["$D$", "**D**", "$\\boxed{D}$", "$\\text{D}$", "\\(\\mathbf{D}\\)", "\\mathrm{D}"]
    wrappers += ["D", "(D)", "D.", "d"]
    for w in wrappers:
        out.append((f"Reasoning.\nAnswer: {w}", "D", f"simple-evals GPQA pattern, {w!r}"))
    return out


def simple_evals_verdict(response: str, gold: str) -> bool:
    """simple-evals' own grading (mmlu_eval.py): normalize_response, the first anchor whose
    pattern matches, normalize_extracted_answer, compared with the gold letter."""
    p = json.loads((EXTERNAL / "simple_evals" / "answer_patterns.json").read_text("utf-8"))
    text = response
    for old, new in p["normalize_response_replacements"]:
        text = text.replace(old, new)
    for regex in p["MULTILINGUAL_ANSWER_REGEXES"]:
        m = re.search(p["MULTILINGUAL_ANSWER_PATTERN_TEMPLATE"].format(regex), text)
        if m:
            got = m.group(1)
            for old, new in p["normalize_extracted_answer_replacements"]:
                got = got.replace(old, new)
            return got.strip() == gold
    return False


def test_letter_extraction_on_external_cases() -> None:
    results: list[tuple[str, bool, bool]] = []
    results += [("lighteval " + s, ours, exp) for s, ours, exp in lighteval_cases()]
    results += inspect_cases()
    results += lm_eval_cases()
    for response, gold, source in simple_evals_cases():
        ours = extract_letter(response).answer == gold
        results.append((source, ours, simple_evals_verdict(response, gold)))
    passed: Counter = Counter()
    total: Counter = Counter()
    misses = []
    for source, ours, expected in results:
        project = source.split()[0]
        total[project] += 1
        if ours == expected:
            passed[project] += 1
        else:
            misses.append((source, "ours", ours, "theirs", expected))
    for project in total:
        print(f"\n{project}: {passed[project]}/{total[project]} agree with the project's verdict")
    for miss in misses:
        print("  miss:", miss)
    assert dict(total) == TOTALS
    for project, floor in FLOORS.items():
        assert passed[project] >= floor, (project, passed[project], misses)


def test_simple_evals_procedure_is_run_as_published() -> None:
    """The oracle is simple-evals' own code path: a reply it cannot read is not credited."""
    assert simple_evals_verdict("Answer: B", "B")
    assert not simple_evals_verdict("The answer is B", "B")  # no "Answer:" anchor
    assert simple_evals_verdict("الإجابة: ب", "B")
