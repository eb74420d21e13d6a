"""mas=ceo: the adaptive system. Before each round a CEO agent decides Continue/Stop, how many
experts to recruit, a discussion direction and a per-agent token budget (its step:
harness.mas.decide); the rest of the round is the AgentVerse protocol, and the direction is
what gets broadcast into the agents' memories. The CEO sees the task, the latest solution, the
evaluator's last verdict and the resources spent, never a chat history.
"""

from __future__ import annotations

from typing import Any

from harness.mas import rounds
from harness.mas.agentverse import AgentVerse
from harness.mas.parsing import CEO
from harness.mas.settings import CEOSystemSettings
from harness.mas.steps import CEOBounds


class CEOSystem(AgentVerse):
    name = "ceo"
    settings: CEOSystemSettings
    round_steps = rounds.CEO

    def __init__(self, settings: CEOSystemSettings, *args: Any, **kwargs: Any) -> None:
        super().__init__(settings, *args, **kwargs)
        ceo = settings.ceo
        max_agents = ceo.max_agents
        self.bounds = CEOBounds(min(ceo.min_agents, max_agents), max_agents, ceo.menu(self.tokens))
        self.context.ceo = self.bounds

    def _templates(self) -> dict[str, tuple[str, ...]]:
        return {**super()._templates(), CEO: ("system", "user", "resources_first", "resources")}
