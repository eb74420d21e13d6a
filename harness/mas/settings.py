"""Typed settings of the multi-agent systems (``conf/mas/*.yaml``) and of the reasoning knobs
every episode reads (the ``reasoning:`` block of ``conf/config.yaml``).

The dataclasses name and type the keys; the values, defaults included, live only in the YAML.
Build them with :func:`harness.settings.from_node`; the checks below are the ones a type cannot
express (a window of 0 messages, an unknown memory kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.roles import CEO, CRITIC, EVALUATOR, EXECUTOR, RECRUITER, ROLES, SOLVER
from harness.settings import from_node

MEMORY = ("chat_history", "none")
STOP_ON = ("evaluator", "ceo", "either")
#: roles that keep a chat history under ``mas.memory=chat_history`` (the original's design:
#: the CEO, the recruiter, the executor and the evaluator are never sent any)
REMEMBERING = (SOLVER, CRITIC)


@dataclass(frozen=True)
class ReasoningSettings:
    """``reasoning:`` of conf/config.yaml: how a reasoning model's thinking is handled."""

    force_think: bool  # every answer starts inside "<think>" (M1's original setting)
    budget_forcing_tokens: int  # > 0: close a cut-off thinking and allow this many more tokens
    reasoning_model: bool  # the model thinks in <think>…</think> (from model.reasoning_model)
    think_retries: int  # re-asks after a reasoning model ran out of tokens while thinking
    think_retry_budget: float  # a re-ask's max_tokens, as a fraction of the previous one
    retry_temperature: float  # a re-ask of the same messages samples at least this hot

    def __post_init__(self) -> None:
        _at_least(self.budget_forcing_tokens, 0, "reasoning.budget_forcing_tokens")
        _at_least(self.think_retries, 0, "reasoning.think_retries")
        if not 0 < self.think_retry_budget <= 1:
            raise ConfigError(
                f"reasoning.think_retry_budget={self.think_retry_budget} must be in (0, 1]"
            )
        if self.retry_temperature < 0:
            raise ConfigError(f"reasoning.retry_temperature={self.retry_temperature} must be ≥ 0")


@dataclass(frozen=True)
class CallPolicy:
    """How an episode asks: parse retries, and what to do while the engine is unavailable."""

    parse_retries: int
    engine_retries: int
    engine_backoff_s: float


@dataclass(frozen=True)
class SingleSettings:
    """conf/mas/single.yaml"""

    name: str
    engine_retries: int
    engine_backoff_s: float

    @property
    def calls(self) -> CallPolicy:
        return CallPolicy(0, self.engine_retries, self.engine_backoff_s)


@dataclass(frozen=True)
class AgentVerseSettings:
    """conf/mas/agentverse.yaml"""

    name: str
    memory: str  # chat_history (the original) | none (stateless prompts: an ablation)
    history_window: dict[str, int]  # last N messages each remembering role sees
    role_tokens: dict[str, int | None]  # explicit token limits (null: follow `tokens`)
    parse_retries: int
    engine_retries: int
    engine_backoff_s: float
    end_on_correct: bool
    execute_code: bool
    exec_timeout_s: float

    def __post_init__(self) -> None:
        if self.memory not in MEMORY:
            raise ConfigError(f"mas.memory={self.memory!r} (accepted: {', '.join(MEMORY)})")
        for role in REMEMBERING:
            if role not in self.history_window:
                raise ConfigError(f"missing key mas.history_window.{role}")
            _at_least(self.history_window[role], 1, f"mas.history_window.{role}")
        unknown = sorted(set(self.role_tokens) - set(ROLES))
        if unknown:
            raise ConfigError(
                f"unknown role mas.role_tokens.{unknown[0]} (accepted: {', '.join(ROLES)})"
            )
        for role, n in self.role_tokens.items():
            if n is not None:
                _at_least(n, 1, f"mas.role_tokens.{role}")
        _at_least(self.parse_retries, 0, "mas.parse_retries")
        _at_least(self.engine_retries, 0, "mas.engine_retries")

    @property
    def calls(self) -> CallPolicy:
        return CallPolicy(self.parse_retries, self.engine_retries, self.engine_backoff_s)

    @property
    def remembers(self) -> bool:
        return self.memory == "chat_history"


@dataclass(frozen=True)
class CEOSettings:
    """``mas.ceo`` of conf/mas/ceo.yaml: the bounds every CEO decision is clamped to."""

    min_agents: int
    max_agents: int
    budget_menu: list[int] | None  # null: `budget_menu_entries` halvings of `tokens`
    budget_menu_entries: int
    budget_roles: list[str]  # roles whose token limit the CEO's budget sets

    def __post_init__(self) -> None:
        _at_least(self.min_agents, 1, "mas.ceo.min_agents")
        _at_least(self.max_agents, 1, "mas.ceo.max_agents")
        _at_least(self.budget_menu_entries, 1, "mas.ceo.budget_menu_entries")
        for role in self.budget_roles:
            if role not in (RECRUITER, SOLVER, CRITIC, EXECUTOR, EVALUATOR):
                raise ConfigError(
                    f"mas.ceo.budget_roles: {role!r} is not a role the CEO budgets "
                    f"(accepted: {RECRUITER}, {SOLVER}, {CRITIC}, {EXECUTOR}, {EVALUATOR})"
                )

    def menu(self, tokens: int) -> list[int]:
        """The budgets the CEO may choose from, none above ``tokens``."""
        if self.budget_menu is None:
            menu = {max(1, tokens >> i) for i in range(self.budget_menu_entries)}
        else:
            menu = {int(b) for b in self.budget_menu if 0 < int(b) <= tokens}
        return sorted(menu) or [tokens]


@dataclass(frozen=True)
class CEOSystemSettings(AgentVerseSettings):
    """conf/mas/ceo.yaml: agentverse's settings plus the CEO's."""

    stop_on: str  # who may end an episode: evaluator | ceo | either
    ceo: CEOSettings

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.stop_on not in STOP_ON:
            raise ConfigError(f"mas.stop_on={self.stop_on!r} (accepted: {', '.join(STOP_ON)})")
        if CEO in self.ceo.budget_roles:
            raise ConfigError("mas.ceo.budget_roles may not name the CEO itself")


SETTINGS = {"single": SingleSettings, "agentverse": AgentVerseSettings, "ceo": CEOSystemSettings}


def mas_settings(node: Any) -> SingleSettings | AgentVerseSettings | CEOSystemSettings:
    """The settings of the system ``node.name`` names, from its config node (or the instance)."""
    if isinstance(node, SingleSettings | AgentVerseSettings):
        return node
    name = node.get("name") if hasattr(node, "get") else None
    if name not in SETTINGS:
        raise ConfigError(f"unknown mas '{name}' (accepted: {', '.join(SETTINGS)})")
    return from_node(SETTINGS[name], node, "mas")


def _at_least(value: int, low: int, what: str) -> int:
    if value < low:
        raise ConfigError(f"{what}={value} must be at least {low}")
    return value
