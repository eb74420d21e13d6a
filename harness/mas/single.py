"""mas=single: one solver call per problem, no roles: the baseline."""

from __future__ import annotations

from typing import Any

from harness.mas.base import CallSite, Episode, EpisodeResult
from harness.mas.parsing import SOLVER
from harness.mas.prompts import Prompts
from harness.mas.settings import SingleSettings


class SingleAgent:
    name = "single"

    def __init__(self, settings: SingleSettings, prompts: Prompts, *, tokens: int, **_: Any):
        self.settings = settings
        self.prompts = prompts
        self.tokens = tokens

    async def solve(self, ep: Episode) -> EpisodeResult:
        ep.policy = self.settings.calls
        messages = [
            {"role": "system", "content": self.prompts.get("single", "system")},
            {"role": "user", "content": self.prompts.render("single", "user", problem=ep.problem)},
        ]
        # Any reply is the answer; ask() only adds the reasoning-model recovery of a thinking
        # that ran out of tokens (reasoning.think_retries).
        reply = await ep.ask(
            CallSite(SOLVER, 1, "answer"), messages, self.tokens, lambda text: text
        )
        call = reply.record
        ep.result.response = call.output
        ep.result.rounds = 1
        ep.result.agents = [1]
        if call.error:
            ep.result.error = call.error
        return ep.result
