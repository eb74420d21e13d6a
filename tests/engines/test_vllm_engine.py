"""The vLLM engine for real, on vLLM's CPU build, the tiny model and (the CLI sweep) SmolLM2.
Runs only where vLLM is installed (``.venv-vllm``, built by scripts/setup_vllm.sh; the CI step
.ci/vllm_step.sh runs ``.venv-vllm/bin/python -m pytest -m vllm tests/engines``); the core
suite deselects it (``-m "not slow"``, ``-m "slow and not vllm"``).

Every in-process test shares one event loop (``asyncio.Runner``), as the CLI does: vLLM's
``AsyncLLM`` cannot move to another loop. The engine is the one ``build_engine`` keeps loaded,
so the runs below reuse it like the points of a sweep.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from harness.engines import build_engine, close_all, loaded_engines
from harness.engines.base import Request, RequestRejected, SamplingParams
from harness.engines.prompting import prompt_ids
from harness.engines.vllm_engine import VllmEngine
from harness.runner import run_async
from harness.settings import compose
from tests.conftest import ROOT, cli_env, read_jsonl

# vLLM missing: the tests skip, and fail under CI (tests/conftest.py), before any fixture loads it
pytestmark = [pytest.mark.vllm, pytest.mark.slow]

MODEL = ["model=tiny", "model.engine=vllm", "model.max_model_len=512"]
# The process tests below are about processes, not compilation: eager starts in a fraction
# of the time on a CPU (the in-process engine above covers compiled execution).
EAGER = [*MODEL, "model.enforce_eager=true"]
RUN = ["mas=single", "benchmark=math500", "run.progress=false", "tracking.wandb.mode=disabled"]
SMOLLM2 = ["model=smollm2-135m", "model.engine=vllm", "model.enforce_eager=true"]
PAPER = ["temperature=0.7", "top_p=0.95"]  # the paper's sampling


@pytest.fixture(scope="module")
def loop():
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def engine(loop) -> VllmEngine:
    e = build_engine(compose(MODEL).model, [])
    loop.run(e.start())
    yield e
    loop.run(close_all())


def _req(text: str, max_tokens: int = 24, **kw) -> Request:
    return Request([{"role": "user", "content": text}], SamplingParams(max_tokens, **kw))


class Spy:
    """Records what reaches ``AsyncLLM.generate`` (the prompt and the SamplingParams)."""

    def __init__(self, engine: VllmEngine) -> None:
        self.engine = engine
        self.calls: list[tuple[list[int], object]] = []
        self._real = engine.llm.generate

    def __enter__(self) -> Spy:
        def generate(prompt, params, **kw):
            self.calls.append((list(prompt["prompt_token_ids"]), params))
            return self._real(prompt, params, **kw)

        self.engine.llm.generate = generate
        return self

    def __exit__(self, *exc) -> None:
        self.engine.llm.generate = self._real


def test_requests_reach_vllm_as_token_ids_with_their_seed(loop, engine):
    from vllm.sampling_params import RequestOutputKind

    r = _req("What is 2+2?", temperature=0.8, top_p=0.9, seed=1234, stop=("zz",))
    with Spy(engine) as spy:
        out = loop.run(engine.generate(r))
    ((ids, params),) = spy.calls
    assert ids == prompt_ids(engine.tokenizer, r)
    assert params.seed == 1234 and params.temperature == 0.8 and params.top_p == 0.9
    assert params.stop == ["zz"] and params.max_tokens == 24
    assert params.output_kind == RequestOutputKind.FINAL_ONLY
    assert out.prompt_tokens == len(ids) and 1 <= out.completion_tokens <= 24


def test_a_seed_fixes_the_sample(loop, engine):
    def sample(seed: int) -> str:
        return loop.run(
            engine.generate(_req("Tell me a story", 32, temperature=1.0, seed=seed))
        ).text

    first = sample(7)
    assert sample(7) == first  # one at a time: the same batch shape, the same sample
    assert sample(8) != first


def test_many_requests_in_flight_all_finish(loop, engine):
    async def go():
        reqs = [_req(f"Problem {i}", 16 + i % 5, temperature=0.7, seed=i) for i in range(64)]
        return await asyncio.gather(*(engine.generate(r) for r in reqs))

    outs = loop.run(go())
    assert len(outs) == 64
    assert all(1 <= o.completion_tokens <= 16 + i % 5 for i, o in enumerate(outs))


def test_prefix_is_continued_and_stop_strings_cut(loop, engine):
    plain = _req("Say something", 24)
    forced = _req("Say something", 24)
    forced.prefix = "<think>\n"
    with Spy(engine) as spy:
        free = loop.run(engine.generate(plain))
        loop.run(engine.generate(forced))
    (a, _), (b, _) = spy.calls
    tail = engine.tokenizer("<think>\n", add_special_tokens=False).input_ids
    assert b[: len(a)] == a and b[len(a) :] == tail
    assert len(free.text) > 6
    stop = free.text[3:6]
    cut = loop.run(engine.generate(_req("Say something", 24, stop=(stop,))))
    assert free.text.startswith(cut.text) and stop not in cut.text
    assert cut.finish_reason == "stop"


def test_max_tokens_clamped_to_the_context_left(loop, engine):
    r = _req("Count", 5000)
    n = len(prompt_ids(engine.tokenizer, r))
    out = loop.run(engine.generate(r))
    assert engine.context_len == 512
    assert out.clamp == {"asked": 5000, "sent": 512 - n}
    assert out.completion_tokens <= 512 - n
    with pytest.raises(RequestRejected) as info:
        loop.run(engine.generate(_req("compute the sum " * 200)))
    assert info.value.finish_reason == "length"


def test_two_runs_on_one_loop_reuse_the_engine_and_record_the_seeds(loop, engine, tmp_path):
    leases = engine.leases
    cfg = compose([*MODEL, *RUN, "limit=3", "tokens=16", "temperature=0.7"])
    loop.run(run_async(cfg, tmp_path / "a"))
    assert loaded_engines() == [engine] and engine.loads == 1 and engine.leases == leases
    cfg2 = compose([*MODEL, *RUN, "limit=3", "tokens=24", "temperature=0.7", "seed=5"])
    with Spy(engine) as spy:
        summary = loop.run(run_async(cfg2, tmp_path / "b"))
    assert engine.loads == 1 and engine.llm is not None  # still loaded for the next run
    assert summary["n"] == 3 and summary["calls"] == 3
    recorded = [
        c["seed"] for t in read_jsonl(tmp_path / "b" / "transcripts.jsonl") for c in t["calls"]
    ]
    assert sorted(recorded) == sorted(p.seed for _, p in spy.calls)
    assert len(set(recorded)) == 3


def test_zz_close_shuts_down_once_and_leaves_no_process(loop, engine):
    children = set(engine._children)
    assert children and all(psutil.pid_exists(p) for p in children)
    loop.run(close_all())
    assert engine.llm is None and loaded_engines() == []
    assert not [p for p in children if _running(p)]


# -- the CLI, as a separate process --------------------------------------------------------------


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _become_subreaper() -> None:
    """Orphans below this process come to it instead of to init (prctl PR_SET_CHILD_SUBREAPER),
    so a process whose parent died between two polls is still found."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class Watch:
    """Starts the CLI and keeps the pids of everything it starts, to check none outlives it:
    those seen by polling its tree, and any orphan of the tree, which this process (its
    subreaper) inherits however short-lived the orphan's parent was."""

    def __init__(self, args: list[str], command: tuple[str, ...] = ("-m", "harness")) -> None:
        _become_subreaper()
        self._before = {p.pid for p in psutil.Process().children(recursive=True)}
        self.proc = subprocess.Popen(
            [sys.executable, *command, *args],
            cwd=ROOT,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.pids: set[int] = set()
        self.output = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output += line

    def _poll(self) -> None:
        while self.proc.poll() is None:
            try:
                kids = psutil.Process(self.proc.pid).children(recursive=True)
                self.pids |= {k.pid for k in kids if "resource_tracker" not in _cmd(k)}
            except psutil.Error:
                pass
            time.sleep(0.2)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def _orphans(self) -> set[int]:
        """Processes of the CLI's tree re-parented to this process once their parent died."""
        kids = psutil.Process().children(recursive=True)
        return {
            k.pid
            for k in kids
            if k.pid not in self._before and k.pid != self.proc.pid
            and "resource_tracker" not in _cmd(k)
        }  # fmt: skip

    def left_running(self, grace: float = 15.0) -> list[int]:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self.pids |= self._orphans()
            alive = [p for p in self.pids if _running(p)]
            if not alive:
                return []
            time.sleep(0.5)
        return alive


def _cmd(p) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def test_cli_sweep_of_two_points_loads_once_and_shuts_down_once(tmp_path, data_dir):
    # SmolLM2 (a trained model, so real chat text and long ceo prompts) at the paper's sampling,
    # mas=single and a small mas=ceo: the two points run at once on the process's loop (the
    # harness launcher), share one engine, and keep their per-call seeds (chunked prefill is off
    # on a CPU; with it on, the first seeded prefill split across steps killed the worker).
    w = Watch(
        [
            "-m",
            *SMOLLM2,
            "mas=single,ceo",
            "agents=2",
            "turns=1",
            "critic_rounds=1",
            "benchmark=math500",
            "run.progress=false",
            "tracking.wandb.mode=disabled",
            *PAPER,
            "limit=1",  # the ceo point's critics and agents already run calls at once
            "tokens=48",
            "hydra.launcher.concurrency=2",
            f"hydra.sweep.dir={tmp_path}",
        ]
    )
    code = w.wait(timeout=900)
    assert code == 0, w.output[-3000:]
    assert w.output.count("vLLM loaded") == 1, w.output[-3000:]
    assert w.output.count("vLLM shut down") == 1, w.output[-3000:]
    runs = {json.loads(p.read_text())["mas"]: p.parent for p in tmp_path.rglob("summary.json")}
    assert sorted(runs) == ["ceo", "single"]
    for mas, run_dir in runs.items():
        s = json.loads((run_dir / "summary.json").read_text())
        print(f"SmolLM2 on vLLM, {mas}, paper sampling: n={s['n']} calls={s['calls']} "
              f"completion_tokens={s['completion_tokens']} wall_s={s['wall_s']}")  # fmt: skip
        assert s["n"] == 1 and s["complete"] and s["per_call_seeds"] is True, s
        calls = [c for t in read_jsonl(run_dir / "transcripts.jsonl") for c in t["calls"]]
        assert calls and all(c["temperature"] == 0.7 and c["seed"] is not None for c in calls)
    assert w.pids and not w.left_running()


def test_sigterm_mid_generation_leaves_no_process(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    w = Watch([*EAGER, *RUN, "limit=64", "tokens=400", f"hydra.run.dir={run_dir}"])
    log = Path(run_dir) / "harness.log"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and "vLLM loaded" not in w.output:
        assert w.proc.poll() is None, w.output[-3000:]
        time.sleep(0.5)
    assert "vLLM loaded" in w.output
    time.sleep(3)  # generating now: 64 problems × 400 tokens take far longer than this
    assert w.proc.poll() is None
    assert any("VLLM" in _cmd(psutil.Process(p)) for p in w.pids if _running(p))
    w.proc.send_signal(signal.SIGTERM)
    code = w.wait(timeout=120)
    assert code == 130, w.output[-3000:]  # interrupted (README)
    assert not w.left_running(), [(p, _cmd(psutil.Process(p))) for p in w.pids if _running(p)]
    assert log.exists()


def test_kill_9_mid_generation_leaves_no_process(tmp_path, data_dir):
    # No clean-up runs in a killed harness; the engine's watchdog (processes.Watchdog) ends
    # vLLM's engine core, which would otherwise run on (vllm-project/vllm#55510).
    w = Watch([*EAGER, *RUN, "limit=64", "tokens=400", f"hydra.run.dir={tmp_path / 'run'}"])
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and "vLLM loaded" not in w.output:
        assert w.proc.poll() is None, w.output[-3000:]
        time.sleep(0.5)
    time.sleep(3)
    assert any("VLLM" in _cmd(psutil.Process(p)) for p in w.pids if _running(p))
    w.proc.send_signal(signal.SIGKILL)
    assert w.wait(timeout=60) == -signal.SIGKILL
    assert not w.left_running(grace=30), [
        (p, _cmd(psutil.Process(p))) for p in w.pids if _running(p)
    ]


SCRIPT = """
import asyncio, sys
from harness.engines.base import Request, SamplingParams
from harness.engines.vllm_engine import VllmEngine
from harness.settings import compose

async def main():
    engine = VllmEngine(compose(sys.argv[1:]).model)
    await engine.start()
    print("generating", flush=True)
    reqs = [Request([{"role": "user", "content": f"q{i}"}], SamplingParams(400)) for i in range(64)]
    while True:
        await asyncio.gather(*(engine.generate(r) for r in reqs))

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_sigterm_to_a_script_using_the_engine_leaves_no_process():
    # No CLI here: the engine's own SIGTERM hook (processes.py) ends vLLM's processes.
    w = Watch(EAGER, command=("-c", SCRIPT))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and "generating" not in w.output:
        assert w.proc.poll() is None, w.output[-3000:]
        time.sleep(0.5)
    time.sleep(3)
    assert w.proc.poll() is None and any(_running(p) for p in w.pids)
    w.proc.send_signal(signal.SIGTERM)
    assert w.wait(timeout=120) == -signal.SIGTERM
    assert not w.left_running(), [(p, _cmd(psutil.Process(p))) for p in w.pids if _running(p)]


def test_a_model_vllm_cannot_load_is_one_line(tmp_path, data_dir):
    from tests.conftest import run_cli

    proc = run_cli(
        "model=hf",
        f"model.path={tmp_path / 'no-such-model'}",
        "model.engine=vllm",
        *RUN,
        "limit=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        timeout=600,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not load model 'hf'" in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
