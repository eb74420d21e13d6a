"""Every loader on a small file in its hub dataset's own schema (columns, types and layout as
published), through the CLI with ``benchmark.data_files``, so the hub path's field handling is
exercised offline; and bad local data, which must be one line and exit 2 with nothing run.

The rows come from the local copies in HARNESS_DATA_DIR, rewritten in the hub's schema here:

- MATH-500 ``HuggingFaceH4/MATH-500`` (test): problem, solution, answer, subject, level (int),
  unique_id.
- AIME 2024 ``HuggingFaceH4/aime_2024`` (train): id (int), problem, solution, answer (str),
  url, year (str).
- AIME 2025 ``MathArena/aime_2025`` (train): problem_idx (int, 1-30: 16-30 are AIME II),
  problem, answer (int). No id, no contest.
- GPQA ``Idavidrein/gpqa`` config gpqa_diamond (train): the CSV's columns (invented content:
  the authors ask that no questions be shown in plain text).
- MBPP ``mbpp`` config sanitized: source_file, task_id (int), prompt, code, test_imports
  (list), test_list (list).
- HumanEval ``openai/openai_humaneval`` (test): task_id, prompt, canonical_solution, test,
  entry_point.
- SciBench ``xw27/scibench``: no config; twenty JSON files (a list each), the ten textbooks and
  their ten ``*_sol`` few-shot files, of which only the textbooks are the benchmark.
- CommonGen-Hard has no hub copy: AgentVerse's JSONL ({"concepts": [...]}).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest

from harness.errors import DataError
from tests.conftest import DATA_DIR, read_jsonl, run_cli
from tests.settings_helper import task_for

TEXTBOOKS = ("atkins", "calculus", "chemmc", "class", "diff", "fund", "matter", "quan", "stat",
             "thermo")  # fmt: skip
GPQA_COLUMNS = [
    "Pre-Revision Question", "Pre-Revision Correct Answer", "Pre-Revision Incorrect Answer 1",
    "Pre-Revision Incorrect Answer 2", "Pre-Revision Incorrect Answer 3",
    "Pre-Revision Explanation", "Self-reported question-writing time (minutes)", "Question",
    "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
    "Explanation", "Revision Comments (from Question Writer)", "Subdomain",
    "Writer's Difficulty Estimate", "Extra Revised Question", "Extra Revised Explanation",
    "Extra Revised Correct Answer", "Extra Revised Incorrect Answer 1",
    "Extra Revised Incorrect Answer 2", "Extra Revised Incorrect Answer 3",
    "Non-Expert Validator Accuracy", "Majority Non-Expert Vals Incorrect",
    "Expert Validator Accuracy", "Record ID", "High-level domain", "Question Writer",
]  # fmt: skip


def local(name: str) -> list[dict]:
    path = DATA_DIR / name
    if not path.exists():
        pytest.skip(f"benchmark data not found: {path}")
    return read_jsonl(path)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def oracle_run(tmp_path: Path, bench: str, data: Path, *extra: str) -> tuple[dict, list[dict]]:
    """The oracle answers every problem of ``data`` through the CLI: all must load and score."""
    run_dir = tmp_path / "run"
    r = run_cli(
        "model=oracle",
        "mas=single",
        f"benchmark={bench}",
        f"benchmark.data_files={data}",
        "tracking.wandb.mode=disabled",
        f"hydra.run.dir={run_dir}",
        *extra,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["complete"] and summary["accuracy"] == 1.0, summary
    return summary, read_jsonl(run_dir / "results.jsonl")


# -- hub schemas, through the CLI --------------------------------------------------------------


def test_math500_hub_schema(tmp_path) -> None:
    rows = [{k: r[k] for k in ("problem", "solution", "answer", "subject", "level", "unique_id")}
            for r in local("math500.jsonl")[:3]]  # fmt: skip
    assert all(isinstance(r["level"], int) for r in rows)
    summary, results = oracle_run(tmp_path, "math500", write_jsonl(tmp_path / "t.jsonl", rows))
    assert summary["n"] == 3 and results[0]["id"] == rows[0]["unique_id"]


def test_aime2024_hub_schema(tmp_path) -> None:
    rows = [{"id": int(r["id"]), "problem": r["problem"], "solution": r["solution"],
             "answer": str(r["answer"]), "url": r["url"], "year": "2024"}
            for r in local("aime2024.jsonl")[:3]]  # fmt: skip
    summary, results = oracle_run(tmp_path, "aime2024", write_jsonl(tmp_path / "t.jsonl", rows))
    assert [x["id"] for x in results] == [str(r["id"]) for r in rows]


def aime2025_hub_rows() -> list[dict]:
    """The local copy in MathArena/aime_2025's schema: problem_idx 1-30, no id, no contest."""
    out = []
    for r in local("aime2025.jsonl"):
        idx = r["problem_idx"] + (15 if r["contest"].endswith("_II") else 0)
        out.append({"problem_idx": idx, "problem": r["problem"], "answer": int(r["answer"])})
    return out


