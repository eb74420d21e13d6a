"""From the data settings to a tokenized dataset, its groups, and a report of what was kept."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from torch.utils.data import Dataset

from harness.errors import DataError
from training.masking import IGNORE, encode, fit
from training.records import Sample, load_records, to_samples
from training.settings import DataSpec

log = logging.getLogger(__name__)


@dataclass
class DataReport:
    records: int = 0
    samples: int = 0
    kept: int = 0
    truncated: int = 0
    dropped_over_cutoff: int = 0
    dropped_no_assistant: int = 0
    groups: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class TokenDataset(Dataset):
    """Encoded samples; the last index is the filler (no loss) for the grouped sampler."""

    def __init__(self, items: list[dict[str, list[int]]], pad_id: int) -> None:
        self.items = items
        self.filler = len(items)
        self._filler_item = {"input_ids": [pad_id], "labels": [IGNORE], "attention_mask": [1]}

    def __len__(self) -> int:
        return len(self.items) + 1

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self._filler_item if i == self.filler else self.items[i]


def build_dataset(
    spec: DataSpec, tokenizer: Any, pad_id: int
) -> tuple[TokenDataset, list[list[int]], DataReport]:
    report = DataReport()
    samples: list[Sample] = []
    for source in [spec.source, *spec.extra_files]:
        records = load_records(source, spec.split, spec.limit if source == spec.source else None)
        report.records += len(records)
        samples += to_samples(records, spec.format, spec.group_key, source)
    report.samples = len(samples)
    if not samples:
        raise DataError(f"no training samples in {spec.source} {spec.extra_files or ''}".strip())
    items: list[dict[str, list[int]]] = []
    groups: dict[str, list[tuple[int, int]]] = {}
    kinds: Counter[str] = Counter()
    for s in samples:
        full = encode(tokenizer, s.messages)
        fitted = fit(full, spec.cutoff_len, spec.overflow)
        if fitted is None:
            if len(full.input_ids) > spec.cutoff_len:
                report.dropped_over_cutoff += 1
            else:
                report.dropped_no_assistant += 1
            continue
        report.truncated += fitted.truncated
        report.tokens += len(fitted.input_ids)
        report.trained_tokens += sum(label != IGNORE for label in fitted.labels)
        kinds[s.kind] += 1
        groups.setdefault(s.group, []).append((s.order, len(items)))
        items.append(
            {
                "input_ids": fitted.input_ids,
                "labels": fitted.labels,
                "attention_mask": [1] * len(fitted.input_ids),
            }
        )
    report.kept = len(items)
    report.groups = len(groups)
    report.by_kind = dict(kinds)
    if not items:
        raise DataError(
            f"every sample was dropped ({report.dropped_over_cutoff} over data.cutoff_len="
            f"{spec.cutoff_len}, {report.dropped_no_assistant} without an assistant turn)"
        )
    ordered = [[i for _, i in sorted(members)] for members in groups.values()]
    log.info(
        "data: %d records → %d samples in %d groups; kept %d (truncated %d), dropped %d over the "
        "cutoff of %d tokens and %d with no assistant turn; %d tokens, %d trained",
        report.records,
        report.samples,
        report.groups,
        report.kept,
        report.truncated,
        report.dropped_over_cutoff,
        spec.cutoff_len,
        report.dropped_no_assistant,
        report.tokens,
        report.trained_tokens,
    )
    return TokenDataset(items, pad_id), ordered, report
