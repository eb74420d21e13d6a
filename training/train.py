"""The SFT run: settings → tokenizer and data → HF Trainer with DeepSpeed → registered checkpoints.

HF ``Trainer`` rather than TRL's ``SFTTrainer``: the two things that matter here are ours
anyway — assistant-only labels from the model's own chat template (TRL's
``assistant_only_loss`` needs ``{% generation %}`` markers the Qwen2.5 template lacks, see
``training.masking``) and the grouped step order (``training.sampler``); what is left is the
Trainer's DeepSpeed integration, which SFTTrainer only wraps.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback, TrainingArguments

from harness.errors import ConfigError
from harness.tracking.settings import TrackingSettings
from training.checkpoints import CheckpointRecorder, sweep_command
from training.collate import PadCollator, pad_token_id
from training.dataset import build_dataset
from training.sampler import GroupedStepSampler, step_size
from training.settings import ModelSpec, TrainSettings, train_settings

log = logging.getLogger("training")


def single_process_env() -> None:
    """A plain ``python -m training`` is a world of one: DeepSpeed still wants a process group
    (gloo on CPU), so give it the rendezvous variables a launcher would have set."""
    defaults = {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
    }
    if "WORLD_SIZE" not in os.environ:
        import socket

        with socket.socket() as s:  # a free port, so two runs on one machine do not collide
            s.bind(("127.0.0.1", 0))
            defaults["MASTER_PORT"] = str(s.getsockname()[1])
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


def choose_attention(requested: str) -> str:
    """flash_attention_2 when flash-attn is installed and a GPU is there, else sdpa."""
    choices = ("auto", "flash_attention_2", "sdpa", "eager")
    if requested not in choices:
        raise ConfigError(
            f"model.attn_implementation={requested!r} is not one of {', '.join(choices)}"
        )
    if requested != "auto":
        return requested
    if importlib.util.find_spec("flash_attn") is not None and torch.cuda.is_available():
        return "flash_attention_2"
    return "sdpa"


def choose_bf16(value: str) -> bool:
    v = str(value).lower()
    if v == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if v in ("true", "false"):
        return v == "true"
    raise ConfigError(f"train.bf16={value!r} must be auto, true or false")


def choose_dtype(spec: ModelSpec, bf16: bool) -> torch.dtype:
    names = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
    if spec.dtype == "auto":
        return torch.bfloat16 if bf16 else torch.float32
    if spec.dtype not in names:
        raise ConfigError(f"model.dtype={spec.dtype!r} is not one of auto, {', '.join(names)}")
    return names[spec.dtype]


def tracking_env(spec: TrackingSettings, run_dir: Path, run_name: str) -> list[str]:
    """The harness's ``tracking.wandb`` settings, as the Trainer's W&B callback reads them
    (environment variables); the W&B run's files go under the run dir."""
    from harness.tracking.mode import resolve_mode

    w = spec.wandb
    mode = resolve_mode(w.mode)
    if mode == "disabled":
        return []
    env = {
        "WANDB_MODE": mode,
        "WANDB_DIR": str(run_dir),
        "WANDB_PROJECT": w.project,
        "WANDB_ENTITY": w.entity,
        "WANDB_RUN_GROUP": w.group,
        "WANDB_NAME": w.name or run_name,
        "WANDB_TAGS": ",".join(w.tags) if w.tags else None,
        "WANDB_NOTES": w.notes,
        "WANDB_JOB_TYPE": "train",
        "WANDB_LOG_MODEL": "false",  # never upload checkpoints
        "WANDB_INIT_TIMEOUT": str(w.init_timeout_s),
    }
    if not w.system_metrics:
        env["WANDB_DISABLE_STATS"] = "true"
    for key, value in env.items():
        if value is not None:
            os.environ[key] = value
    if mode == "offline":
        log.info("W&B offline: upload later with `wandb sync %s/wandb/offline-run-*`", run_dir)
    return ["wandb"]


