"""Batches for the Trainer: right padding with a pad token that is not the end-of-turn token."""

from __future__ import annotations

from typing import Any

import torch

from harness.errors import ConfigError
from training.masking import IGNORE


def pad_token_id(tokenizer: Any, pad_token: str | None) -> int:
    """The padding id: ``pad_token`` if given, else the tokenizer's. Padding with the
    end-of-turn token would make that token look like padding to anything that masks by id."""
    if pad_token is not None:
        pid = tokenizer.convert_tokens_to_ids(pad_token)
        if pid is None or pid == tokenizer.unk_token_id:
            raise ConfigError(f"data.pad_token={pad_token!r} is not a token of this tokenizer")
    else:
        pid = tokenizer.pad_token_id
    if pid is None:
        raise ConfigError("the tokenizer has no pad token: set data.pad_token=TOKEN")
    eos = tokenizer.eos_token_id
    if pid == eos:
        raise ConfigError(
            f"the pad token {tokenizer.convert_ids_to_tokens(pid)!r} is the end-of-turn token; "
            "set data.pad_token to another token (e.g. <|endoftext|>)"
        )
    return int(pid)


class PadCollator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids, labels, mask = [], [], []
        for b in batch:
            n = len(b["input_ids"])
            ids.append(b["input_ids"] + [self.pad_id] * (width - n))
            labels.append(b["labels"] + [IGNORE] * (width - n))
            mask.append(b.get("attention_mask", [1] * n) + [0] * (width - n))
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "attention_mask": torch.tensor(mask, dtype=torch.long),
        }
