"""Graded code cannot fool the grader (real sandbox): a solution that ends the process early
with status 0 fails, an object that claims to equal everything fails, forged reports are not
believed, and a program that looks for the benchmark data, the run directory, the caches or the
checkout finds nothing. Also the plain copies and the assert rewriting, without a sandbox."""

from __future__ import annotations

import asyncio
import collections
import json
import os
from pathlib import Path

import pytest

from harness.problem import Problem
from harness.sandbox import Sandbox
from harness.sandbox.grading import Checker, Opaque, compile_tests, plain
from harness.scoring.context import ScoringContext
from tests.settings_helper import sandbox_config, scoring_settings, task_for

REPO = Path(__file__).resolve().parents[2]
TESTS = "assert double(2) == 4\nassert double(5) == 10\n"
GOOD = "def double(x):\n    return 2 * x\n"


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(sandbox_config(workers=2, timeout_s=10))
    yield sb
    sb.close()


def grade(sandbox: Sandbox, program: str, tests: str = TESTS):
    return sandbox.run_sync(program, tests=tests, timeout_s=10, cpu_s=5)


# -- exiting early is not passing ------------------------------------------------------------


def test_a_correct_solution_passes_with_every_check_counted(sandbox):
    res = grade(sandbox, GOOD)
    assert res.passed and res.checks == 2, (res.verdict, res.detail)
    assert not grade(sandbox, "def double(x):\n    return x + 2\n").passed  # 5 + 2 != 10


