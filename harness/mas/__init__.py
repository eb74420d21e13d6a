"""Multi-agent systems: ``mas=single | agentverse | ceo``. Each has ``solve(episode)``.

The episode and its call log live in :mod:`harness.mas.base`, the protocol's reusable steps in
:mod:`harness.mas.steps`, the rounds each system runs in :mod:`harness.mas.rounds`, agents'
chat histories in :mod:`harness.mas.memory`.
"""

from __future__ import annotations

from typing import Any

from harness.mas.base import Episode, EpisodeAborted, EpisodeResult
from harness.mas.prompts import Prompts
from harness.mas.settings import mas_settings

__all__ = ["Episode", "EpisodeAborted", "EpisodeResult", "build_mas"]


def build_mas(
    mas_cfg: Any,
    prompts_cfg: Any,
    *,
    agents: int,
    tokens: int,
    turns: int,
    critic_rounds: int,
    sandbox_factory: Any = None,
) -> Any:
    """The system ``mas.name`` names, from its config node (or its settings dataclass);
    ``sandbox_factory()`` returns the shared sandbox (only the executor of code tasks calls it)."""
    settings = mas_settings(mas_cfg)
    prompts = Prompts(prompts_cfg)
    if settings.name == "single":
        from harness.mas.single import SingleAgent

        return SingleAgent(settings, prompts, tokens=tokens)
    kwargs = dict(
        agents=agents,
        tokens=tokens,
        turns=turns,
        critic_rounds=critic_rounds,
        sandbox_factory=sandbox_factory,
    )
    if settings.name == "agentverse":
        from harness.mas.agentverse import AgentVerse

        return AgentVerse(settings, prompts, **kwargs)
    from harness.mas.ceo import CEOSystem

    return CEOSystem(settings, prompts, **kwargs)
