"""Multi-agent systems: ``mas=single | agentverse | ceo``. Each has ``solve(episode)``."""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError
from harness.mas.prompts import Prompts


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
    """The system named by ``mas.name``; ``sandbox_factory()`` returns the shared sandbox
    (the executor role of code tasks needs it; other systems never call it)."""
    name = mas_cfg.name
    kwargs = dict(
        prompts=Prompts(prompts_cfg),
        agents=agents,
        tokens=tokens,
        turns=turns,
        critic_rounds=critic_rounds,
        sandbox_factory=sandbox_factory,
    )
    if name == "single":
        from harness.mas.single import SingleAgent

        return SingleAgent(mas_cfg, **kwargs)
    if name == "agentverse":
        from harness.mas.agentverse import AgentVerse

        return AgentVerse(mas_cfg, **kwargs)
    if name == "ceo":
        from harness.mas.ceo import CEOSystem

        return CEOSystem(mas_cfg, **kwargs)
    raise ConfigError(f"unknown mas '{name}' (accepted: single, agentverse, ceo)")