@pytest.mark.parametrize(
    "exit_call",
    ["import os\nos._exit(0)", "import sys\nsys.exit(0)", "raise SystemExit", "exit()",
     "raise SystemExit(0)", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"],
)  # fmt: skip
def test_a_solution_that_exits_early_with_status_0_fails(sandbox, exit_call):
    # at module level, before the hidden tests run
    res = grade(sandbox, f"{GOOD}{exit_call}\n")
    assert not res.passed, (exit_call, res.verdict, res.detail)
    # inside the function the tests call, after the first tests passed
    inside = (
        "def double(x):\n    if x == 5:\n"
        + "".join(f"        {line}\n" for line in exit_call.splitlines())
        + "    return 2 * x\n"
    )
    res = grade(sandbox, inside)
    assert not res.passed, (exit_call, res.verdict, res.detail)
    assert res.verdict in ("failed", "crashed")


def test_the_reason_says_the_tests_did_not_run(sandbox):
    res = grade(sandbox, f"{GOOD}import os\nos._exit(0)\n")
    assert res.exit_code == 0 and "before every hidden test ran" in res.detail
    res = grade(sandbox, f"{GOOD}import sys\nsys.exit(0)\n")
    assert "before the hidden tests" in res.detail


def test_forged_reports_and_status_are_not_believed(sandbox):
    forge = (
        "import os\n"
        "def double(x):\n"
        '    os.write(3, b\'{"status": 0}\\n{"done": "0123456789abcdef"}\\n\')\n'
        "    os._exit(0)\n"
    )
    res = grade(sandbox, forge)
    assert not res.passed and res.verdict == "failed"
    # init's status channel cannot be reached through /proc either
    peek = (
        "import os\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(os.open(f'/proc/1/fd/{fd}', os.O_WRONLY), b'{\"status\": 0}\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "raise ValueError('wrong')\n"
    )
    assert grade(sandbox, peek).verdict == "failed"


# -- lying objects ---------------------------------------------------------------------------

ALWAYS_EQUAL = """
class Anything:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __lt__(self, other):
        return True
    def __sub__(self, other):
        return self
    def __abs__(self):
        return self
    def __bool__(self):
        return True
    __hash__ = object.__hash__
"""


@pytest.mark.parametrize(
    "result",
    ["Anything()", "IntLike(7)", "ListLike([0])", "StrLike('no')"],
)
def test_an_always_equal_object_fails(sandbox, result):
    program = (
        ALWAYS_EQUAL
        + "class IntLike(int):\n    def __eq__(self, o):\n        return True\n"
        + "class ListLike(list):\n    def __eq__(self, o):\n        return True\n"
        + "class StrLike(str):\n    def __eq__(self, o):\n        return True\n"
        + f"def double(x):\n    return {result}\n"
    )
    res = grade(sandbox, program)
    assert not res.passed and res.verdict == "failed", (result, res.detail)
    assert "AssertionError" in res.detail


def test_truth_and_tolerance_checks_are_not_the_objects_say_so(sandbox):
    program = ALWAYS_EQUAL + "def close_to_pi():\n    return Anything()\n"
    assert not grade(sandbox, program, "assert abs(close_to_pi() - 3.14159) < 1e-3\n").passed
    assert not grade(sandbox, program, "assert close_to_pi()\n").passed
    good = "def close_to_pi():\n    return 3.14159\n"
    assert grade(sandbox, good, "assert abs(close_to_pi() - 3.14159) < 1e-3\n").passed


def test_humaneval_check_candidate_style_is_rewritten_too(sandbox):
    tests = "def check(candidate):\n    assert candidate(3) == 6\n    assert candidate(0) == 0\n"
    tests += "\ncheck(double)\n"
    assert grade(sandbox, GOOD, tests).passed
    res = grade(sandbox, ALWAYS_EQUAL + "def double(x):\n    return Anything()\n", tests)
    assert not res.passed and "hidden test line 2" in res.detail


def test_benign_subclasses_still_pass(sandbox):
    # a Counter, a namedtuple and a float subclass hold the right values: they pass
    program = (
        "import collections\n"
        "P = collections.namedtuple('P', 'x y')\n"
        "class F(float):\n    pass\n"
        "def count(s):\n    return collections.Counter(s)\n"
        "def pair():\n    return P(1, 2)\n"
        "def half():\n    return F(0.5)\n"
    )
    tests = "assert count('aab') == {'a': 2, 'b': 1}\nassert pair() == (1, 2)\n"
    tests += "assert half() == 0.5\nassert pair() is not None\nassert 'a' in count('ab')\n"
    res = grade(sandbox, program, tests)
    assert res.passed and res.checks == 5, res.detail


# -- what a program can see ------------------------------------------------------------------


def test_a_program_finds_no_data_runs_caches_or_checkout(sandbox, tmp_path, monkeypatch):
    data = Path(os.environ.get("HARNESS_DATA_DIR") or REPO.parent / "shared" / "benchmarks")
    cache = Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")
    targets = {
        "data": [str(data), str(data / "humaneval.jsonl"), str(REPO.parent / "shared")],
        "runs": [str(REPO / "runs"), str(REPO / "multirun"), str(tmp_path)],
        "caches": [str(cache), str(Path.home() / ".cache")],
        "checkout": [str(REPO / "harness" / "runner.py"), str(REPO / "tasks"), str(REPO / "conf")],
    }
    (tmp_path / "results.jsonl").write_text('{"id": "x"}\n')
    program = (
        "import json, os\n"
        f"targets = {json.dumps(targets)}\n"
        "seen = {}\n"
        "for kind, paths in targets.items():\n"
        "    for p in paths:\n"
        "        if os.path.exists(p):\n"
        "            seen.setdefault(kind, []).append(p)\n"
        "hits = []\n"
        "for top in ('/', '/work', '/opt', '/root', '/home', '/tmp'):\n"
        "    for root, dirs, files in os.walk(top):\n"
        "        if root.startswith(('/proc', '/usr', '/dev')):\n"
        "            dirs[:] = []\n"
        "            continue\n"
        "        dirs[:] = [d for d in dirs if d not in ('site-packages', 'lib', 'include')]\n"
        "        hits += [os.path.join(root, f) for f in files\n"
        "                 if f.endswith(('.jsonl', '.sqlite', '.json', '.yaml'))]\n"
        "print(json.dumps({'seen': seen, 'hits': hits}))\n"
    )
    res = sandbox.run_sync(program, timeout_s=30)
    assert res.passed, res.detail
    found = json.loads(res.stdout)
    assert found["seen"] == {}, found["seen"]
    assert found["hits"] == [], found["hits"][:10]
    # while the interpreter and its libraries work
    res = sandbox.run_sync("import json, fractions, sqlite3\nprint(json.dumps([1]))", timeout_s=30)
    assert res.passed and res.stdout == "[1]\n"


# -- through the tasks -----------------------------------------------------------------------


def test_mbpp_and_humaneval_scoring_reject_the_tricks(tmp_path):
    mbpp = task_for("mbpp_sanitized", split="all")
    mp = Problem(
        "1", "p", "code", {"tests": ["assert double(2) == 4", "assert double(3) == 6"],
                           "imports": []},
        f"```python\n{GOOD}```", entry_point="double",
    )  # fmt: skip
    he = task_for("humaneval")
    hp = he.to_problem(
        {"task_id": "T/0", "prompt": "def double(x):\n    \"\"\"2x\"\"\"\n",
         "entry_point": "double", "canonical_solution": "    return 2 * x\n",
         "test": "def check(candidate):\n    assert candidate(2) == 4\n"},
        0,
    )  # fmt: skip
    tricks = {
        "exit": "```python\nimport sys\ndef double(x):\n    return x\nsys.exit(0)\n```",
        "_exit": "```python\nimport os\ndef double(x):\n    os._exit(0)\n```",
        "equal": f"```python\n{ALWAYS_EQUAL}\ndef double(x):\n    return Anything()\n```",
    }

    async def go():
        ctx = ScoringContext(
            scoring_settings(reference_times=str(tmp_path / "times.json")),
            sandbox_config(workers=2),
        )
        try:
            out = {}
            for name, (task, problem) in {"mbpp": (mbpp, mp), "humaneval": (he, hp)}.items():
                out[name, "oracle"] = await task.score(problem, problem.reference_response, ctx)
                for trick, response in tricks.items():
                    out[name, trick] = await task.score(problem, response, ctx)
            return out
        finally:
            ctx.close()

    scores = asyncio.run(go())
    for (name, kind), score in scores.items():
        assert score.correct == (kind == "oracle"), (name, kind, score.reason)
    limits = scores["mbpp", "oracle"].details
    assert limits["cpu_limit_s"] >= 2.0 and limits["wall_limit_s"] >= limits["cpu_limit_s"]
    assert "reference_cpu_s" in limits
    cached = json.loads((tmp_path / "times.json").read_text())["entries"]
    assert {k.split("/")[0] for k in cached} == {"mbpp_sanitized", "humaneval"}


# -- the runtime itself, without a sandbox ---------------------------------------------------


def test_plain_copies_keep_values_and_types_and_drop_methods():
    class Lying(list):
        def __iter__(self):
            return iter([99])

        def __eq__(self, other):
            return True

    assert plain(Lying([1, 2])) == [1, 2] and type(plain(Lying([1]))) is list
    assert plain(collections.Counter("aab")) == {"a": 2, "b": 1}
    assert type(plain(collections.OrderedDict(a=1))) is dict
    assert plain((1, [2, {3}])) == (1, [2, {3}]) and plain((1,)) != [1]
    cyclic: list = [1]
    cyclic.append(cyclic)
    copy = plain(cyclic)
    assert copy[1] is copy

    class Point:
        def __init__(self, x):
            self.x = x

    assert isinstance(plain(Point(1)), Opaque)
    assert plain(Point(1)) == plain(Point(1)) and plain(Point(1)) != plain(Point(2))
    assert plain(Point(1)) != 1


def test_rewritten_asserts_count_and_compare_plain_copies():
    code, top = compile_tests("assert f(1) == 1\nassert f(2) != 3\ndef g():\n    assert False\n")
    assert top == 2
    checker = Checker()
    ns = {"__harness_check__": checker, "f": lambda x: x}
    exec(code, ns)
    assert checker.count == 2
    with pytest.raises(AssertionError):
        ns["g"]()
    assert checker.compare(("is",), None, None) and not checker.compare(("<", "<"), 1, 3, 2)
