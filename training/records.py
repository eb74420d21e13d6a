"""Training records in, chat samples out: the M500 schema and plain ``messages`` files.

An M500 record (the dataset card of ``Can111/m500``) holds one question's multi-agent trace:
``question``, ``solution`` and four conversations (``expert_recruiter_messages``,
``problem_solver_messages``, ``critic_messages``, ``evaluator_messages``), each a list of
``{role, content}``. Each non-empty conversation becomes one sample, in generation order
(recruiter → solver → critics → evaluator), and the record's samples form one *group* for the
grouped sampler. A ``messages`` record (sharegpt/chat: ``messages`` of ``{role, content}``, or
``conversations`` of ``{from, value}``) is one sample; records sharing ``group_key`` form a
group, in file order. An assistant message with ``"weight": 0`` (OpenAI's fine-tuning format)
is context only: no loss on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError

M500_CONVERSATIONS = (
    "expert_recruiter_messages",
    "problem_solver_messages",
    "critic_messages",
    "evaluator_messages",
)
FORMATS = ("auto", "m500", "messages")
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}
_SHAREGPT_ROLES |= {"system": "system", "model": "assistant"}
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Sample:
    messages: list[dict[str, str]]
    group: str  # samples with one group go into one optimizer step
    order: int  # position within the group (generation order)
    kind: str  # which conversation: an M500 field name, or "messages"


def resolve_path(source: str) -> Path | None:
    """A local file named by ``source``: as given (cwd), else relative to the project."""
    for candidate in (Path(source).expanduser(), PROJECT_ROOT / source):
        if candidate.is_file():
            return candidate
    return None


def load_records(source: str, split: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Records from a local .json/.jsonl/.parquet file, or from the HF hub by dataset id."""
    path = resolve_path(source)
    if path is not None:
        records = _read_local(path)
    elif Path(source).suffix in (".json", ".jsonl", ".parquet") or "/" not in source:
        raise DataError(f"data file {source} not found (looked in the cwd and {PROJECT_ROOT})")
    else:
        records = _read_hub(source, split)
    return records[:limit] if limit is not None else records


def _read_local(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import datasets

        return [dict(r) for r in datasets.load_dataset("parquet", data_files=str(path))["train"]]
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict):
            data = data.get("train", data.get("data", [data]))
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON array of records")
        return data
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
    return records


def _read_hub(dataset_id: str, split: str) -> list[dict[str, Any]]:
    import datasets

    try:
        ds = datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:  # offline hub, unknown id, missing split: one line for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"could not load dataset {dataset_id} (split {split}) from the HF hub: {first}; "
            "give a local file with data.source=PATH"
        ) from None
    return [dict(r) for r in ds]


def detect_format(record: dict[str, Any]) -> str:
    if any(k in record for k in M500_CONVERSATIONS):
        return "m500"
    if "messages" in record or "conversations" in record:
        return "messages"
    raise DataError(
        f"record with keys {sorted(record)[:8]} is neither M500 "
        f"({', '.join(M500_CONVERSATIONS)}) nor chat (messages / conversations)"
    )


def to_samples(
    records: list[dict[str, Any]], fmt: str, group_key: str | None, source: str
) -> list[Sample]:
    """Samples in record order. Group names are prefixed by ``source`` so two files never share
    a group by accident."""
    if fmt not in FORMATS:
        raise DataError(f"data.format={fmt!r} is not one of {', '.join(FORMATS)}")
    samples: list[Sample] = []
    order_in_group: dict[str, int] = {}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{source}: record {i} is not an object")
        kind = detect_format(record) if fmt == "auto" else fmt
        if kind == "m500":
            group = f"{source}#{i}"
            for field in M500_CONVERSATIONS:
                messages = normalize_messages(record.get(field) or [], f"{source}[{i}].{field}")
                if messages:
                    order = order_in_group.get(group, 0)
                    order_in_group[group] = order + 1
                    samples.append(Sample(messages, group, order, field))
        else:
            raw = record.get("messages", record.get("conversations"))
            messages = normalize_messages(raw or [], f"{source}[{i}].messages")
            key = record.get(group_key) if group_key else None
            group = f"{source}#{key}" if key not in (None, "") else f"{source}#{i}"
            order = order_in_group.get(group, 0)
            order_in_group[group] = order + 1
            if messages:
                samples.append(Sample(messages, group, order, "messages"))
    return samples


def normalize_messages(messages: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(messages, list):
        raise DataError(f"{where}: expected a list of messages")
    out = []
    for j, m in enumerate(messages):
        if not isinstance(m, dict):
            raise DataError(f"{where}[{j}]: expected {{role, content}}")
        role = m.get("role", m.get("from"))
        content = m.get("content", m.get("value"))
        role = _SHAREGPT_ROLES.get(str(role).lower()) if role is not None else None
        if role is None or not isinstance(content, str):
            raise DataError(f"{where}[{j}]: expected {{role: system|user|assistant, content: str}}")
        msg = {"role": role, "content": content}
        # OpenAI's fine-tuning format: an assistant turn with weight 0 is context, not a target
        # (the export marks replies the model saw again in a re-ask or in its memory this way).
        if role == "assistant" and m.get("weight") is not None:
            if m["weight"] not in (0, 1):
                raise DataError(f"{where}[{j}]: weight must be 0 or 1, got {m['weight']!r}")
            msg["weight"] = int(m["weight"])
        out.append(msg)
    return out