def test_aime2025_hub_numbering_gives_the_local_ids(tmp_path) -> None:
    """Hub and local runs of AIME 2025 name every problem alike, so they compare and resume."""
    hub = aime2025_hub_rows()
    assert sorted(r["problem_idx"] for r in hub) == list(range(1, 31))
    local_ids = [p.id for p in task_for("aime2025").load()]
    # In another row order too: ids come from the numbers, not from positions.
    shuffled = hub[15:] + hub[:15]
    path = write_jsonl(tmp_path / "hub.jsonl", shuffled)
    hub_ids = {p.id: p.reference for p in task_for("aime2025", data_files=str(path)).load()}
    assert sorted(hub_ids) == sorted(local_ids) and hub_ids["2025-II-1"] == shuffled[0]["answer"]
    summary, results = oracle_run(
        tmp_path, "aime2025", write_jsonl(tmp_path / "t.jsonl", [hub[0], hub[16]])
    )
    assert [x["id"] for x in results] == ["2025-I-1", "2025-II-2"]


def test_gpqa_hub_csv_schema(tmp_path) -> None:
    path = tmp_path / "gpqa_diamond.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=GPQA_COLUMNS)
        w.writeheader()
        for i in range(4):
            w.writerow({c: "" for c in GPQA_COLUMNS} | {
                "Question": f"Which invented constant is number {i}?\nSecond line.",
                "Correct Answer": f"right {i}", "Incorrect Answer 1": f"wrong a{i}",
                "Incorrect Answer 2": f"wrong b{i}", "Incorrect Answer 3": f"wrong c{i}",
                "Record ID": f"rec{i}", "Subdomain": "Fixtures", "High-level domain": "Physics",
            })  # fmt: skip
    summary, results = oracle_run(tmp_path, "gpqa_diamond", path)
    assert sorted(x["id"] for x in results) == [f"rec{i}" for i in range(4)]
    # Balanced: the four questions put the correct choice at four different letters.
    assert len({x["answer"] for x in results}) == 4


def test_mbpp_hub_schema(tmp_path) -> None:
    rows = [r for r in local("mbpp_sanitized.jsonl") if r["task_id"] in (11, 12)]
    summary, results = oracle_run(
        tmp_path, "mbpp_sanitized", write_jsonl(tmp_path / "t.jsonl", rows)
    )
    assert sorted(x["id"] for x in results) == ["11", "12"]


def test_humaneval_hub_schema(tmp_path) -> None:
    keys = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
    rows = [{k: r[k] for k in keys} for r in local("humaneval.jsonl")[:2]]
    summary, results = oracle_run(tmp_path, "humaneval", write_jsonl(tmp_path / "t.jsonl", rows))
    assert [x["id"] for x in results] == ["HumanEval/0", "HumanEval/1"]


def scibench_hub_folder(folder: Path, per_book: int | None = None) -> dict[str, list[dict]]:
    """The hub repository's twenty files: ten textbooks and ten ``*_sol`` files (JSON lists)."""
    books: dict[str, list[dict]] = defaultdict(list)
    sols: dict[str, list[dict]] = defaultdict(list)
    for r in local("scibench.jsonl"):
        books[r["source"]].append(r)
    for r in local("scibench_sol.jsonl"):
        sols[r["source"]].append(r)
    folder.mkdir(parents=True, exist_ok=True)
    for name in TEXTBOOKS:
        (folder / f"{name}.json").write_text(json.dumps(books[name][:per_book], indent=1))
        (folder / f"{name}_sol.json").write_text(json.dumps(sols[name][:per_book], indent=1))
    return books


def test_scibench_hub_folder_of_twenty_files(tmp_path) -> None:
    """Only the ten textbooks, in a fixed order, with ids that are not row positions."""
    folder = tmp_path / "xw27-scibench"
    books = scibench_hub_folder(folder, per_book=2)
    assert len(list(folder.glob("*.json"))) == 20
    summary, results = oracle_run(tmp_path, "scibench", folder)
    assert summary["n"] == 20  # not 40: the _sol few-shot files are not the benchmark
    expected = [f"{b}/{r['problemid'].strip()}" for b in TEXTBOOKS for r in books[b][:2]]
    assert [x["id"] for x in results] == expected


def test_scibench_hub_layout_gives_the_local_ids_and_order(tmp_path) -> None:
    folder = tmp_path / "xw27-scibench"
    scibench_hub_folder(folder)
    hub = task_for("scibench", data_files=str(folder)).load()
    loc = task_for("scibench").load()
    assert len(hub) == 580
    assert [(p.id, p.prompt, p.reference) for p in hub] == [
        (p.id, p.prompt, p.reference) for p in loc
    ]
    (folder / "quan.json").unlink()
    with pytest.raises(DataError, match="no quan.json"):
        task_for("scibench", data_files=str(folder)).load()


