"""The roles of the multi-agent systems, and a well-formed output of each.

Lowest layer: transcripts, seeds, per-role token limits, the table engines (oracle, replay) and
the reports key on these names.
"""

from __future__ import annotations

RECRUITER = "recruiter"
SOLVER = "solver"
JUDGE = "judge"  # not an agent of the system: the optional LLM judge of scoring
CRITIC = "critic"
EXECUTOR = "executor"
EVALUATOR = "evaluator"
CEO = "ceo"
ROLES = (CEO, RECRUITER, SOLVER, CRITIC, EXECUTOR, EVALUATOR)


_CANNED_EXPERTS = [
    "A mathematician specialized in algebra, with expertise in equation solving",
    "A computer scientist specialized in algorithms, with expertise in correctness proofs",
    "A physicist specialized in modelling, with expertise in dimensional analysis",
    "A statistician specialized in probability, with expertise in combinatorics",
    "A software engineer specialized in Python, with expertise in testing edge cases",
    "A chemist specialized in physical chemistry, with expertise in quantitative reasoning",
    "A linguist specialized in semantics, with expertise in precise wording",
    "A logician specialized in formal reasoning, with expertise in checking arguments",
    "A biologist specialized in molecular biology, with expertise in experimental design",
    "An engineer specialized in numerical methods, with expertise in estimation",
    "A teacher specialized in mathematics education, with expertise in spotting errors",
    "An economist specialized in optimization, with expertise in constraint problems",
]

_CANNED_SOLUTION = {
    "math": "The answer is \\boxed{0}.",
    "mc": "The answer is \\boxed{A}.",
    "code": "```python\ndef solution():\n    return None\n```",
    "text": "A short paragraph.",
}


def canned_response(role: str, domain: str) -> str:
    """A well-formed output of ``role`` that the parsers above accept, for engines that do not
    generate text (the oracle answers the solver with the reference; these fill the rest)."""
    if role == RECRUITER:
        return "\n".join(f"{i}. {e}" for i, e in enumerate(_CANNED_EXPERTS, 1))
    if role == CRITIC:
        return "The solution is consistent with the task and its answer is stated. [Agree]"
    if role == EVALUATOR:
        return (
            "### Correctness: 1\n### Advice: The solution is correct.\n"
            "### Recruiting Suggestion: The same experts."
        )
    if role == CEO:
        return (
            "### Decision: <Continue>\n### Recruit Number: 2\n"
            "### Direction: Check the final answer carefully.\n### Maximum Tokens: 2048"
        )
    if role == EXECUTOR:
        return (
            "### Thought: The solution must at least define its functions without errors.\n"
            "### Code:\n```python\nassert True\n```"
        )
    if role == JUDGE:
        return "Judgement: correct"
    if role == SOLVER:
        return _CANNED_SOLUTION.get(domain, _CANNED_SOLUTION["text"])
    raise ValueError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
