"""HumanEval+ and MBPP+ through evalplus (optional extra: ``pip install evalplus``).

evalplus supplies the datasets (``get_human_eval_plus`` / ``get_mbpp_plus``, honouring its
``HUMANEVAL_OVERRIDE_PATH`` / ``MBPP_OVERRIDE_PATH`` and, here, ``benchmark.data_files`` or
``$HARNESS_DATA_DIR/{humaneval,mbpp}_plus.jsonl``), its sanitizer for code extraction, and its
special oracles. Grading is evalplus's differential test (candidate vs canonical solution on
base + plus inputs), but it runs inside our sandbox instead of evalplus's in-process
``unsafe_execute``: the generated program below is our port of that comparison loop.
"""

from __future__ import annotations

import base64
import inspect
import os
import pickle
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.problem import Problem
from tasks.code import CodeTask, fenced


def _evalplus():
    try:
        import evalplus.data  # noqa: F401
        import evalplus.sanitize  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "benchmarks humaneval_plus/mbpp_plus need the optional extra evalplus: "
            f"pip install evalplus ({exc})"
        ) from exc
    import evalplus

    return evalplus


# Our port of evalplus.eval.unsafe_execute's comparison (numpy-free, so the sandboxed
# interpreter needs nothing beyond the standard library). It runs as the sandbox's hidden tests,
# in the tests process: the candidate runs in the solution process (the program part) and is
# reached through ``__harness_check__.solution``, whose answers arrive as plain data, so neither
# the reference, the inputs' expected outputs nor this loop are within the candidate's reach.
_RUNNER = r"""
import base64, copy, math, pickle, sys
_D = pickle.loads(base64.b64decode(_PAYLOAD))
_plain = __harness_check__.plain

def _is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False

def _close(out, exp, atol):
    if isinstance(exp, (list, tuple)):
        return len(out) == len(exp) and all(_close(o, e, atol) for o, e in zip(out, exp))
    return abs(out - exp) <= atol + 1e-07 * abs(exp)

_ref_ns = {}
exec(_D["ref"], _ref_ns)
ep, dataset = _D["entry_point"], _D["dataset"]
ref_fn, fn = _ref_ns[ep], __harness_check__.solution(ep)
for i, inp in enumerate(_D["inputs"]):
    exp = _plain(ref_fn(*copy.deepcopy(inp)))
    out = _plain(fn(*copy.deepcopy(inp)))
    atol = _D["atol"]
    exact = out == exp
    if dataset == "mbpp":
        if ep == "are_equivalent":
            exact = True
        elif ep == "sum_div":
            exact = exact or out == 0
        elif ep == "surface_Area":
            exact = exact or abs(out - _surface_Area(*inp)) <= atol
        elif ep == "digit_distance_nums":
            exact = exact or out == _digit_distance_nums(*inp)
        elif ep in MBPP_OUTPUT_SET_EQ_TASKS:
            exact = set(out) == set(exp)
        elif ep in MBPP_OUTPUT_NOT_NONE_TASKS:
            exact = (out == exp) if isinstance(out, bool) else (exp == (out is not None))
    if dataset == "humaneval" and ep == "find_zero":
        assert abs(_poly(*inp, out)) <= atol, f"input #{i}: find_zero off"
        continue
    if atol == 0 and _is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        assert type(out) == type(exp), f"input #{i}: type {type(out).__name__}"
        assert _close(out, exp, atol), f"input #{i}: {out!r} != {exp!r}"
    else:
        assert exact, f"input #{i}: {str(out)[:80]} != {str(exp)[:80]}"
"""


class _EvalPlusTask(CodeTask):
    dataset = ""  # "humaneval" | "mbpp"
    env_var = ""
    module_attr = ""

    def _override_path(self) -> str | None:
        data_files = self.settings.data_files
        if data_files:
            return data_files
        data_dir = os.environ.get("HARNESS_DATA_DIR")
        if data_dir and (Path(data_dir) / self.local_file).exists():
            return str(Path(data_dir) / self.local_file)
        return os.environ.get(self.env_var)

    def load_records(self) -> list[dict[str, Any]]:
        evalplus = _evalplus()
        module = getattr(evalplus.data, self.dataset)
        path = self._override_path()
        # evalplus reads the override env var at import time: set the module attribute.
        old = getattr(module, self.module_attr)
        if path:
            if not Path(path).exists():
                raise DataError(f"data file not found: {path}")
            setattr(module, self.module_attr, path)
        try:
            getter = getattr(
                evalplus.data, f"get_{self.dataset.replace('humaneval', 'human_eval')}_plus"
            )
            data = getter(err_incomplete=not path)
        except DataError:
            raise
        except Exception as exc:  # evalplus downloads from GitHub when no override is given
            raise DataError(
                f"evalplus could not load {self.name} ({type(exc).__name__}: {exc}); offline, "
                f"set benchmark.data_files=PATH or {self.env_var}"
            ) from exc
        finally:
            setattr(module, self.module_attr, old)
        return list(data.values())

    def record_reference(self, record: dict[str, Any]) -> str:
        raise NotImplementedError

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        ref = self.record_reference(record)
        inputs = list(record.get("base_input") or []) + list(record.get("plus_input") or [])
        return Problem(
            id=str(record["task_id"]),
            prompt=str(record["prompt"]),
            domain=self.domain,
            reference={"ref": ref, "inputs": inputs, "atol": float(record.get("atol") or 0)},
            reference_text=f"{ref}\n# + {len(inputs)} test inputs (evalplus), compared with it",
            reference_response=fenced(ref),
            entry_point=str(record["entry_point"]),
            meta={"n_tests": len(inputs)},
        )

    def test_names(self, problem: Problem) -> frozenset[str]:
        return frozenset()  # the comparison calls the entry point only

    def completion_prompt(self, problem: Problem) -> str | None:
        # HumanEval+ prompts are the function's head: a body-only reply continues it (the
        # extractor only uses a prompt that defines the entry point, so MBPP+'s is ignored).
        return problem.prompt

    def program_parts(self, problem: Problem, code: str) -> tuple[str, str]:
        from evalplus.eval import _special_oracle

        payload = {
            "ref": problem.reference["ref"],
            "inputs": problem.reference["inputs"],
            "atol": problem.reference["atol"],
            "entry_point": problem.entry_point,
            "dataset": self.dataset,
        }
        blob = base64.b64encode(pickle.dumps(payload)).decode()
        # The candidate is the program part (the solution process); the reference, the inputs
        # and the comparison are the tests part (the tests process).
        return code, f"{inspect.getsource(_special_oracle)}\n_PAYLOAD = {blob!r}\n{_RUNNER}"


class HumanEvalPlus(_EvalPlusTask):
    name = "humaneval_plus"
    dataset = "humaneval"
    env_var = "HUMANEVAL_OVERRIDE_PATH"
    module_attr = "HUMANEVAL_OVERRIDE_PATH"
    local_file = "humaneval_plus.jsonl"

    def record_reference(self, record: dict[str, Any]) -> str:
        return str(record["prompt"]) + str(record["canonical_solution"])


class MbppPlus(_EvalPlusTask):
    name = "mbpp_plus"
    dataset = "mbpp"
    env_var = "MBPP_OVERRIDE_PATH"
    module_attr = "MBPP_OVERRIDE_PATH"
    local_file = "mbpp_plus.jsonl"

    def record_reference(self, record: dict[str, Any]) -> str:
        return str(record["canonical_solution"])
