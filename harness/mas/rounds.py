"""The systems' rounds, in one place: a round is the sequence of steps a system lists, each an
``async (state) -> None`` over the episode's state (harness.mas.steps), as Inspect AI's
``Chain`` runs solvers. A step that ends the episode sets ``state.stop``; the rest of that round
is skipped. A new system (a debate, a vote) is a new list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from harness.mas import steps
from harness.mas.decide import decide

Step = Callable[[steps.State], Awaitable[None]]

#: the fixed system: ``agents`` experts, the evaluator's advice as the direction
AGENTVERSE: tuple[Step, ...] = (
    steps.fixed_plan,
    steps.begin_round,
    steps.recruit,
    steps.direct,
    steps.discuss,
    steps.execute,
    steps.evaluate,
    steps.end_on_correct,
)
#: the adaptive system: the CEO's decision in place of the fixed plan
CEO: tuple[Step, ...] = (decide, *AGENTVERSE[1:])
