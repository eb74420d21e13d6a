"""Hostile programs against the real sandbox: each gets its verdict, within its limits, and the
harness and host are left as they were (files, processes, secrets)."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.sandbox import Sandbox
from tests.settings_helper import sandbox_config

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 2.0  # for programs meant to hit the limit
ROOMY = 30.0  # for programs meant to finish: a busy machine must not flip their verdict
HANG = 60.0  # "did not hang" bound on top of a limit; no timed assertion is tighter
SECRETS = {
    "OPENAI_API_KEY": "sk-sandbox-test-openai-5f1c",
    "WANDB_API_KEY": "wandb-sandbox-test-77ab",
    "HF_TOKEN": "hf_sandbox_test_9e2d",
    "AWS_SECRET_ACCESS_KEY": "aws-sandbox-test-31c0",
}
SSH_KEY = "-----BEGIN FAKE KEY----- sandbox-test-ssh-4b8e"


def _children() -> dict[int, int]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            table[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def descendants() -> set[int]:
    """Every process below this test process (sandbox workers and anything they left)."""
    parents = _children()
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def host_dirs():
    """A fake home with an ssh key, and a folder of files visible to the sandbox."""
    (REPO / ".cache").mkdir(exist_ok=True)  # git-ignored; must be visible inside the sandbox
    base = Path(tempfile.mkdtemp(prefix="sandbox-test-", dir=REPO / ".cache"))
    home = base / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(SSH_KEY)
    victim = base / "victim"
    victim.mkdir()
    (victim / "sentinel.txt").write_text("keep me")
    os.chmod(base, 0o755)
    os.chmod(victim, 0o777)  # even a world-writable folder must stay untouched
    yield {"home": home, "victim": victim, "base": base}
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox(host_dirs):
    saved = {k: os.environ.get(k) for k in [*SECRETS, "HOME"]}
    os.environ.update(SECRETS)
    os.environ["HOME"] = str(host_dirs["home"])
    sb = Sandbox(sandbox_config(timeout_s=ROOMY, workers=2, output_bytes=4096))
    sb.start()
    yield sb
    sb.close()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def check_host(sandbox, host_dirs):
    """Around each test: no new processes are left, and the visible host files are unchanged."""
    before_procs = descendants()
    before_files = snapshot(host_dirs["base"])
    before_repo = sorted(os.listdir(REPO))
    yield
    assert descendants() <= before_procs, "a sandboxed process outlived its run"
    assert snapshot(host_dirs["base"]) == before_files
    assert sorted(os.listdir(REPO)) == before_repo


def run(sandbox: Sandbox, program: str, timeout: float = ROOMY, **kw):
    start = time.monotonic()
    result = sandbox.run_sync(program, timeout_s=timeout, **kw)
    elapsed = time.monotonic() - start
    assert elapsed <= timeout + HANG, f"took {elapsed:.2f}s for a {timeout}s limit: a hang"
    return result


pytestmark = pytest.mark.usefixtures("check_host")


def test_mechanism_is_full_isolation(sandbox):
    assert sandbox.mechanism == "bwrap"
    assert sandbox.missing_protections == []


def test_passes_and_fails_with_assertion(sandbox):
    assert run(sandbox, "print(sum(range(10)))").stdout == "45\n"
    res = run(sandbox, "def f(x):\n    return x\nassert f(1) == 2, 'wrong'\n")
    assert res.verdict == "failed"
    assert res.detail == "AssertionError: wrong (line 3: assert f(1) == 2, 'wrong')"


def test_syntax_error(sandbox):
    res = run(sandbox, "def f(:\n    pass\n")
    assert res.verdict == "failed" and res.detail.startswith("SyntaxError")


def test_prints_gigabytes(sandbox):
    res = run(
        sandbox,
        "import sys\nc = 'x' * (1 << 20)\nwhile True:\n    sys.stdout.write(c)\n",
        timeout=TIMEOUT,
    )
    assert res.verdict == "timeout"
    assert len(res.stdout) < 4096 + 100 and "truncated" in res.stdout
    res = run(sandbox, "import sys\nfor _ in range(300):\n    sys.stdout.write('y' * (1 << 20))\n")
    assert res.verdict == "passed" and len(res.stdout) < 4096 + 100


def test_never_returns(sandbox):
    assert run(sandbox, "while True:\n    pass\n", timeout=TIMEOUT).verdict == "timeout"
    res = run(sandbox, "import time\ntime.sleep(60)\n", timeout=TIMEOUT)
    assert res.verdict == "timeout" and "wall time" in res.detail


def test_fork_bomb(sandbox):
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    assert run(sandbox, bomb, timeout=TIMEOUT).verdict == "timeout"
    # The bomb was capped per program: the pool still runs programs that fork.
    res = run(sandbox, "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'pass'])\n")
    assert res.verdict == "passed"


def test_daemonised_child_is_killed(sandbox):
    program = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(5)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    res = run(sandbox, program)
    assert res.verdict == "passed"  # and check_host asserts the sleeper is gone


def test_kills_its_parent(sandbox):
    program = (
        "import os, signal\n"
        "for pid in (os.getppid(), 1):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('alive')\n"
    )
    res = run(sandbox, program)
    assert res.verdict == "passed" and res.stdout == "alive\n"
    # kill(-1) reaches only the program's own namespace (ESRCH: nothing else there to kill).
    res = run(sandbox, "import os\ntry:\n    os.kill(-1, 9)\nexcept OSError:\n    pass\nprint(1)\n")
    assert res.verdict == "passed"
    assert run(sandbox, "import os\nos.killpg(0, 9)\n").verdict == "crashed"
    assert run(sandbox, "print('ok')").passed


def test_deletes_files(sandbox, host_dirs):
    victim = host_dirs["victim"]
    program = (
        "import os, shutil\n"
        "errors = 0\n"
        f"for act in (lambda: os.remove({str(victim / 'sentinel.txt')!r}),\n"
        f"            lambda: open({str(victim / 'new.txt')!r}, 'w'),\n"
        f"            lambda: shutil.rmtree({str(REPO / 'harness')!r}),\n"
        "            lambda: open('/etc/passwd', 'a'),\n"
        "            lambda: open('/usr/bin/evil', 'w')):\n"
        "    try:\n"
        "        act()\n"
        "    except OSError:\n"
        "        errors += 1\n"
        "open('mine.txt', 'w').write('x')\n"
        "os.remove('mine.txt')\n"
        "assert errors == 5, errors\n"
    )
    assert run(sandbox, program).verdict == "passed"


def test_working_directory_is_fresh(sandbox):
    run(sandbox, "open('left.txt', 'w').write('x')\nopen('/tmp/left2.txt', 'w').write('x')\n")
    for _ in range(3):  # whichever worker runs it
        res = run(
            sandbox,
            "import os\nassert os.listdir('.') == []\n"
            "assert 'left2.txt' not in os.listdir('/tmp') and 'work' in os.listdir('/tmp')\n",
        )
        assert res.verdict == "passed", res.stderr


def test_secrets_invisible(sandbox, host_dirs):
    program = (
        "import os, glob\n"
        "seen = [repr(dict(os.environ))]\n"
        "for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline') + [\n"
        f"        os.path.expanduser('~/.ssh/id_rsa'), {str(host_dirs['home'] / '.ssh/id_rsa')!r},\n"
        "        '/root/.ssh/id_rsa', '/root/.netrc']:\n"
        "    try:\n"
        "        seen.append(open(path, 'rb').read().decode('utf-8', 'replace'))\n"
        "    except OSError:\n"
        "        pass\n"
        "print('\\n'.join(seen))\n"
    )
    res = run(sandbox, program)
    assert res.verdict == "passed"
    blob = res.stdout + res.stderr
    for value in [*SECRETS.values(), SSH_KEY]:
        assert value not in blob


def host_addresses() -> list[str]:
    """This machine's own IPv4 addresses: loopback and every interface's."""
    import psutil

    return sorted(
        {a.address for addrs in psutil.net_if_addrs().values() for a in addrs if a.family == 2}
    )


def reach_program(address: str, port: int) -> str:
    return f"import socket\nsocket.create_connection(({address!r}, {port}), timeout=5).close()\n"


@contextmanager
def host_server():
    """A server outside the sandbox on every address of this machine; the test process itself
    connects to it on each, so a sandboxed program that cannot is kept out by the sandbox (its
    own network namespace), not by a machine without network."""
    server = socket.create_server(("0.0.0.0", 0))
    port = server.getsockname()[1]
    try:
        for address in host_addresses():
            with socket.create_connection((address, port), timeout=5):
                server.accept()[0].close()
        yield server, port
    finally:
        server.close()


def test_sockets(sandbox):
    with host_server() as (server, port):
        for address in host_addresses():
            res = run(sandbox, reach_program(address, port))
            assert res.verdict == "failed", (address, res.verdict, res.detail)
            # refused on the sandbox's own empty loopback, no route from it to anything else
            assert "ConnectionRefusedError" in res.detail or "unreachable" in res.detail, res.detail
        res = run(sandbox, "import socket\nprint([n for _, n in socket.if_nameindex()])\n")
        assert res.passed and res.stdout.strip() == "['lo']", res.stdout  # no host interface
        server.settimeout(0.1)
        with pytest.raises(TimeoutError):
            server.accept()  # nothing arrived from the sandbox


def test_memory_and_file_limits(sandbox):
    res = run(sandbox, "x = bytearray(8 * 1024 ** 3)\n")
    assert res.verdict == "memory"
    res = run(sandbox, "open('big', 'wb').write(b'0' * (64 << 20))\n")
    assert res.verdict == "failed" and "File too large" in res.detail
    res = run(sandbox, "fs = [open('/dev/null') for _ in range(5000)]\n")
    assert res.verdict == "failed" and "Too many open files" in res.detail


def test_crash(sandbox):
    res = run(sandbox, "import ctypes\nctypes.string_at(0)\n")
    assert res.verdict == "crashed" and "SIGSEGV" in res.detail


def test_stdin_and_exit_codes(sandbox):
    assert run(sandbox, "print(input()[::-1])", stdin="abc\n").stdout == "cba\n"
    res = run(sandbox, "import sys\nsys.exit(3)\n")
    assert res.verdict == "failed" and res.exit_code == 3
    assert run(sandbox, "import sys\nsys.exit(0)\n").passed


def test_cpu_limit():
    # a wall limit far above the CPU limit: only the CPU limit can end the loop before it
    with Sandbox(sandbox_config(cpu_s=1, timeout_s=HANG, workers=1)) as sb:
        res = sb.run_sync("while True:\n    pass\n")
    assert res.verdict == "timeout" and "cpu time" in res.detail, res.detail
    assert res.wall_s < HANG, res.wall_s  # ended before the wall limit (which says "wall time")
    assert res.cpu_s >= 0.9, res.cpu_s  # by the second of CPU it had used


def test_concurrent_runs(sandbox):
    import asyncio

    async def many():
        return await asyncio.gather(*(sandbox.run(f"print({i})") for i in range(12)))

    results = asyncio.run(many())
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(12)]


def test_fallback_reports_missing_protections(caplog):
    fallback = Sandbox(sandbox_config(mechanism="fallback", workers=1))
    with caplog.at_level(logging.WARNING, logger="harness.sandbox"), fallback as sb:
        assert sb.mechanism == "fallback"
        assert "readonly_fs" in sb.missing_protections
        res = sb.run_sync("import os\nprint(sorted(os.environ))", timeout_s=ROOMY)
        assert res.passed and "OPENAI_API_KEY" not in res.stdout
        assert "readonly_fs" in res.missing_protections
        assert sb.run_sync("while True: pass", timeout_s=1).verdict == "timeout"
        # what it says of the network is what a program finds: cut off unless listed missing
        with host_server() as (_, port):
            res = sb.run_sync(reach_program("127.0.0.1", port), timeout_s=ROOMY)
            isolated = "network" not in sb.missing_protections
            assert res.passed is not isolated, (sb.missing_protections, res.detail)
    assert any("missing protections" in r.getMessage() for r in caplog.records)


def test_a_worker_that_cannot_be_restarted_fails_the_waiting_calls():
    """Nothing waits forever: with its worker dead and no new one able to start, every waiting
    call gets a sandbox_error result."""
    import asyncio
    import dataclasses
    import signal

    with Sandbox(sandbox_config(workers=1, timeout_s=5)) as sb:
        assert sb.run_sync("print(1)").passed
        # From now on a worker cannot start (its interpreter is gone), and the live one dies.
        sb._spec = dataclasses.replace(sb._spec, argv=["/nonexistent/python"])
        os.killpg(sb._workers[0].proc.pid, signal.SIGKILL)

        async def many():
            calls = [sb.run("import time\ntime.sleep(0.2)") for _ in range(6)]
            return await asyncio.wait_for(asyncio.gather(*calls), 120)

        results = asyncio.run(many())
        assert [r.verdict for r in results] == ["sandbox_error"] * 6
        assert any("could not start" in (r.detail or "") for r in results), results[0].detail
    # and a closed sandbox answers at once with an error, not a hang
    res = asyncio.run(sb.run("print(1)"))
    assert res.verdict == "sandbox_error" and "closed" in res.detail


# -- the second hostile suite: grading that a solution cannot talk its way through -----------
# Each of these passed (or crashed the run) before the grader ran the hidden tests in their own
# process, with expected values that never reach the solution's process.

WRONG_SHARED = "def similar(a, b):\n    return (1,)\n"  # the right answer is (4, 5)
SHARED_TESTS = (
    "assert set(similar((3, 4, 5, 6), (5, 7, 4, 10))) == set((4, 5))\n"
    "assert set(similar((1, 2, 3, 4), (5, 4, 3, 7))) == set((3, 4))\n"
)

REBOUND = {
    "builtin": "import builtins\nbuiltins.set = lambda *a: 0\nbuiltins.sorted = lambda *a, **k: 0\n",
    "global": "set = lambda *a: 0\n",
    "checker": (  # right on the public case, then a checker that says yes to the rest
        "calls = []\n"
        "def similar(a, b):\n"
        "    class Yes:\n"
        "        count = 0\n"
        "        def compare(self, *a):\n"
        "            real.count += 1\n"
        "            return True\n"
        "        truth = compare\n"
        "    real = globals()['__harness_check__']\n"
        "    globals()['__harness_check__'] = Yes()\n"
        "    calls.append(1)\n"
        "    return (4, 5) if len(calls) == 1 else (1,)\n"
    ),
}


@pytest.mark.parametrize("how", sorted(REBOUND))
def test_a_rebound_builtin_or_checker_does_not_change_what_the_tests_compute(sandbox, how):
    program = (REBOUND[how] + WRONG_SHARED) if how != "checker" else REBOUND[how]
    res = run(sandbox, program, tests=SHARED_TESTS, cpu_s=5)
    assert not res.passed, (how, res.verdict, res.detail)
    good = "def similar(a, b):\n    return tuple(frozenset(a) & frozenset(b))\n"
    assert run(sandbox, REBOUND["global"] + good, tests=SHARED_TESTS, cpu_s=5).passed


def test_patched_abs_and_isclose_do_not_reach_the_tests(sandbox):
    patch = (
        "import builtins, math\nbuiltins.abs = lambda x: 0\nmath.isclose = lambda *a, **k: True\n"
    )
    program = patch + "def area(r):\n    return 1.0\n"  # the right answer is 3.14159...
    tests = "import math\nassert math.isclose(area(1), 3.14159, rel_tol=1e-3)\n"
    assert not run(sandbox, program, tests=tests, cpu_s=5).passed
    tests = "assert abs(area(1) - 3.14159) < 1e-3\n"
    assert not run(sandbox, program, tests=tests, cpu_s=5).passed
    good = patch + "def area(r):\n    return 3.14159 * r * r\n"
    assert run(sandbox, good, tests=tests, cpu_s=5).passed


def test_only_the_entry_point_may_bear_a_builtins_name(sandbox):
    # MBPP 126 asks for a function called sum; the tests' other builtins stay genuine
    program = "def sum(a, b):\n    return a + b\ndef abs(x):\n    return 0\n"
    tests = "assert sum(10, 15) == 25\nassert abs(sum(1, 2) - 4) < 0.5\n"
    res = run(sandbox, program, tests=tests, cpu_s=5, entry_point="sum")
    assert not res.passed and "hidden test line 2" in (res.detail or ""), res.detail
    res = run(sandbox, program, tests="assert sum(10, 15) == 25\n", cpu_s=5, entry_point="sum")
    assert res.passed, res.detail
    res = run(sandbox, program, tests="assert sum(10, 15) == 25\n", cpu_s=5)
    assert not res.passed  # no entry point named: the genuine sum


TRACER = """
import sys
def double(x):
    caller = sys._getframe(1)
    def skip(frame, event, arg):
        if event == "line" and frame.f_code.co_filename == caller.f_code.co_filename:
            check = frame.f_globals.get("__harness_check__")
            if check is not None:
                check.count += 3
            last = max(line for _, _, line in frame.f_code.co_lines() if line)
            try:
                frame.f_lineno = last  # over every check left
            except ValueError:
                pass
        return skip
    caller.f_trace = skip
    caller.f_trace_lines = True
    sys.settrace(lambda *a: None)
    return 2 * x if x == 1 else 0
