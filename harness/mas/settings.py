"""Typed settings of the multi-agent systems (``conf/mas/*.yaml``) and of the reasoning knobs
every episode reads (the ``reasoning:`` block of ``conf/config.yaml``).

The dataclasses name and type the keys; the values, defaults included, live only in the YAML.
Build them with :func:`harness.settings.from_node`; the checks below are the ones a type cannot
express (a window of 0 messages, an unknown memory kind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError
from harness.roles import CEO, CRITIC, EVALUATOR, EXECUTOR, RECRUITER, ROLES, SOLVER
from harness.settings import from_node

MEMORY = ("chat_history", "none")
CUT_THINKING = ("raw", "recover")
FINAL_ANSWER = ("last_message", "last_parsed")
CODE_MESSAGES = ("code_block", "full_text")
CEO_FALLBACK = ("original", "clamp")
STOP_ON = ("evaluator", "ceo", "either")
#: roles that keep a chat history under ``mas.memory=chat_history`` (the original's design:
#: the CEO, the recruiter, the executor and the evaluator are never sent any)
REMEMBERING = (SOLVER, CRITIC)


@dataclass(frozen=True)
class ReasoningSettings:
    """``reasoning:`` of conf/config.yaml: how a reasoning model's thinking is handled."""

    force_think: bool  # every answer starts inside "<think>" (M1's original setting)
    # Budget forcing (the original's, for M1): an answer that comes within `budget_forcing_margin`
    # tokens of its limit with its thinking still open gets the thinking closed and a
    # continuation of `budget_forcing_tokens` (null: min(budget_forcing_context - limit,
    # limit // 2), the original's length).
    budget_forcing: bool
    budget_forcing_tokens: int | None
    budget_forcing_margin: int
    budget_forcing_context: int
    reasoning_model: bool  # the model thinks in <think>…</think> (from model.reasoning_model)
    # A thinking that never closed: raw (the original) keeps the raw text, thinking and its last
    # \boxed{} included, as the output; recover re-asks (think_retries, think_retry_budget), then
    # the caller falls back (keeps the previous solution, scores 0, abstains).
    cut_thinking: str
    think_retries: int  # recover: re-asks after a reasoning model ran out of tokens thinking
    think_retry_budget: float  # recover: a re-ask's max_tokens, as a fraction of the last one
    retry_temperature: float  # a re-ask of the same messages samples at least this hot

    def __post_init__(self) -> None:
        if self.budget_forcing_tokens is not None:
            at_least(self.budget_forcing_tokens, 1, "reasoning.budget_forcing_tokens")
        at_least(self.budget_forcing_margin, 0, "reasoning.budget_forcing_margin")
        at_least(self.budget_forcing_context, 1, "reasoning.budget_forcing_context")
        one_of(self.cut_thinking, CUT_THINKING, "reasoning.cut_thinking")
        at_least(self.think_retries, 0, "reasoning.think_retries")
        if not 0 < self.think_retry_budget <= 1:
            raise ConfigError(
                f"reasoning.think_retry_budget={self.think_retry_budget} must be in (0, 1]"
            )
        if self.retry_temperature < 0:
            raise ConfigError(f"reasoning.retry_temperature={self.retry_temperature} must be ≥ 0")

    def forcing_tokens(self, limit: int) -> int:
        """The continuation budget forcing allows after a cut-off thinking at ``limit`` tokens
        (0: none)."""
        if not self.budget_forcing:
            return 0
        if self.budget_forcing_tokens is not None:
            return self.budget_forcing_tokens
        return max(0, min(self.budget_forcing_context - limit, limit // 2))


#: the original halved max_tokens above this on each re-ask (llms/openai.py: invert_args)
HALVING_FLOOR = 8192


@dataclass(frozen=True)
class CallPolicy:
    """How an episode asks: parse retries, and what to do while the engine is unavailable."""

    parse_retries: int  # re-asks after an unusable reply (attempts - 1)
    engine_retries: int
    engine_backoff_s: float
    role_parse_retries: dict[str, int | None] = field(default_factory=dict)  # per role
    retry_halving: bool = False  # each re-ask halves max_tokens above HALVING_FLOOR

    def retries(self, role: str) -> int:
        """Re-asks ``role`` gets after an unusable reply."""
        n = self.role_parse_retries.get(role)
        return self.parse_retries if n is None else n

    def next_max_tokens(self, role: str, max_tokens: int) -> int:
        """A re-ask's max_tokens: halved above HALVING_FLOOR under ``retry_halving`` (the
        original's invert_args, which its CEO did not call)."""
        if self.retry_halving and role != CEO and max_tokens > HALVING_FLOOR:
            return max_tokens // 2
        return max_tokens


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
    tokens_caps: list[str]  # roles whose limit `tokens` caps
    parse_retries: int  # re-asks after an unusable reply (the original's max_retry - 1)
    role_parse_retries: dict[str, int | None]  # per role (null: parse_retries)
    retry_halving: bool  # each re-ask halves max_tokens above 8192 (the original)
    engine_retries: int
    engine_backoff_s: float
    end_on_correct: bool
    execute_code: bool
    exec_timeout_s: float
    final_answer: str  # last_message (the original) | last_parsed
    code_messages: str  # code_block (the original) | full_text

    def __post_init__(self) -> None:
        if self.memory not in MEMORY:
            raise ConfigError(f"mas.memory={self.memory!r} (accepted: {', '.join(MEMORY)})")
        for role in REMEMBERING:
            if role not in self.history_window:
                raise ConfigError(f"missing key mas.history_window.{role}")
            at_least(self.history_window[role], 1, f"mas.history_window.{role}")
        unknown = sorted(set(self.role_tokens) - set(ROLES))
        if unknown:
            raise ConfigError(
                f"unknown role mas.role_tokens.{unknown[0]} (accepted: {', '.join(ROLES)})"
            )
        for role, n in self.role_tokens.items():
            if n is not None:
                at_least(n, 1, f"mas.role_tokens.{role}")
        for key in ("tokens_caps", "role_parse_retries"):
            unknown = sorted(set(getattr(self, key)) - set(ROLES))
            if unknown:
                raise ConfigError(f"unknown role {unknown[0]!r} in mas.{key}")
        for role, n in self.role_parse_retries.items():
            if n is not None:
                at_least(n, 0, f"mas.role_parse_retries.{role}")
        at_least(self.parse_retries, 0, "mas.parse_retries")
        at_least(self.engine_retries, 0, "mas.engine_retries")
        one_of(self.final_answer, FINAL_ANSWER, "mas.final_answer")
        one_of(self.code_messages, CODE_MESSAGES, "mas.code_messages")

    @property
    def calls(self) -> CallPolicy:
        return CallPolicy(
            self.parse_retries,
            self.engine_retries,
            self.engine_backoff_s,
            dict(self.role_parse_retries),
            self.retry_halving,
        )

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
    # an unusable reply after the retries: original (2 experts, 32000 tokens, no direction;
    # an unreadable recruit number alone: 2) | clamp (last round's values, the upper bounds,
    # the evaluator's advice)
    fallback: str
    # the prompt's calibration: how many experts ordinary and complex tasks usually need
    ordinary_agents: str
    complex_agents: str

    def __post_init__(self) -> None:
        one_of(self.fallback, CEO_FALLBACK, "mas.ceo.fallback")
        at_least(self.min_agents, 1, "mas.ceo.min_agents")
        at_least(self.max_agents, 1, "mas.ceo.max_agents")
        at_least(self.budget_menu_entries, 1, "mas.ceo.budget_menu_entries")
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

    @staticmethod
    def typical_budgets(menu: list[int]) -> tuple[int, int, int]:
        """The prompt's calibration from the menu: (simple, medium, complex) tasks' usual
        budget. On the original's menus: 4096/2048, 8192 and 16384, as its prompts said."""
        n = len(menu)
        return menu[0], menu[max(0, n - 3)], menu[max(0, n - 2)]


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


def at_least(value: int, low: int, what: str) -> int:
    """``value``, or a one-line ConfigError naming ``what`` when it is below ``low``."""
    if value < low:
        raise ConfigError(f"{what}={value} must be at least {low}")
    return value


def one_of(value: str, accepted: tuple[str, ...], what: str) -> str:
    if value not in accepted:
        raise ConfigError(f"{what}={value!r} (accepted: {', '.join(accepted)})")
    return value
