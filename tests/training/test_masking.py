"""Assistant-only labels on the real tiny tokenizer (ChatML), checked token by token and against
transformers' own assistant mask (``return_assistant_tokens_mask`` over a template with
``{% generation %}`` markers, the mechanism TRL's ``assistant_only_loss`` uses)."""

from __future__ import annotations

import pytest
import torch

from harness.engines.model_builds import resolve_model_path
from harness.errors import ConfigError
from harness.settings import compose
from training.collate import PadCollator, pad_token_id
from training.masking import IGNORE, encode, fit
from training.records import load_records, to_samples

CHATML_WITH_GENERATION = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model_path(compose(["model=tiny"]).model))


@pytest.fixture(scope="module")
def samples():
    records = load_records("training/fixtures/m500_fixture.jsonl", "train")
    return to_samples(records, "auto", "question", "fixture")


def segments(tok, enc):
    """(text, trained) runs of consecutive tokens."""
    out = []
    for i, label in zip(enc.input_ids, enc.labels, strict=True):
        piece, trained = tok.decode([i]), label != IGNORE
        if out and out[-1][1] == trained:
            out[-1] = (out[-1][0] + piece, trained)
        else:
            out.append((piece, trained))
    return out


def test_loss_only_on_assistant_turns_and_their_end_of_turn_token(tok, samples):
    solver = next(s for s in samples if s.kind == "problem_solver_messages")
    enc = encode(tok, solver.messages)
    trained = [text for text, on in segments(tok, enc) if on]
    replies = [m["content"] for m in solver.messages if m["role"] == "assistant"]
    assert trained == [r + "<|im_end|>" for r in replies]
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    ends = [k for k, i in enumerate(enc.input_ids) if i == eot]
    # Five turns, five <|im_end|>: only the two assistant ones carry a label.
    assert len(ends) == 5
    assert [enc.labels[k] == eot for k in ends] == [False, False, True, False, True]
    # No system or user text is trained, and neither is the assistant header.
    for m in solver.messages:
        if m["role"] != "assistant":
            assert all(m["content"] not in text for text in trained)
    assert all("<|im_start|>" not in text for text in trained)


def test_labels_match_transformers_own_assistant_mask(tok, samples):
    for s in samples:
        ours = encode(tok, s.messages)
        ref = tok.apply_chat_template(
            s.messages,
            chat_template=CHATML_WITH_GENERATION,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        assert ref["input_ids"] == ours.input_ids
        assert ref["assistant_masks"] == [int(x != IGNORE) for x in ours.labels], s.kind


def test_weight_zero_turns_are_context(tok):
    messages = [
        {"role": "user", "content": "Review it."},
        {"role": "assistant", "content": "Looks fine.", "weight": 0},
        {"role": "user", "content": "End with a verdict."},
        {"role": "assistant", "content": "Correct. [Agree]"},
    ]
    trained = [t for t, on in segments(tok, encode(tok, messages)) if on]
    assert trained == ["Correct. [Agree]<|im_end|>"]


def test_cutoff_truncates_or_drops(tok, samples):
    enc = encode(tok, samples[1].messages)
    n = len(enc.input_ids)
    cut = fit(enc, n - 5, "truncate")
    assert cut is not None and cut.truncated and len(cut.input_ids) == n - 5
    assert fit(enc, n - 5, "drop") is None
    assert fit(enc, n, "drop") is enc
    # Cut before the first assistant token: nothing left to learn, so dropped.
    first = next(k for k, label in enumerate(enc.labels) if label != IGNORE)
    assert fit(enc, first, "truncate") is None


def test_padding_is_not_the_end_of_turn_token(tok):
    pid = pad_token_id(tok, None)
    assert tok.convert_ids_to_tokens(pid) == "<|endoftext|>"
    with pytest.raises(ConfigError, match="end-of-turn"):
        pad_token_id(tok, "<|im_end|>")
    batch = PadCollator(pid)(
        [{"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, pid, pid]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [8, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["input_ids"].dtype == torch.long
