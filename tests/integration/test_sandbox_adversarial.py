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
    sb = Sandbox.from_config({"timeout_s": ROOMY, "workers": 2, "output_bytes": 4096})
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
        "        time.sleep(30)\n"
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
    with Sandbox.from_config({"cpu_s": 1, "timeout_s": HANG, "workers": 1}) as sb:
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
    fallback = Sandbox.from_config({"mechanism": "fallback", "workers": 1})
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

    with Sandbox.from_config({"workers": 1, "timeout_s": 5}) as sb:
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