class MetricsLog(TrainerCallback):
    """Every logged figure, one JSON line each, as it comes (nothing lost on a crash)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"step": state.global_step, **logs}) + "\n")


def grouped_trainer_class(groups: list[list[int]], filler: int, seed: int, grouped: bool):
    from transformers import Trainer

    class GroupedTrainer(Trainer):
        def _get_train_sampler(self, train_dataset=None):
            if not grouped:
                gen = torch.Generator().manual_seed(seed)
                return torch.utils.data.RandomSampler(range(filler), generator=gen)
            return GroupedStepSampler(
                groups,
                world_size=self.args.world_size,
                per_device_batch=self.args.per_device_train_batch_size,
                grad_accum=self.args.gradient_accumulation_steps,
                seed=seed,
                filler=filler,
            )

    return GroupedTrainer


def check_warmup_ratio(ratio: float) -> None:
    # 1 or more would be read as a step count (a ratio of 1 would warm up for a single step)
    if not 0 <= ratio < 1:
        raise ConfigError(f"train.warmup_ratio={ratio!r} must be at least 0 and below 1")


def training_arguments(
    s: TrainSettings, run_dir: Path, bf16: bool, report_to: list[str]
) -> TrainingArguments:
    """The HF ``TrainingArguments`` of a run. The warmup is a fraction of the optimizer steps:
    transformers 5 (pinned in pyproject.toml) has no ``warmup_ratio`` and reads a
    ``warmup_steps`` below 1 as that fraction; 4.x would have taken 0.05 as 0.05 steps."""
    check_warmup_ratio(s.train.warmup_ratio)
    return TrainingArguments(
        output_dir=str(run_dir),
        run_name=s.run_name,
        num_train_epochs=s.train.epochs,
        max_steps=s.train.max_steps,
        learning_rate=s.train.learning_rate,
        lr_scheduler_type=s.train.lr_scheduler,
        warmup_steps=float(s.train.warmup_ratio),
        weight_decay=s.train.weight_decay,
        per_device_train_batch_size=s.train.per_device_batch,
        gradient_accumulation_steps=s.train.grad_accum,
        max_grad_norm=s.train.max_grad_norm,
        bf16=bf16,
        seed=s.train.seed,
        data_seed=s.train.seed,
        logging_steps=s.train.logging_steps,
        logging_first_step=True,
        save_strategy=s.train.save_strategy,
        save_steps=s.train.save_steps,
        save_total_limit=s.train.save_total_limit,
        save_only_model=s.train.save_only_model,
        gradient_checkpointing=s.model.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        deepspeed=s.deepspeed or None,
        report_to=report_to,
        remove_unused_columns=False,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=True,
    )


def run(cfg: Any, run_dir: str | Path) -> dict[str, Any]:
    """Train; returns the summary also written to ``train_summary.json``."""
    s: TrainSettings = train_settings(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if s.train.save_strategy not in ("epoch", "steps"):
        raise ConfigError(f"train.save_strategy={s.train.save_strategy!r} must be epoch or steps")
    check_warmup_ratio(s.train.warmup_ratio)
    t0 = time.time()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        # accelerate (1.15) picks no process-group backend for DeepSpeed without an accelerator,
        # so every rank would believe it is alone; DeepSpeed then rejects the batch sizes.
        raise ConfigError(
            "several processes without a GPU: accelerate runs DeepSpeed multi-process only on "
            "GPUs; on CPU launch one process (python -m training …)"
        )
    single_process_env()
    report_to = tracking_env(s.tracking, run_dir, s.run_name)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.engines.model_builds import resolve_model_path

    model_path = resolve_model_path(s.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    pad_id = pad_token_id(tokenizer, s.data.pad_token)
    dataset, groups, report = build_dataset(s.data, tokenizer, pad_id)

    bf16 = choose_bf16(s.train.bf16)
    attn = choose_attention(s.model.attn_implementation)
    log.info("attention implementation: %s (requested %s)", attn, s.model.attn_implementation)
    ds_config = s.deepspeed or None
    # TrainingArguments before the model: with ZeRO-3 it makes from_pretrained partition the
    # weights as they load (deepspeed.zero.Init) instead of materialising the whole model.
    args = training_arguments(s, run_dir, bf16, report_to)
    model = AutoModelForCausalLM.from_pretrained(
        model_path, dtype=choose_dtype(s.model, bf16), attn_implementation=attn
    )
    if s.model.gradient_checkpointing:
        model.config.use_cache = False
    step = step_size(args.world_size, s.train.per_device_batch, s.train.grad_accum)
    log.info(
        "world size %d × per-device batch %d × accumulation %d = %d samples per optimizer step; "
        "grouped order %s; DeepSpeed %s",
        args.world_size,
        s.train.per_device_batch,
        s.train.grad_accum,
        step,
        "on" if s.train.grouped else "off",
        f"ZeRO-{ds_config['zero_optimization']['stage']}" if ds_config else "off",
    )
    trainer_cls = grouped_trainer_class(groups, dataset.filler, s.train.seed, s.train.grouped)
    recorder = CheckpointRecorder(
        run_dir, s.run_name, s.register, by_epoch=s.train.save_strategy == "epoch"
    )
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=PadCollator(pad_id),
        processing_class=tokenizer,
        callbacks=[MetricsLog(run_dir / "metrics.jsonl"), recorder],
    )
    result = trainer.train()
    summary = {
        "run_name": s.run_name,
        "model": s.model.name,
        "model_path": model_path,
        "attn_implementation": attn,
        "bf16": bf16,
        "deepspeed_stage": ds_config["zero_optimization"]["stage"] if ds_config else None,
        "world_size": args.world_size,
        "samples_per_step": step,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "data": asdict(report),
        "checkpoints": recorder.entries,
        "wall_s": round(time.time() - t0, 1),
    }
    if trainer.is_world_process_zero():
        (run_dir / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        names = [e["name"] for e in recorder.entries]
        if names and s.register.enabled:
            print("evaluate the checkpoints with:\n  " + sweep_command(names, s.register.benchmark))
    return summary