"""


def test_a_tracer_cannot_skip_or_steer_the_hidden_tests(sandbox):
    tests = "assert double(1) == 2\nassert double(5) == 10\nassert double(7) == 14\nend = 1\n"
    res = run(sandbox, TRACER, tests=tests, cpu_s=5)
    assert not res.passed, (res.verdict, res.detail)


STACK_READERS = {
    "inspect": "import inspect\n    line = inspect.stack()[1].code_context[0]\n",
    "traceback": "import traceback\n    line = traceback.extract_stack()[-2].line\n",
    "linecache": (
        "import linecache, sys\n    f = sys._getframe(1)\n"
        "    line = linecache.getline(f.f_code.co_filename, f.f_lineno)\n"
    ),
    "memory": (  # the test text anywhere in the process's objects
        "import gc\n    line = next((o for o in gc.get_objects() if isinstance(o, dict)\n"
        "        and isinstance(o.get('tests'), str)), {}).get('tests', '')\n"
        "    line = [l for l in line.splitlines() if repr(x) in l][0]\n"
    ),
}


@pytest.mark.parametrize("how", sorted(STACK_READERS))
def test_a_solution_cannot_read_the_expected_value_from_the_tests(sandbox, how):
    program = (
        "import ast\n"
        "def secret(x):\n"
        "    try:\n"
        f"        {STACK_READERS[how].replace(chr(10) + '    ', chr(10) + '        ')}"
        "        return ast.literal_eval(line.split('==', 1)[1].strip())\n"
        "    except Exception:\n"
        "        return None\n"
    )
    tests = "assert secret(3) == 'kumquat-3'\nassert secret(4) == 'kumquat-4'\n"
    res = run(sandbox, program, tests=tests, cpu_s=5)
    assert not res.passed, (how, res.verdict, res.detail)
    assert res.verdict == "failed" and "AssertionError" in (res.detail or "")


def test_a_solution_cannot_produce_the_completion_proof(sandbox):
    forge = (
        "import os, json\n"
        "def double(x):\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            os.set_blocking(fd, False)\n"
        "            secret = os.read(fd, 256).decode()\n"
        "        except OSError:\n"
        "            continue\n"
        "        for out in range(3, 64):\n"
        "            try:\n"
        "                os.write(out, (json.dumps({'done': secret, 'checks': 9}) + '\\n').encode())\n"
        "            except OSError:\n"
        "                pass\n"
        "    import glob\n"  # and every other process's descriptors
        "    for path in glob.glob('/proc/[0-9]*/fd/*'):\n"
        "        try:\n"
        "            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)\n"
        '            os.write(fd, b\'{"done": true, "checks": 9}\\n\')\n'
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n"
    )
    res = run(sandbox, forge, tests="assert double(2) == 4\nassert double(3) == 6\n", cpu_s=5)
    assert not res.passed and res.verdict == "failed", (res.verdict, res.detail)


POSER = """
class Meta(type):
    def __eq__(cls, other):
        return other is int or type.__eq__(cls, other)
    def __hash__(cls):
        return hash(int)
    __flags__ = int.__flags__
