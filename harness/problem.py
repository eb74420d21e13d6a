"""The two records every layer shares: a problem as posed, and the score of one answer.

Lowest layer: engines, sandbox, scoring, tasks and the multi-agent systems all import from
here, and this module imports nothing of the harness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: problem domains: decides the prompt set and the answer format the agents are asked for
DOMAINS = ("math", "mc", "code", "text")


@dataclass
class Problem:
    id: str
    prompt: str  # the task text shown to agents (never the hidden grading tests)
    domain: str  # one of DOMAINS
    reference: Any  # what the scorer compares against (answer string, letter, tests, concepts)
    reference_response: str  # a full model-style response that must score correct (model=oracle)
    meta: dict[str, Any] = field(default_factory=dict)
    # Code tasks: signature the solution must keep and, for the executor agent, public examples.
    entry_point: str | None = None


@dataclass
class Score:
    correct: bool
    answer: str | None  # what was extracted from the response (None: nothing extractable)
    reason: str | None = None  # why it is wrong / how it failed, for the transcript
    details: dict[str, Any] = field(default_factory=dict)
