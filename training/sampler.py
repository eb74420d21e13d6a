"""Grouped ordering: the samples of one question inside one optimizer step, in generation order.

The paper keeps the traces of one question together in a batch, in the order they were
generated; its released code does not (LLaMA-Factory shuffles samples). No library sampler
does this (transformers' ``LengthGroupedSampler`` groups by length, accelerate's samplers
shuffle samples), hence this one.

How the Trainer consumes a sampler (accelerate's ``BatchSamplerShard``, ``split_batches``
off): the sampler's single global sequence is cut into per-device batches of ``B``; batch
``k`` goes to rank ``k % W``; ``A`` consecutive micro-steps make an optimizer step. So one
optimizer step consumes ``W × B × A`` consecutive indices of the sequence, on every rank
alike. This sampler therefore yields, identically on every rank (same seed, same epoch), a
sequence cut into *steps* of that size, in which:

- every group (question) that fits in a step lies whole inside one step, in its order;
- a group larger than a step fills whole steps in order, its remainder starts the next step;
- free slots left in a step are filled with ``filler`` — an index whose sample has no
  trained token (``training.dataset.TokenDataset``); the Trainer normalises the loss by the
  trained tokens of the whole step, so the gradient is exactly that of the real samples;
- groups are shuffled between epochs by ``seed`` and the epoch, identically on every rank;
  a step may hold several small groups, one after another, never mixed (see ``plan_steps``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler


def step_size(world_size: int, per_device_batch: int, grad_accum: int) -> int:
    """Samples consumed by one optimizer step across all ranks."""
    return world_size * per_device_batch * grad_accum


def plan_steps(
    groups: Sequence[Sequence[int]], size: int, seed: int, epoch: int, shuffle: bool = True
) -> list[list[int | None]]:
    """The steps of one epoch: lists of ``size`` sample indices, ``None`` for a free slot.

    A group larger than a step gets whole steps of its own, in order, and its remainder opens
    the step right after them. The other groups are packed first-fit-decreasing by size (ties
    broken by the epoch's shuffle) into the free room; then the steps are shuffled, a split
    group's steps moving as one block. Which groups share a step and the order of the steps
    change every epoch, while the number of steps depends only on the sizes, so the epoch
    length the Trainer reads once, before the first epoch, holds for every epoch.
    """
    if size < 1:
        raise ValueError(f"step size must be >= 1, got {size}")
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(groups)))
    if shuffle:
        rng.shuffle(order)
    blocks: list[list[list[int]]] = []  # consecutive steps that move together
    small: list[list[int]] = []
    for g in order:
        members = list(groups[g])
        if len(members) <= size:
            if members:
                small.append(members)
            continue
        block = [members[i : i + size] for i in range(0, len(members), size)]
        blocks.append(block)
    # Bins open for packing: the tails of split groups (fullest first, so the packing, and
    # with it the number of steps, depends on sizes only), then new steps as needed.
    open_steps = sorted((b[-1] for b in blocks if len(b[-1]) < size), key=len, reverse=True)
    small.sort(key=len, reverse=True)  # stable: equal sizes keep the shuffled order
    for members in small:
        for step in open_steps:
            if len(step) + len(members) <= size:
                step.extend(members)
                break
        else:
            step = list(members)
            open_steps.append(step)
            blocks.append([step])
    if shuffle:
        rng.shuffle(blocks)
    return [step + [None] * (size - len(step)) for block in blocks for step in block]


class GroupedStepSampler(Sampler[int]):
    """Indices for the Trainer's dataloader: ``groups`` are lists of dataset indices in
    generation order; ``filler`` is the index of a no-loss sample used for free slots."""

    def __init__(
        self,
        groups: Sequence[Sequence[int]],
        *,
        world_size: int,
        per_device_batch: int,
        grad_accum: int,
        seed: int,
        filler: int,
        shuffle: bool = True,
    ) -> None:
        self.groups = [list(g) for g in groups if len(g)]
        self.size = step_size(world_size, per_device_batch, grad_accum)
        self.seed = seed
        self.filler = filler
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        # Called by the Trainer at the start of each epoch, on every rank.
        self.epoch = epoch

    def steps(self) -> list[list[int | None]]:
        return plan_steps(self.groups, self.size, self.seed, self.epoch, self.shuffle)

    def __iter__(self) -> Iterator[int]:
        for step in self.steps():
            for i in step:
                yield self.filler if i is None else i

    def __len__(self) -> int:
        return len(self.steps()) * self.size


def rank_batches(
    sequence: Sequence[int], world_size: int, per_device_batch: int
) -> list[list[list[int]]]:
    """What each rank receives, as accelerate's ``BatchSamplerShard`` deals it: batch ``k`` of
    ``per_device_batch`` consecutive indices goes to rank ``k % world_size``. For tests and
    for the plan printed at start."""
    batches = [
        list(sequence[i : i + per_device_batch]) for i in range(0, len(sequence), per_device_batch)
    ]
    return [batches[r::world_size] for r in range(world_size)]
