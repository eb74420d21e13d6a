"""The two records every layer shares: a problem as posed, and the score of one answer.

Lowest layer: engines, sandbox, scoring, tasks and the multi-agent systems all import from
here, and this module imports nothing of the harness.
"""

from __future__ import annotations

import json
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
    # How a reader (viewer, W&B table) is shown the reference, where ``reference`` is structured
    # for the scorer (hidden tests, inputs); None: derived from ``reference``.
    reference_text: str | None = None

    def shown_reference(self) -> str:
        if self.reference_text is not None:
            return self.reference_text
        ref = self.reference
        if isinstance(ref, (list, tuple)):
            return ", ".join(str(x) for x in ref)
        return ref if isinstance(ref, str) else json.dumps(ref, default=str)


@dataclass
class Score:
    correct: bool
    answer: str | None  # what was extracted from the response (None: nothing extractable)
    reason: str | None = None  # why it is wrong / how it failed, for the transcript
    details: dict[str, Any] = field(default_factory=dict)
