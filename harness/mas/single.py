"""mas=single: one solver call per problem, no roles."""

from __future__ import annotations

from typing import Any

from harness.mas.base import Episode, EpisodeResult
from harness.mas.prompts import Prompts


class SingleAgent:
    def __init__(self, cfg: Any, prompts: Prompts, tokens: int, **_: Any) -> None:
        self.cfg = cfg
        self.prompts = prompts
        self.tokens = tokens

    async def solve(self, ep: Episode) -> EpisodeResult:
        messages = [
            {"role": "system", "content": self.prompts.get("single", "system")},
            {"role": "user", "content": self.prompts.render("single", "user", problem=ep.problem)},
        ]
        call = await ep.call("solver", messages, self.tokens, round_=1)
        ep.result.response = call.output
        ep.result.rounds = 1
        ep.result.agents = [1]
        if call.error:
            ep.result.error = call.error
        return ep.result