def test_commongen_agentverse_schema_and_no_hub_copy(tmp_path, monkeypatch) -> None:
    rows = local("commongen_hard.jsonl")[:2]
    summary, results = oracle_run(
        tmp_path, "commongen_hard", write_jsonl(tmp_path / "t.jsonl", rows)
    )
    assert summary["coverage_mean"] == 1.0
    monkeypatch.delenv("HARNESS_DATA_DIR")
    with pytest.raises(DataError, match=r"OpenBMB/AgentVerse.*\"concepts\""):
        task_for("commongen_hard").load()


# -- GPQA on the hub: the token the hub client has, a cached copy offline ---------------------


@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    """No token in the environment; the hub client's token file under tmp_path."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HARNESS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    token = tmp_path / "hf" / "token"
    token.parent.mkdir()
    monkeypatch.setenv("HF_TOKEN_PATH", str(token))
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(token))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    return token


GPQA_ROW = {"Question": "Q?", "Correct Answer": "r", "Incorrect Answer 1": "a",
            "Incorrect Answer 2": "b", "Incorrect Answer 3": "c", "Record ID": "rec0"}  # fmt: skip


def test_gpqa_cached_copy_loads_without_a_token_variable(hub_home, monkeypatch) -> None:
    """A copy `datasets` has (cached, or with the login token) loads: nothing refuses first."""
    seen = {}

    def load_dataset(path, name=None, split=None, **kw):
        seen.update(path=path, name=name, split=split)
        return [GPQA_ROW]

    monkeypatch.setattr("datasets.load_dataset", load_dataset)
    (p,) = task_for("gpqa_diamond").load()
    assert p.id == "rec0" and seen == {"path": "Idavidrein/gpqa", "name": "gpqa_diamond",
                                       "split": "train"}  # fmt: skip


def test_gpqa_refusal_says_which_token(hub_home, monkeypatch) -> None:
    def refused(*a, **k):
        raise OSError("403 Client Error. Access to dataset Idavidrein/gpqa is restricted")

    monkeypatch.setattr("datasets.load_dataset", refused)
    with pytest.raises(DataError, match="no token was found.*hf auth login"):
        task_for("gpqa_diamond").load()
    hub_home.write_text("hf_stored_by_login")  # what `hf auth login` leaves
    from huggingface_hub import get_token

    assert get_token() == "hf_stored_by_login"
    with pytest.raises(DataError, match="no access to the gated dataset.*accept its terms"):
        task_for("gpqa_diamond").load()


# -- bad local data: one line, exit 2, nothing run -------------------------------------------


def bad_run(tmp_path: Path, bench: str, data: Path) -> tuple[str, Path]:
    run_dir = tmp_path / "bad"
    r = run_cli(
        "model=oracle",
        f"benchmark={bench}",
        f"benchmark.data_files={data}",
        f"hydra.run.dir={run_dir}",
        timeout=120,
    )
    assert r.returncode == 2, r.stderr[-2000:]
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    assert not (run_dir / "results.jsonl").exists() and not (run_dir / "wandb").exists()
    return errors[0], run_dir


def test_a_row_missing_a_field_is_one_line_naming_file_line_and_field(tmp_path) -> None:
    rows = local("math500.jsonl")[:3]
    del rows[1]["answer"]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    line, run_dir = bad_run(tmp_path, "math500", path)
    assert line == f"error: {path}:2: missing field 'answer' (benchmark 'math500' needs it)"
    assert json.loads((run_dir / "summary.json").read_text())["n"] == 0


def test_an_empty_file_is_no_problems(tmp_path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    line, _ = bad_run(tmp_path, "aime2024", path)
    assert line == f"error: {path}: no problems"


def test_a_textbook_item_missing_a_field_names_its_file_and_item(tmp_path) -> None:
    folder = tmp_path / "sci"
    scibench_hub_folder(folder, per_book=2)
    rows = json.loads((folder / "diff.json").read_text())
    del rows[1]["answer_number"]
    (folder / "diff.json").write_text(json.dumps(rows))
    line, _ = bad_run(tmp_path, "scibench", folder)
    assert line == f"error: {folder}/diff.json item 2: missing field 'answer_number' " + (
        "(benchmark 'scibench' needs it)"
    )


def test_a_bad_value_and_a_split_field_are_one_line_too(tmp_path) -> None:
    rows = aime2025_hub_rows()[:2]
    rows[1]["answer"] = "seventy"
    line, _ = bad_run(tmp_path, "aime2025", write_jsonl(tmp_path / "a.jsonl", rows))
    assert line.startswith(f"error: {tmp_path / 'a.jsonl'}:2: bad value") and "seventy" in line
    mbpp = [r for r in local("mbpp_sanitized.jsonl") if r["task_id"] in (11, 12)]
    del mbpp[1]["task_id"]
    line, _ = bad_run(tmp_path, "mbpp_sanitized", write_jsonl(tmp_path / "b.jsonl", mbpp))
    assert line == f"error: {tmp_path / 'b.jsonl'}:2: missing field 'task_id' " + (
        "(benchmark 'mbpp_sanitized' needs it)"
    )