class Fake(metaclass=Meta):
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def double(x):
    return Fake()
"""


def test_a_metaclass_posing_as_int_is_not_plain(sandbox):
    res = run(sandbox, POSER, tests="assert double(2) == 4\n", cpu_s=5)
    assert not res.passed, (res.verdict, res.detail)


def test_plainness_is_decided_by_type_identity():
    from harness.sandbox.grading import Opaque, plain

    namespace: dict = {}
    exec(POSER, namespace)
    fake = namespace["Fake"]()
    assert type(plain(fake)) is Opaque and plain(fake) != 4


def test_a_grading_run_finds_no_test_text_in_its_memory(sandbox):
    # the hidden tests of the last runs on this worker are nowhere in a solution's process
    tests = "assert probe() is not None\n# needle-7f3a9c\n"
    for _ in range(2):
        run(sandbox, "def probe():\n    return 1\n", tests=tests, cpu_s=5)
    scan = (
        "import gc, sys\n"
        "def probe():\n"
        "    hits = [o for o in gc.get_objects() if isinstance(o, (str, dict, list))\n"
        "            and 'needle-' + str(7) + 'f3a9c' in repr(o)[:100000]]\n"
        "    return len(hits) if len(hits) == 0 else None\n"
    )
    res = run(sandbox, scan, tests=tests, cpu_s=10)
    assert res.passed, (res.verdict, res.detail)


# -- nothing carries over from one program to the next on a worker ---------------------------

LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
SYSV_PLANT = LIBC + (
    "assert libc.shmget(0x5bd1, 4096, 0o1666) >= 0, os.strerror(ctypes.get_errno())\n"
    "assert libc.msgget(0x5bd2, 0o1666) >= 0, os.strerror(ctypes.get_errno())\n"
    "assert libc.semget(0x5bd3, 1, 0o1666) >= 0, os.strerror(ctypes.get_errno())\n"
)
SYSV_LOOK = LIBC + (
    "found = [libc.shmget(0x5bd1, 0, 0o666), libc.msgget(0x5bd2, 0o666),\n"
    "         libc.semget(0x5bd3, 0, 0o666)]\n"
    "print(found)\n"
    "assert found == [-1, -1, -1], found\n"
)
# add_key(2) / keyctl(2) by number (x86_64 / aarch64): no keyutils module or binary needed.
KEYS = LIBC + (
    "import platform\n"
    "ADD_KEY, KEYCTL = {'x86_64': (248, 250), 'aarch64': (217, 219)}[platform.machine()]\n"
    "SESSION, USER, PROCESS = -3, -4, -2\n"
    "def add(ring):\n"
    "    r = libc.syscall(ADD_KEY, b'user', b'sbx-carry-over', b'secret', 6, ring)\n"
    "    assert r >= 0, os.strerror(ctypes.get_errno())\n"
    "def find(ring):\n"
    "    return libc.syscall(KEYCTL, 10, ring, b'user', b'sbx-carry-over', 0)  # KEYCTL_SEARCH\n"
)
KEYS_PLANT = KEYS + "add(SESSION)\nadd(USER)\n"
KEYS_LOOK = KEYS + "found = [find(SESSION), find(USER)]\nprint(found)\nassert found == [-1, -1]\n"


def test_sysv_ipc_objects_do_not_carry_over_between_programs():
    with Sandbox(sandbox_config(workers=1, timeout_s=ROOMY)) as sb:
        planted = run(sb, SYSV_PLANT)
        assert planted.passed, planted.detail
        looked = run(sb, SYSV_LOOK)
        assert looked.passed, (looked.stdout, looked.detail)


KEYS_HARNESS = (
    KEYS
    + "import json, sys\n"
    + "from harness.sandbox import Sandbox\n"
    + "from tests.settings_helper import sandbox_config\n"
    # the harness inside a session keyring of its own, as in a login session or a container
    + "assert libc.syscall(KEYCTL, 1, b'sbx-harness-session') >= 0\n"
    + "with Sandbox(sandbox_config(workers=1, timeout_s=30)) as sb:\n"
    + "    out = [sb.run_sync(p) for p in (sys.argv[1], sys.argv[2])]\n"
    + "print(json.dumps([[r.verdict, r.stdout, r.detail] for r in out]))\n"
)


def test_keyring_keys_do_not_carry_over_between_programs():
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT, cli_env

    proc = subprocess.run([sys.executable, "-c", KEYS_HARNESS, KEYS_PLANT, KEYS_LOOK], cwd=ROOT,
                          env=cli_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    planted, looked = json.loads(proc.stdout.splitlines()[-1])
    assert planted[0] == "passed", planted  # the kernel lets a program add keys
    assert looked[0] == "passed", looked


# -- memory is bounded for the whole process tree --------------------------------------------


def test_a_forked_memory_hog_is_bounded_as_a_whole():
    # three children of 180 MB each, each under the 256 MB per-process limit: 540 MB in all
    hog = (
        "import os, time\n"
        "kids = []\n"
        "for _ in range(3):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        block = bytearray(180 * 1024 * 1024)\n"
        "        for i in range(0, len(block), 4096):\n"
        "            block[i] = 1\n"
        "        time.sleep(5)\n"
        "        os._exit(0)\n"
        "    kids.append(pid)\n"
        "for pid in kids:\n"
        "    os.waitpid(pid, 0)\n"
    )
    with Sandbox(sandbox_config(workers=1, memory_mb=256, timeout_s=ROOMY)) as sb:
        res = run(sb, hog)
    assert res.verdict == "memory", (res.verdict, res.detail)
    assert "256 MB" in (res.detail or "")


# -- no text a model or a program produces can crash a run -----------------------------------

SURROGATE = "\ud800"


@pytest.mark.slow  # two CLI runs and the viewer: about 15 s
def test_a_lone_surrogate_anywhere_does_not_crash_the_run_or_its_rerun(tmp_path, data_dir):
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT, cli_env, read_jsonl, run_cli

    rows = [json.loads(line) for line in (data_dir / "mbpp_sanitized.jsonl").open()][:3]

    def first_line(code: str, line: str) -> str:  # as the first statement of the function
        lines = code.split("\n")
        at = next(i for i, text in enumerate(lines) if text.startswith("def ")) + 1
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
        return "\n".join([*lines[:at], indent + line, *lines[at:]])

    # in the response's prose; in the program's output; in an exception's message
    bodies = [
        f"Here you go {SURROGATE}:\n```python\n{rows[0]['code']}\n```",
        f"```python\n{first_line(rows[1]['code'], 'print(chr(0xD800))')}\n```",
        f"```python\n{first_line(rows[2]['code'], 'raise ValueError(chr(0xD800))')}\n```",
    ]
    replay = tmp_path / "replay.jsonl"
    with replay.open("w") as fh:  # json.dumps escapes the surrogate, as a model server would
        for row, body in zip(rows, bodies, strict=True):
            fh.write(json.dumps({"id": str(row["task_id"]), "response": body}) + "\n")
    out = tmp_path / "run"
    args = ("model=replay", f"model.path={replay}", "mas=single", "benchmark=mbpp_sanitized",
            "benchmark.split=all", "limit=3", f"hydra.run.dir={out}")  # fmt: skip
    home = tmp_path / "home"  # the module's fixtures point HOME at a watched folder
    r = run_cli(*args, HOME=str(home))
    assert r.returncode == 0, r.stderr[-3000:]
    results = read_jsonl(out / "results.jsonl")
    transcripts = read_jsonl(out / "transcripts.jsonl")
    assert len(results) == 3 and len(transcripts) == 3
    text = (out / "results.jsonl").read_text(encoding="utf-8")
    text += (out / "transcripts.jsonl").read_text(encoding="utf-8")
    assert "\\ud800" in text  # recorded escaped, as text
    assert sum(row.get("text_escaped", 0) >= 1 for row in transcripts) >= 1
    by_id = {row["id"]: row for row in results}
    assert by_id[str(rows[0]["task_id"])]["correct"] is True
    assert by_id[str(rows[1]["task_id"])]["correct"] is True  # its output is its own business
    failed = by_id[str(rows[2]["task_id"])]
    assert failed["correct"] is False and "ValueError: \\ud800" in failed["reason"]
    # the rerun resumes on the same files and finishes too; the viewer reads them
    r = run_cli(*args, HOME=str(home))
    assert r.returncode == 0, r.stderr[-3000:]
    page = tmp_path / "page.html"
    v = subprocess.run([sys.executable, "-m", "harness.view", str(out), "--out", str(page)],
                       cwd=ROOT, env=cli_env(HOME=str(home)), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert v.returncode == 0, v.stderr[-3000:]
    assert "ud800" in page.read_text(encoding="utf-8")  # the escaped text, shown as text
    # W&B's offline runs (first run and rerun) finished cleanly
    from tests.tracking.wandb_records import offline_runs, run_view

    runs = offline_runs(out)
    assert len(runs) == 2 and all(run_view(f)["exit_code"] == 0 for f in runs)
