import json

import pytest
from omegaconf import OmegaConf

from harness.errors import ConfigError
from harness.rows import ResultRow
from harness.store import RunStore

IDENT = {"run_id": "r", "config_hash": "h", "data_digest": "d1"}


def _cfg(**over):
    base = {
        "model": {"name": "tiny", "max_concurrency": 4},
        "mas": {"name": "agentverse"},
        "tokens": 64,
        "agents": 2,
        "limit": 3,
        "run": {},
    }
    merged = OmegaConf.merge(OmegaConf.create(base), OmegaConf.create(over))
    return OmegaConf.to_container(merged)


def test_append_then_load_round_trips(tmp_path):
    store = RunStore(tmp_path)
    store.prepare(_cfg(), IDENT)
    store.append(ResultRow("a", 0, correct=True), {"id": "a", "calls": []})
    store.append(ResultRow("a", 1, correct=False), {"id": "a", "calls": []})
    store.close()
    done = RunStore(tmp_path).load_results()
    assert set(done) == {("a", 0), ("a", 1)}
    assert done[("a", 0)].correct is True


def test_torn_last_line_is_cut_before_the_next_append(tmp_path):
    store = RunStore(tmp_path)
    store.prepare(_cfg(), IDENT)
    store.append(ResultRow("a", 0, correct=True), {"id": "a"})
    store.close()
    with open(tmp_path / "results.jsonl", "a") as f:
        f.write('{"id": "b", "repe')  # kill -9 mid-write
    store = RunStore(tmp_path)
    assert set(store.load_results()) == {("a", 0)}
    store.append(ResultRow("b", 0, correct=False), {"id": "b"})
    store.close()
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]


def test_duplicate_keys_count_once(tmp_path):
    (tmp_path / "results.jsonl").write_text(
        '{"id": "a", "repeat": 0, "correct": true}\n{"id": "a", "repeat": 0, "correct": false}\n'
    )
    done = RunStore(tmp_path).load_results()
    assert len(done) == 1 and done[("a", 0)].correct is True


def test_resume_refuses_a_different_configuration(tmp_path):
    store = RunStore(tmp_path)
    store.prepare(_cfg(), IDENT)
    store.append(ResultRow("a", 0, correct=True), {"id": "a"})
    store.close()
    # volatile keys (limit, concurrency) may change on resume
    RunStore(tmp_path).prepare(_cfg(limit=10, model={"max_concurrency": 1}), IDENT)
    # 2k and 2048 are the same budget
    RunStore(tmp_path).prepare(_cfg(tokens="64"), IDENT)
    with pytest.raises(ConfigError, match="tokens"):
        RunStore(tmp_path).prepare(_cfg(tokens=128), IDENT)
    RunStore(tmp_path).prepare(_cfg(tokens=128), IDENT, overwrite=True)
    assert not (tmp_path / "results.jsonl").exists()


def test_resume_ignores_knobs_the_system_does_not_use(tmp_path):
    store = RunStore(tmp_path)
    store.prepare(_cfg(mas={"name": "single"}), IDENT)
    store.append(ResultRow("a", 0, correct=True), {"id": "a"})
    store.close()
    RunStore(tmp_path).prepare(_cfg(mas={"name": "single"}, agents=5), IDENT)
    with pytest.raises(ConfigError, match="agents"):
        RunStore(tmp_path).prepare(_cfg(agents=5), IDENT)


def test_resume_refuses_different_data(tmp_path):
    store = RunStore(tmp_path)
    store.prepare(_cfg(), IDENT)
    store.append(ResultRow("a", 0, correct=True), {"id": "a"})
    store.close()
    with pytest.raises(ConfigError, match="different benchmark data"):
        RunStore(tmp_path).prepare(_cfg(), {**IDENT, "data_digest": "d2"})


def test_a_lone_surrogate_is_escaped_and_recorded(tmp_path):
    store = RunStore(tmp_path)
    store.prepare(_cfg(), IDENT)
    row = ResultRow("a", 0, correct=False, reason="bad \ud800 text")
    transcript = {"id": "a", "calls": [{"response": "x\udfff", "tags": ["\ud83d"]}]}
    row = store.append(row, transcript)  # raised UnicodeEncodeError before
    store.append(ResultRow("b", 0, correct=True), {"id": "b"})
    store.close()
    # the row as written comes back, so what the tracker gets after the store is the same
    # safe text
    assert row.reason == "bad \\ud800 text" and row.extra["text_escaped"] == 1
    assert transcript["calls"][0]["response"] == "x\\udfff" and transcript["text_escaped"] == 2
    done = RunStore(tmp_path).load_results()
    assert done[("a", 0)].reason == "bad \\ud800 text"
    assert "text_escaped" not in done[("b", 0)].extra
    lines = (tmp_path / "transcripts.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["calls"][0]["tags"] == ["\\ud83d"]
