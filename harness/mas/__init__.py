"""Multi-agent systems: ``mas=single | agentverse | ceo``. Each has ``solve(episode)``.

The episode and its call log live in :mod:`harness.mas.base`, the protocol's reusable steps in
:mod:`harness.mas.steps`, the rounds each system runs in :mod:`harness.mas.rounds`, agents'
chat histories in :mod:`harness.mas.memory`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.mas.base import Episode, EpisodeAborted, EpisodeResult
from harness.mas.prompts import Prompts
from harness.mas.settings import AgentVerseSettings, CEOSystemSettings, SingleSettings

__all__ = ["Episode", "EpisodeAborted", "EpisodeResult", "build_mas"]


def build_mas(
    settings: SingleSettings | AgentVerseSettings,
    prompts: Mapping[str, Any],
    *,
    agents: int,
    tokens: int,
    turns: int,
    critic_rounds: int,
    sandbox_factory: Callable[[], Any] | None = None,
) -> Any:
    """The system ``settings`` describe (typed settings: ``harness.mas.settings.mas_settings``
    builds them from the config), with the prompt set as a plain mapping;
    ``sandbox_factory()`` returns the shared sandbox (only the executor of code tasks calls it)."""
    prompt_set = Prompts(prompts)
    if isinstance(settings, SingleSettings):
        from harness.mas.single import SingleAgent

        return SingleAgent(settings, prompt_set, tokens=tokens)
    kwargs = dict(
        agents=agents,
        tokens=tokens,
        turns=turns,
        critic_rounds=critic_rounds,
        sandbox_factory=sandbox_factory,
    )
    if isinstance(settings, CEOSystemSettings):
        from harness.mas.ceo import CEOSystem

        return CEOSystem(settings, prompt_set, **kwargs)
    if isinstance(settings, AgentVerseSettings):
        from harness.mas.agentverse import AgentVerse

        return AgentVerse(settings, prompt_set, **kwargs)
    raise TypeError(f"build_mas needs a system's settings, got {type(settings).__name__}")
