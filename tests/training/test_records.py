"""Loading training records: the M500 schema, chat files, the hub path, bad input."""

from __future__ import annotations

import json

import pytest

from harness.errors import DataError
from training.records import M500_CONVERSATIONS, load_records, to_samples


def test_m500_record_gives_one_sample_per_conversation_in_generation_order():
    records = load_records("training/fixtures/m500_fixture.jsonl", "train")
    assert len(records) == 8 and all(set(M500_CONVERSATIONS) <= set(r) for r in records)
    samples = to_samples(records, "auto", "question", "fx")
    first = [s for s in samples if s.group == "fx#0"]
    assert [s.kind for s in first] == list(M500_CONVERSATIONS)
    assert [s.order for s in first] == [0, 1, 2, 3]


def test_chat_files_sharegpt_and_messages_group_by_key(tmp_path):
    path = tmp_path / "chat.json"
    path.write_text(
        json.dumps(
            [
                {
                    "question": "q1",
                    "messages": [
                        {"role": "user", "content": "a"},
                        {"role": "assistant", "content": "b"},
                    ],
                },
                {
                    "question": "q2",
                    "conversations": [
                        {"from": "human", "value": "c"},
                        {"from": "gpt", "value": "d"},
                    ],
                },
                {
                    "question": "q1",
                    "messages": [
                        {"role": "user", "content": "e"},
                        {"role": "assistant", "content": "f"},
                    ],
                },
            ]
        )
    )
    samples = to_samples(load_records(str(path), "train"), "auto", "question", "chat")
    assert [(s.group, s.order) for s in samples] == [("chat#q1", 0), ("chat#q2", 0), ("chat#q1", 1)]
    assert samples[1].messages == [
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    # Without a group key each record is its own group.
    assert (
        len({s.group for s in to_samples(load_records(str(path), "train"), "auto", None, "c")}) == 3
    )


def test_hub_source_offline_is_a_one_line_data_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(
        DataError, match="could not load dataset Can111/m500.*data.source=PATH"
    ) as exc:
        load_records("Can111/m500", "train")
    assert "\n" not in str(exc.value)


def test_bad_records_are_named(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "robot", "content": "x"}]}\n')
    with pytest.raises(DataError, match=r"bad.jsonl\[0\].messages\[0\]"):
        to_samples(load_records(str(bad), "train"), "auto", None, str(bad))
    with pytest.raises(DataError, match="not found"):
        load_records(str(tmp_path / "missing.jsonl"), "train")
    other = tmp_path / "other.jsonl"
    other.write_text('{"problem": "x"}\n')
    with pytest.raises(DataError, match="neither M500"):
        to_samples(load_records(str(other), "train"), "auto", None, "o")
