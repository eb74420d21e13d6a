"""Agents' chat histories, kept as the original system kept them (AgentVerse's
``ChatHistoryMemory`` as MAS-TTS used it).

Each remembering agent (the solver, each critic) holds the messages broadcast to it, every one
tagged with its sender; when it is asked, it sees only the last ``mas.history_window.<role>``
of them, rendered into its prompt as one chat-history block (the original's format for local
models: ``[sender]: text`` items inside ``<history>``). The solver's memory lasts the whole
episode; critics get a fresh one each round. The CEO, recruiter, executor and evaluator keep
none.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    sender: str  # "Solver", "Critic 2", "CEO", "Evaluator" (the prompt set's `names`)
    text: str
    call: int | None  # seq of the call that produced it (None: not a model's words)


class Memory:
    """One agent's chat history."""

    def __init__(self, owner: str, window: int) -> None:
        self.owner = owner  # who remembers: "solver", "critic 1", …
        self.window = window
        self.messages: list[Message] = []

    def add(self, message: Message) -> None:
        self.messages.append(message)

    def recent(self) -> list[Message]:
        """What the agent sees when asked: the last ``window`` messages."""
        return self.messages[-self.window :]

    def __len__(self) -> int:
        return len(self.messages)
