"""Render a conversation with the model's chat template; loss on the assistant's tokens only.

TRL's ``assistant_only_loss`` needs a chat template with ``{% generation %}`` markers, which
the templates of Qwen2.5 and of most chat models (and our ``tiny``) do not have; so the
assistant spans are found here by rendering the conversation turn by turn with the model's
own template: an assistant turn is the text between the prompt rendered with
``add_generation_prompt=True`` and the conversation rendered through that turn. Its end-of-turn
token (``<|im_end|>`` in ChatML) is inside the span and is trained on — a model that never
learns to stop is the classic failure; the whitespace the template puts after it is not.
The whole conversation is tokenized once, as the model sees it at inference, and each token is
labelled by where its characters lie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import DataError

IGNORE = -100


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    truncated: bool = False


def assistant_spans(
    tokenizer: Any, messages: list[dict[str, str]]
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered text and the character spans of every assistant turn in it."""
    text = _render(tokenizer, messages, generation_prompt=False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or m.get("weight", 1) == 0:
            continue
        before = _render(tokenizer, messages[:i], generation_prompt=True) if i else ""
        through = _render(tokenizer, messages[: i + 1], generation_prompt=False)
        if not text.startswith(through) or not through.startswith(before):
            raise DataError(
                "the chat template does not render a conversation as a prefix of its "
                "continuation, so assistant turns cannot be located; use a template that does "
                "(ChatML, Llama 3, …)"
            )
        end = len(through.rstrip())
        if end > len(before):
            spans.append((len(before), end))
    return text, spans


def encode(tokenizer: Any, messages: list[dict[str, str]]) -> Encoded:
    """Token ids and labels (``IGNORE`` outside assistant turns) of one conversation."""
    text, spans = assistant_spans(tokenizer, messages)
    # The template already holds any BOS: no special tokens on top.
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = [IGNORE] * len(ids)
    k = 0
    for t, (start, end) in enumerate(enc["offset_mapping"]):
        while k < len(spans) and spans[k][1] <= start:
            k += 1
        if k < len(spans) and spans[k][0] <= start < spans[k][1] and end > start:
            labels[t] = ids[t]
    return Encoded(ids, labels)


def fit(encoded: Encoded, cutoff: int, overflow: str) -> Encoded | None:
    """Apply the cutoff: ``truncate`` keeps the first ``cutoff`` tokens, ``drop`` drops the
    sample. A sample left without any trained token is dropped either way."""
    if len(encoded.input_ids) > cutoff:
        if overflow == "drop":
            return None
        if overflow != "truncate":
            raise DataError(f"data.overflow={overflow!r} must be truncate or drop")
        encoded = Encoded(encoded.input_ids[:cutoff], encoded.labels[:cutoff], truncated=True)
    if all(label == IGNORE for label in encoded.labels):
        return None
    return encoded


def _render(tokenizer: Any, messages: list[dict[str, Any]], generation_prompt: bool) -> str:
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    return tokenizer.apply_chat_template(
        plain, tokenize=False, add_generation_prompt=generation_prompt
    )
