"""The order the HF Trainer really feeds: its own train dataloader (accelerate-prepared) over the
fixture, world size 1, read back batch by batch; each optimizer step holds whole questions."""

from __future__ import annotations

import pytest

from harness.engines.model_builds import resolve_model_path
from training.collate import PadCollator, pad_token_id
from training.dataset import build_dataset
from training.settings import compose_train, train_settings
from training.train import grouped_trainer_class


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from omegaconf import OmegaConf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    s = train_settings(compose_train(["+experiment=sft_smoke"]))
    path = resolve_model_path(
        OmegaConf.create(
            {"name": "tiny", "path": None, "build": "tiny", "cache_dir": s.model.cache_dir}
        )
    )
    tok = AutoTokenizer.from_pretrained(path)
    pad = pad_token_id(tok, None)
    dataset, groups, report = build_dataset(s.data, tok, pad)
    model = AutoModelForCausalLM.from_pretrained(path)
    return s, tok, pad, dataset, groups, model, tmp_path_factory.mktemp("order")


def trainer_steps(setup, batch, accum, epoch):
    from transformers import TrainingArguments

    s, tok, pad, dataset, groups, model, out = setup
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=accum,
        report_to=[],
        use_cpu=True,
        remove_unused_columns=False,
        disable_tqdm=True,
    )
    trainer = grouped_trainer_class(groups, dataset.filler, seed=42, grouped=True)(
        model=model, args=args, train_dataset=dataset, data_collator=PadCollator(pad)
    )
    dl = trainer.get_train_dataloader()
    dl.set_epoch(epoch)
    index = {tuple(item["input_ids"]): i for i, item in enumerate(dataset.items)}
    rows = []
    for b in dl:
        for ids, mask in zip(b["input_ids"].tolist(), b["attention_mask"].tolist(), strict=True):
            key = tuple(t for t, m in zip(ids, mask, strict=True) if m)
            rows.append(index.get(key))  # None: the filler
    size = batch * accum
    assert len(rows) % size == 0
    return [rows[k : k + size] for k in range(0, len(rows), size)], groups


@pytest.mark.parametrize("batch,accum", [(2, 2), (1, 3), (3, 2)])
def test_trainer_feeds_whole_questions_per_optimizer_step(setup, batch, accum):
    steps, groups = trainer_steps(setup, batch, accum, epoch=0)
    size = batch * accum
    owner = {i: g for g, members in enumerate(groups) for i in members}
    flat = [i for step in steps for i in step if i is not None]
    assert sorted(flat) == list(range(len(owner)))  # every sample once
    for g, members in enumerate(groups):
        where = [k for k, i in enumerate(flat) if owner[i] == g]
        # contiguous and in generation order, never interleaved with another question
        assert [flat[k] for k in where] == members
        assert where == list(range(where[0], where[0] + len(members)))
        if len(members) <= size:
            in_steps = {k for k, step in enumerate(steps) if set(step) & set(members)}
            assert len(in_steps) == 1, f"question {g} spread over steps {in_steps}"


def test_trainer_epochs_reshuffle_questions(setup):
    first, _ = trainer_steps(setup, 2, 2, epoch=0)
    second, _ = trainer_steps(setup, 2, 2, epoch=1)
    assert first != second
    assert sorted(map(str, first)) != sorted(map(str, second)) or first != second
