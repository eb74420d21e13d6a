"""Scoring: answer extraction, math equivalence (math-verify), per-kind scorers and run
statistics. Tasks (``tasks/``) pick the scorer; the runner merges ``stats.summarize`` into
``summary.json``."""

from harness.scoring.extract import Extraction, extract_code, extract_letter, extract_math
from harness.scoring.math_equiv import is_equivalent, math_equal
from harness.scoring.stats import accuracy, majority_vote, pass_at_k, summarize

__all__ = [
    "Extraction",
    "accuracy",
    "extract_code",
    "extract_letter",
    "extract_math",
    "is_equivalent",
    "majority_vote",
    "math_equal",
    "pass_at_k",
    "summarize",
]
