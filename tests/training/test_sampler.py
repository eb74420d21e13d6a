"""The grouped sampler on its own: whole groups inside one optimizer step, generation order,
seeded shuffles identical on every rank, split groups in order — checked through accelerate's
own batch dealing (``BatchSamplerShard``), the way the Trainer feeds ranks."""

from __future__ import annotations

import pytest
from accelerate.data_loader import BatchSamplerShard
from torch.utils.data import BatchSampler

from training.sampler import GroupedStepSampler, plan_steps, rank_batches

FILLER = 10_000


def make_groups(sizes: list[int]) -> list[list[int]]:
    groups, start = [], 0
    for n in sizes:
        groups.append(list(range(start, start + n)))
        start += n
    return groups


def dealt(sampler, world: int, batch: int) -> list[list[list[int]]]:
    """Per rank, the batches accelerate's BatchSamplerShard gives that rank."""
    out = []
    for rank in range(world):
        shard = BatchSamplerShard(
            BatchSampler(sampler, batch, drop_last=False),
            num_processes=world,
            process_index=rank,
            split_batches=False,
            even_batches=True,
        )
        out.append([list(b) for b in shard])
    return out


def optimizer_steps(per_rank: list[list[list[int]]], accum: int) -> list[list[int]]:
    """The samples of each optimizer step, over all ranks (filler removed)."""
    n_micro = len(per_rank[0])
    assert all(len(r) == n_micro for r in per_rank), "ranks must run the same number of batches"
    assert n_micro % accum == 0
    steps = []
    for s in range(n_micro // accum):
        micro = range(s * accum, (s + 1) * accum)
        # Within a step, the global order is micro-step by micro-step, rank by rank.
        samples = [i for m in micro for r in per_rank for i in r[m]]
        steps.append([i for i in samples if i != FILLER])
    return steps


def owner_of(groups):
    return {i: g for g, members in enumerate(groups) for i in members}


@pytest.mark.parametrize("world,batch,accum", [(1, 2, 2), (2, 1, 2), (2, 2, 1), (2, 2, 3)])
def test_every_group_whole_and_in_order_inside_one_step(world, batch, accum):
    sizes = [4, 4, 3, 4, 1, 2, 4, 4, 3, 2]  # M500-like: up to 4 conversations per question
    groups = make_groups(sizes)
    sampler = GroupedStepSampler(
        groups, world_size=world, per_device_batch=batch, grad_accum=accum, seed=7, filler=FILLER
    )
    steps = optimizer_steps(dealt(sampler, world, batch), accum)
    owner = owner_of(groups)
    seen = []
    for step in steps:
        assert len(step) <= world * batch * accum
        by_group: dict[int, list[int]] = {}
        for i in step:
            by_group.setdefault(owner[i], []).append(i)
        for g, members in by_group.items():
            assert members == groups[g], f"group {g} not whole or not in order in one step"
        # Groups are contiguous in the step, never interleaved.
        order = [owner[i] for i in step]
        assert order == sorted(order, key=order.index)
        assert all(
            order[k] == order[k + 1] or order[k + 1] not in order[:k] for k in range(len(order) - 1)
        )
        seen += step
    assert sorted(seen) == list(range(sum(sizes))), "every sample exactly once per epoch"


def test_world_size_two_ranks_get_the_same_plan_and_disjoint_halves():
    groups = make_groups([3, 4, 2, 4, 1])
    plans = [
        list(
            GroupedStepSampler(
                groups, world_size=2, per_device_batch=1, grad_accum=2, seed=3, filler=FILLER
            )
        )
        for _rank in range(2)
    ]
    assert plans[0] == plans[1]  # a sampler per rank, same seed: the same global sequence
    per_rank = rank_batches(plans[0], world_size=2, per_device_batch=1)
    flat = [[i for b in r for i in b if i != FILLER] for r in per_rank]
    assert not set(flat[0]) & set(flat[1])
    assert sorted(flat[0] + flat[1]) == list(range(14))


def test_group_larger_than_a_step_is_split_in_order_never_interleaved():
    groups = make_groups([2, 11, 3])  # step size 4: the 11-sample group spans 3 steps
    for epoch in range(5):
        steps = plan_steps(groups, 4, seed=1, epoch=epoch)
        flat = [i for s in steps for i in s if i is not None]
        big = groups[1]
        pos = [flat.index(i) for i in big]
        assert pos == list(range(pos[0], pos[0] + len(big))), "split group not contiguous/in order"
        # its first 8 samples fill two whole steps
        start = next(k for k, s in enumerate(steps) if s[0] == big[0])
        assert steps[start] == big[:4] and steps[start + 1] == big[4:8]
        assert steps[start + 2][:3] == big[8:]


def test_groups_shuffled_between_epochs_with_a_seed():
    groups = make_groups([4] * 12)
    s = GroupedStepSampler(
        groups, world_size=1, per_device_batch=2, grad_accum=2, seed=0, filler=FILLER
    )
    epoch0 = list(s)
    s.set_epoch(1)
    epoch1 = list(s)
    assert epoch0 != epoch1 and sorted(epoch0) == sorted(epoch1)
    again = GroupedStepSampler(
        groups, world_size=1, per_device_batch=2, grad_accum=2, seed=0, filler=FILLER
    )
    again.set_epoch(1)
    assert list(again) == epoch1  # reproducible from the seed
    other = GroupedStepSampler(
        groups, world_size=1, per_device_batch=2, grad_accum=2, seed=5, filler=FILLER
    )
    assert list(other) != epoch0


def test_epoch_length_is_the_same_every_epoch_and_a_multiple_of_the_step():
    groups = make_groups([4, 3, 3, 2, 1, 1, 4, 2, 3, 9])
    s = GroupedStepSampler(
        groups, world_size=2, per_device_batch=1, grad_accum=2, seed=11, filler=FILLER
    )
    lengths = set()
    for epoch in range(20):
        s.set_epoch(epoch)
        seq = list(s)
        assert len(seq) == len(s) and len(seq) % 4 == 0
        lengths.add(len(seq))
    assert len(lengths) == 1


def test_free_slots_are_filler_and_few():
    groups = make_groups(
        [3, 1, 2, 2, 4, 3, 1]
    )  # 16 samples: first-fit-decreasing packs into 4 steps of 4
    steps = plan_steps(groups, 4, seed=2, epoch=0)
    assert len(steps) == 4
    assert sum(i is None for s in steps for i in s) == 0
