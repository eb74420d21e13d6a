"""Pre-started worker that runs inside the sandbox and forks one locked-down child per program.

Standalone on purpose (stdlib only, no `harness` imports): it is started as a script inside
bubblewrap (or the fallback), and the program's children inherit its memory, so anything imported
here is visible to the programs.

Per program the process tree is:

    worker ── supervisor ── init (pid 1 of a fresh pid namespace) ── program
                 │ new user + mount + IPC namespace,   └─ tests (grading mode)
                 │ fresh tmpfs /tmp (the working directory)

Killing the supervisor kills init (PDEATHSIG), and when init dies the kernel kills every process
left in its pid namespace, so nothing a program starts survives it.  The per-program user
namespace also gives each program its own RLIMIT_NPROC count (the kernel counts processes per
user namespace), so a fork bomb in one program cannot starve the others or the worker.

Protocol on fds 0/1: 4-byte big-endian length + JSON, one request then one reply.

Grading mode (a request with ``tests_bytes``: the hidden tests follow the request on the pipe):
init starts two processes. The *solution process* runs the program, then answers the requests
of the *tests process* (``grading.serve``): names, calls, attributes. The tests process runs the
hidden tests (``grading.py``) in a fresh namespace with the genuine builtins, where the
solution's names are stand-ins that ask the solution process; every value comes back as data.
The worker never reads the tests: it splices them from its request pipe into the tests
process's pipe (``os.splice``, kernel to kernel), after the solution process's ancestors were
forked, so no process that runs solution code ever held them in memory. A pass needs the tests
process's completion report, on a pipe only it holds, and its exit status 0.

Per program also: its own IPC namespace (System V shared memory, queues, semaphores) and a new
session keyring; the memory of its whole process tree is watched (the sum of resident sizes).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import resource
import select
import signal
import struct
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000

PROGRAM_FILE = "program.py"
# keyctl(2) by number: KEYCTL_JOIN_SESSION_KEYRING gives a process a new anonymous session
# keyring, so keys a program adds never reach the next one (the user keyring is per user
# namespace, and each program has its own).
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "i686": 288, "armv7l": 311, "ppc64le": 271,
              "s390x": 280}  # fmt: skip
KEYCTL_JOIN_SESSION_KEYRING = 1
# How often the worker sums the resident memory of a running program's processes.
MEMORY_POLL_S = 0.05
REPORT_LIMIT = 8192
# Modules most test programs import; importing them once here makes them free in every child.
PREIMPORT = (
    "math collections itertools functools heapq bisect re string typing random statistics "
    "fractions decimal copy operator json datetime array dataclasses enum cmath hashlib "
    "traceback linecache types textwrap unicodedata"
)

_libc = ctypes.CDLL(None, use_errno=True)


def _load_grading():
    """grading.py beside this script, loaded before any program is forked (so its captured
    builtins are the genuine ones) and without putting this folder on ``sys.path``."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grading.py")
    spec = importlib.util.spec_from_file_location("_harness_grading", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_grading = _load_grading()


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _write_file(path: str, data: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def _under(path: str, parents: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in parents)


def _mount_fresh(targets: list[str], rebind: list[str], size_mb: int) -> None:
    """Mount an empty tmpfs on each target, then bind the interpreter's folders that lay under
    one back in (a venv or checkout under /tmp must stay importable). The originals are reached
    through O_PATH descriptors opened before they were covered; binds of the read-only root stay
    read-only, since the user namespace cannot lift that lock."""
    keep = [d for d in rebind if _under(d, targets)]
    keep = [d for d in keep if not _under(os.path.dirname(d), [k for k in keep if k != d])]
    fds = {d: os.open(d, os.O_PATH | os.O_DIRECTORY) for d in keep if os.path.isdir(d)}
    try:
        for target in targets:
            if os.path.isdir(target):  # one under an earlier tmpfs is already hidden
                _mount_tmpfs(target, size_mb)
        for d, fd in fds.items():
            os.makedirs(d, exist_ok=True)
            ret = _libc.mount(
                f"/proc/self/fd/{fd}".encode(), d.encode(), None, MS_BIND | MS_REC, None
            )
            _check(ret, f"bind {d}")
    finally:
        for fd in fds.values():
            os.close(fd)


def _mount_tmpfs(target: str, size_mb: int) -> None:
    opts = f"size={size_mb}m,mode=1777".encode()
    ret = _libc.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts)
    _check(ret, f"mount tmpfs {target}")


def probe_namespaces(want_net: bool) -> dict:
    """Which per-program namespaces this kernel lets us create (tried in a throwaway child)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | (CLONE_NEWNET if want_net else 0)
        ipc = _libc.unshare(flags | CLONE_NEWIPC) == 0
        ok = ipc or _libc.unshare(flags) == 0
        if ok:
            try:
                _enter_user_ns(os.getuid(), os.getgid())
                _mount_tmpfs("/tmp", 1)
            except OSError:
                ok = False
        os.write(w, (b"1" if ok else b"0") + (b"1" if ok and ipc else b"0"))
        os._exit(0)
    os.close(w)
    got = os.read(r, 2)
    os.close(r)
    os.waitpid(pid, 0)
    return {"userns": got[:1] == b"1", "ipc": got[1:2] == b"1"}


def _enter_user_ns(uid: int, gid: int) -> None:
    # Map our own ids 1:1 so files we create have a valid owner (unmapped ids give EOVERFLOW).
    # Writing our own /proc/self maps needs the dumpable flag, which the worker keeps off.
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    _write_file("/proc/self/setgroups", "deny")
    _write_file("/proc/self/uid_map", f"{uid} {uid} 1")
    _write_file("/proc/self/gid_map", f"{gid} {gid} 1")


# --------------------------------------------------------------------------- program side


class _Fds:
    """The pipes of one run. ``status`` is written only by init (the program never holds it), so
    the exit status it carries is the kernel's, not the program's word; ``report`` is the
    program's own fd 3 (exception details), read as untrusted. In grading mode also: ``tests``
    (the worker splices the hidden tests into it; only the tests process reads it), ``call`` and
    ``answer`` between the tests process and the solution process, and ``done``, the tests
    process's completion report, which no other process holds."""

    def __init__(self, grading: bool) -> None:
        self.out_r, self.out_w = os.pipe()
        self.err_r, self.err_w = os.pipe()
        self.rep_r, self.rep_w = os.pipe()
        self.status_r, self.status_w = os.pipe()
        self.grading = grading
        none = (-1, -1)
        self.tests_r, self.tests_w = os.pipe() if grading else none
        self.call_r, self.call_w = os.pipe() if grading else none
        self.ans_r, self.ans_w = os.pipe() if grading else none
        self.done_r, self.done_w = os.pipe() if grading else none

    def child_ends(self) -> list[int]:
        return [self.out_w, self.err_w, self.rep_w, self.status_w, self.tests_r, self.call_r,
                self.call_w, self.ans_r, self.ans_w, self.done_w]  # fmt: skip

    def parent_ends(self) -> list[int]:
        return [self.out_r, self.err_r, self.rep_r, self.status_r, self.tests_w, self.done_r]


def _report(fd: int, obj: dict) -> None:
    try:
        os.write(fd, (json.dumps(obj)[:REPORT_LIMIT] + "\n").encode())
    except OSError:
        pass


def _exception_detail(exc: BaseException) -> str:
    import traceback

    head = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, SyntaxError):
        return f"{head}"
    files = (PROGRAM_FILE, _grading.TESTS_FILE)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in files]
    if frames:
        last = frames[-1]
        where = "line" if last.filename == PROGRAM_FILE else "hidden test line"
        return f"{head} ({where} {last.lineno}: {(last.line or '').strip()})"
    return head


def _print_exception(exc: BaseException) -> None:
    import traceback

    try:
        # Drop this runner's own frame so the traceback starts in the program.
        tb = None if isinstance(exc, SyntaxError) else exc.__traceback__.tb_next
        traceback.print_exception(type(exc), exc, tb)
    except BaseException:  # noqa: BLE001 - e.g. MemoryError while formatting
        pass


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _run_program(req: dict, report_fd: int) -> int:
    """Run the program (and, in grading mode, then answer the tests process); the exit code."""
    import builtins
    import linecache
    import types

    source = req["program"]
    grading = "tests_bytes" in req
    code = 0
    # Tracebacks and inspect.getsource need the source; there is no file on disk to read.
    linecache.cache[PROGRAM_FILE] = (len(source), None, source.splitlines(True), PROGRAM_FILE)
    main = types.ModuleType("__main__")
    main.__file__ = PROGRAM_FILE
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    sys.argv = [PROGRAM_FILE]
    stage = "program"
    try:
        exec(compile(source, PROGRAM_FILE, "exec"), main.__dict__)
        if grading:
            stage = "hidden tests"
            _grading.serve(main.__dict__, 4, 5)
    except SystemExit as exc:
        code = _exit_code(exc)
        if grading:
            # Exit status 0 is no evidence that the tests ran: in grading mode any exit fails.
            when = "before" if stage == "program" else "during"
            why = f"the program exited (SystemExit({exc.code!r})) {when} the hidden tests"
            _report(report_fd, {"exc": "SystemExit", "detail": why})
            code = code or 1
        elif code:
            _report(report_fd, {"exc": "SystemExit", "detail": f"exit code {code}"})
    except BaseException as exc:  # noqa: BLE001 - every exception is the program's verdict
        _print_exception(exc)
        _report(report_fd, {"exc": type(exc).__name__, "detail": _exception_detail(exc)})
        code = 1
    try:
        import threading

        threading._shutdown()  # a script's non-daemon threads finish before it exits
        import atexit

        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - e.g. the reader is gone or the file is full
            pass
    return code


def _run_tests(
    report_fd: int, tests_fd: int, from_solution: int, to_solution: int, done_fd: int
) -> int:
    """The tests process: read the hidden tests, run them against the solution process's
    answers, report completion on ``done_fd``; the exit code."""
    import linecache

    code = 0
    try:
        chunks = []
        while True:
            chunk = os.read(tests_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(tests_fd)
        head, _, body = b"".join(chunks).partition(b"\n")
        entry_point = json.loads(head).get("entry_point")
        tests = body.decode("utf-8", "surrogatepass")
        name = _grading.TESTS_FILE
        linecache.cache[name] = (len(tests), None, tests.splitlines(True), name)
        compiled, must_run = _grading.compile_tests(tests)
        checker = _grading.Checker()
        link = _grading.Link(to_solution, from_solution)
        link.hello()
        namespace = _grading.test_namespace(link, tests, checker, entry_point)
        exec(compiled, namespace)
        if checker.count < max(must_run, 1 if "assert" in tests else 0):
            raise AssertionError(f"only {checker.count} of at least {must_run} hidden checks ran")
        _report(done_fd, {"done": True, "checks": checker.count})
    except SystemExit as exc:
        code = _exit_code(exc) or 1
        why = f"the hidden tests exited (SystemExit({exc.code!r}))"
        _report(report_fd, {"exc": "SystemExit", "detail": why})
    except BaseException as exc:  # noqa: BLE001 - a failing test is the verdict
        if isinstance(exc, _grading.GradingError):
            print(f"grading: {exc}", file=sys.stderr)  # not a test's failure: no traceback
        else:
            _print_exception(exc)
        _report(report_fd, {"exc": type(exc).__name__, "detail": _exception_detail(exc)})
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    return code


def _new_keyring() -> None:
    import platform

    number = SYS_KEYCTL.get(platform.machine())
    if number is not None:
        _libc.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None)


def _set_limits(lim: dict) -> None:
    def cap(kind: int, value: int | None) -> None:
        if value is not None and value > 0:
            resource.setrlimit(kind, (value, value))

    cpu = lim.get("cpu_s")
    if cpu:
        # Soft limit sends SIGXCPU; the hard limit one second later is SIGKILL as a backstop.
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 1))
    mb = 1024 * 1024
    cap(resource.RLIMIT_AS, lim.get("memory_mb") and lim["memory_mb"] * mb)
    cap(resource.RLIMIT_FSIZE, lim.get("fsize_mb") and lim["fsize_mb"] * mb)
    cap(resource.RLIMIT_NOFILE, lim.get("nofile"))
    cap(resource.RLIMIT_NPROC, lim.get("nproc"))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]  # fmt: skip


def _drop_capabilities() -> None:
    """No capabilities left, not even those a process holds in its own user namespace: the
    program cannot mount, ptrace its init, or read another process's descriptors."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _program_child(req: dict, fds: _Fds, workdir: str, role: str = "program") -> None:
    """The program process (``role`` "program") or, in grading mode, the tests process
    ("tests"): std streams to pipes, limits on, then the program or the hidden tests."""
    # Setup errors go to init's channel; it is closed (with every other fd above 4) before
    # the program's first line, so nothing the program writes can pose as the sandbox's word.
    status_fd = fcntl.fcntl(fds.status_w, fcntl.F_DUPFD_CLOEXEC, 16)
    try:
        # Own session and process group: killpg(0) or a terminal signal reaches only the program.
        os.setsid()
        _program_fds(req, fds, role, status_fd)
        os.makedirs(workdir, exist_ok=True)
        os.chdir(workdir)
        os.environ["HOME"] = workdir
        os.environ["PWD"] = workdir
        sys.path.insert(0, workdir)
        _program_streams()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        _new_keyring()
        _set_limits(req["limits"])
        _drop_capabilities()
        os.close(status_fd)
    except BaseException as exc:  # noqa: BLE001
        _report(status_fd, {"setup_error": f"{type(exc).__name__}: {exc}"})
        os._exit(125)
    if role == "tests":
        os._exit(_run_tests(3, 4, 5, 6, 7))
    os._exit(_run_program(req, 3))


def _program_fds(req: dict, fds: _Fds, role: str, status_fd: int) -> None:
    """Leave the process only its own descriptors: stdin (the request's, else /dev/null), the
    output pipes on 1-3, its role's ends of the grading pipes from 4 on, and ``status_fd``."""
    stdin_data = req.get("stdin") if role == "program" else None
    if stdin_data:
        in_fd = os.memfd_create("stdin")
        os.write(in_fd, stdin_data.encode())
        os.lseek(in_fd, 0, os.SEEK_SET)
    else:
        in_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(in_fd, 0)
    os.dup2(fds.out_w, 1)
    os.dup2(fds.err_w, 2)
    os.dup2(fds.rep_w, 3, inheritable=False)
    # The solution process holds only its ends of the call pipes (4, 5); the tests
    # process its own (4-7), the tests and the completion pipe among them.
    if fds.grading and role == "program":
        ends = [fds.call_r, fds.ans_w]
    elif role == "tests":
        ends = [fds.tests_r, fds.ans_r, fds.call_w, fds.done_w]
    else:
        ends = []
    for n, fd in enumerate(ends, start=4):
        os.dup2(fd, n, inheritable=False)
    top = 4 + len(ends)
    os.closerange(top, status_fd)
    os.closerange(status_fd + 1, 65536)


def _program_streams() -> None:
    """Python's std streams on fds 0-2, for the program's whole life (so no context managers)."""
    stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    # Text no UTF-8 stream can carry (a lone surrogate) is written as its escape.
    stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    stderr = open(  # noqa: SIM115
        2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1
    )
    sys.stdin = sys.__stdin__ = stdin
    sys.stdout = sys.__stdout__ = stdout
    sys.stderr = sys.__stderr__ = stderr


def _init_child(req: dict, fds: _Fds, workdir: str) -> None:
    """pid 1 of the program's namespace: start the program (and in grading mode the tests
    process), reap, report their status."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # Not dumpable: the program may not open this process's descriptors through /proc.
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        _program_child(req, fds, workdir)
    tests_pid = None
    if fds.grading:
        tests_pid = os.fork()
        if tests_pid == 0:
            _program_child(req, fds, workdir, role="tests")
    for fd in fds.child_ends():
        if fd >= 0 and fd != fds.status_w:
            os.close(fd)
    reaped: dict[int, tuple] = {}
    killed_after_tests = False
    while pid not in reaped or (tests_pid is not None and tests_pid not in reaped):
        try:
            wpid, status, ru = os.wait4(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if wpid in (pid, tests_pid):
            reaped[wpid] = (status, ru)
        # The tests are over: the solution process gets a moment to flush its output (its
        # answers loop ends when the tests process closes the pipe), then it ends.
        if wpid == tests_pid and pid not in reaped and not _exits_within(pid, 1.0):
            os.kill(pid, signal.SIGKILL)
            killed_after_tests = True
    if pid in reaped:
        status, ru = reaped[pid]
        cpu = ru.ru_utime + ru.ru_stime
        rep = {"status": status, "cpu_s": cpu, "program_cpu_s": cpu, "maxrss_kb": ru.ru_maxrss}
        if tests_pid in reaped:
            t_status, t_ru = reaped[tests_pid]
            t_cpu = t_ru.ru_utime + t_ru.ru_stime
            rep.update(tests_status=t_status, tests_cpu_s=t_cpu, cpu_s=cpu + t_cpu,
                       killed_after_tests=killed_after_tests)  # fmt: skip
        _report(fds.status_w, rep)
    os._exit(0)


def _exits_within(pid: int, seconds: float) -> bool:
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        return bool(select.select([pidfd], [], [], seconds)[0])
    finally:
        os.close(pidfd)


def _supervisor_child(req: dict, fds: _Fds, ns: dict) -> None:
    try:
        workdir = "/tmp/work"
        if ns["userns"]:
            flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID
            if ns.get("ipc"):
                flags |= CLONE_NEWIPC  # System V objects die with the program
            if ns["own_net"]:
                flags |= CLONE_NEWNET
            _check(_libc.unshare(flags), "unshare")
            _enter_user_ns(ns["uid"], ns["gid"])
            tmp_mb = req["limits"].get("tmpfs_mb") or 64
            _mount_fresh(ns["tmpfs"], ns["rebind"], tmp_mb)
        else:
            os.setsid()  # without a pid namespace the process group is all we can kill
            workdir = req["fallback_workdir"]
    except BaseException as exc:  # noqa: BLE001
        _report(fds.status_w, {"setup_error": f"{type(exc).__name__}: {exc}"})
        os._exit(125)
    pid = os.fork()
    if pid == 0:
        _init_child(req, fds, workdir)
    for fd in fds.child_ends():
        if fd >= 0:
            os.close(fd)
    while True:
        try:
            os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    os._exit(0)


# --------------------------------------------------------------------------- worker side


class _Capture:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))

    def text(self) -> str:
        out = b"".join(self.chunks).decode("utf-8", errors="replace")
        if self.total > self.kept:
            out += f"\n...[truncated {self.total - self.kept} bytes]"
        return out


def _lines(capture: _Capture) -> list[dict]:
    out = []
    for line in b"".join(capture.chunks).decode("utf-8", "replace").splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _feed_tests(src: int, dst: int, count: int, state: dict) -> None:
    """Move the hidden tests from the request pipe to the tests process's pipe in the kernel
    (``os.splice``), so they never enter the worker's memory (which every later program
    inherits). Whatever the tests process does not take is thrown away, keeping the request
    stream in step."""
    sink = -1
    try:
        while count > 0:
            try:
                moved = os.splice(src, dst if sink < 0 else sink, count)
            except BrokenPipeError:
                sink = os.open(os.devnull, os.O_WRONLY)
                continue
            except InterruptedError:
                continue
            if moved == 0:
                state["eof"] = True  # the harness went away mid-request
                break
            count -= moved
    except OSError as exc:
        state["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        os.close(dst)
        if sink >= 0:
            os.close(sink)


def _tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, in KiB (from /proc): each process's
    proportional share (Pss), so the pages a fork shares with the worker count once, not once
    per process; the resident size where the kernel gives no share."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    tree, frontier = set(), {root}
    while frontier:
        tree |= frontier
        frontier = {p for p, pp in parents.items() if pp in frontier} - tree
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1])
                        break
            continue
        except (OSError, ValueError, IndexError):
            pass
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * page_kb
        except (OSError, ValueError, IndexError):
            pass
    return total


def execute(req: dict, ns: dict, proto_in: int) -> dict:
    """Run one program (and in grading mode its hidden tests) and answer with what it wrote,
    its status from init and the limits it hit."""
    grading = "tests_bytes" in req
    fds = _Fds(grading)
    fallback_dir = None if ns["userns"] else _fallback_workdir(req)
    start = time.monotonic()
    pid = _fork_supervisor(req, fds, ns)
    feeder, feed_state = _start_feeder(req, fds, proto_in) if grading else (None, {})
    caps = _captures(req, fds, grading)
    watch = _Watch(req, start)
    _watch_program(pid, ns, caps, watch, proto_in, feeder, feed_state)
    wall = time.monotonic() - start
    _end_program(pid, ns, feeder, feed_state)
    for fd in caps:
        os.close(fd)
    if fallback_dir is not None:
        import shutil

        shutil.rmtree(fallback_dir, ignore_errors=True)
    return _reply(caps, fds, watch, wall, grading)


def _fallback_workdir(req: dict) -> str:
    """Without namespaces there is no fresh tmpfs: the program works in a private folder."""
    import tempfile

    fallback_dir = tempfile.mkdtemp(prefix="sbx-")
    os.chmod(fallback_dir, 0o700)
    req["fallback_workdir"] = fallback_dir
    return fallback_dir


def _fork_supervisor(req: dict, fds: _Fds, ns: dict) -> int:
    """Fork the supervisor; each side keeps only its own ends of the pipes, so a pipe reads
    end-of-file once every process that writes to it is gone."""
    pid = os.fork()
    if pid == 0:
        for fd in fds.parent_ends():
            if fd >= 0:
                os.close(fd)
        _supervisor_child(req, fds, ns)
    for fd in fds.child_ends():
        if fd >= 0:
            os.close(fd)
    return pid


def _start_feeder(req: dict, fds: _Fds, proto_in: int) -> tuple[threading.Thread, dict]:
    """Splice the hidden tests into the tests process's pipe from a thread, after the fork:
    a full pipe must not stop the worker from reading the program's output."""
    import threading

    feed_state: dict = {}
    feeder = threading.Thread(
        target=_feed_tests,
        args=(proto_in, fds.tests_w, int(req["tests_bytes"]), feed_state),
        daemon=True,
    )
    feeder.start()
    return feeder, feed_state


def _captures(req: dict, fds: _Fds, grading: bool) -> dict[int, _Capture]:
    """A bounded capture per pipe the worker reads, by its fd."""
    limit = int(req["limits"].get("output_bytes") or 65536)
    caps = {
        fds.out_r: _Capture(limit),
        fds.err_r: _Capture(limit),
        fds.rep_r: _Capture(REPORT_LIMIT),
        fds.status_r: _Capture(REPORT_LIMIT),
    }
    if grading:
        caps[fds.done_r] = _Capture(REPORT_LIMIT)
    return caps


class _Watch:
    """The wall and memory limits of one running program, and which of them stopped it."""

    def __init__(self, req: dict, start: float) -> None:
        self.deadline = start + float(req["timeout_s"])
        self.memory_kb = int(req["limits"].get("memory_mb") or 0) * 1024
        self.next_memory_check = start + MEMORY_POLL_S
        self.memory_peak_kb = 0
        self.timed_out = False
        self.over_memory = False
        self.kill_deadline: float | None = None

    def enforce(self, pid: int, ns: dict, now: float) -> None:
        """Kill the program past its wall limit or past its memory (checked every
        MEMORY_POLL_S), and give its pipes two seconds to close after the kill."""
        if not self.timed_out and not self.over_memory and now >= self.deadline:
            self.timed_out = True
            _kill_program(pid, ns)
            self.kill_deadline = now + 2.0
        if self.memory_kb and self.kill_deadline is None and now >= self.next_memory_check:
            # The address-space limit is per process; this bounds the whole tree.
            self.memory_peak_kb = max(self.memory_peak_kb, _tree_rss_kb(pid))
            self.next_memory_check = now + MEMORY_POLL_S
            if self.memory_peak_kb > self.memory_kb:
                self.over_memory = True
                _kill_program(pid, ns)
                self.kill_deadline = now + 2.0

    def gave_up(self, now: float) -> bool:
        return self.kill_deadline is not None and now >= self.kill_deadline

    def wait_s(self, now: float) -> float:
        """How long to wait for output before the next limit is due."""
        until = self.deadline if self.kill_deadline is None else self.kill_deadline
        if self.memory_kb and self.kill_deadline is None:
            until = min(until, self.next_memory_check)
        return max(until - now, 0.0)


def _watch_program(
    pid: int,
    ns: dict,
    caps: dict[int, _Capture],
    watch: _Watch,
    proto_in: int,
    feeder: threading.Thread | None,
    feed_state: dict,
) -> None:
    """Read the program's pipes until all are closed, enforcing its limits on the way. When the
    harness goes away (its pipe readable between requests, or closed mid-request), the
    program is killed and the worker exits: nobody is left to answer."""
    open_fds = set(caps)
    while open_fds:
        now = time.monotonic()
        watch.enforce(pid, ns, now)
        if watch.gave_up(now):
            break  # a process we cannot see holds a pipe: give up on the rest of its output
        waiting_on = [*open_fds]
        if feeder is None or not feeder.is_alive():
            waiting_on.append(proto_in)  # between requests, readable means the harness is gone
        try:
            ready, _, _ = select.select(waiting_on, [], [], watch.wait_s(now))
        except InterruptedError:
            continue
        harness_gone = _read_ready(ready, caps, open_fds, proto_in)
        if harness_gone or feed_state.get("eof"):
            _kill_program(pid, ns)
            os._exit(0)


def _read_ready(ready: list[int], caps: dict[int, _Capture], open_fds: set, proto_in: int) -> bool:
    """Capture what the ready pipes hold, dropping those at end-of-file from ``open_fds``; True
    when the harness's pipe was among them."""
    harness_gone = False
    for fd in ready:
        if fd == proto_in:
            harness_gone = True
            continue
        try:
            data = os.read(fd, 1 << 16)
        except OSError:
            data = b""
        if data:
            caps[fd].add(data)
        else:
            open_fds.discard(fd)
    return harness_gone


def _end_program(pid: int, ns: dict, feeder: threading.Thread | None, feed_state: dict) -> None:
    """Kill and reap every process of the program before answering, and wait for the feeder;
    a harness that went away mid-request ends the worker."""
    _kill_program(pid, ns)
    os.waitpid(pid, 0)
    _reap_orphans()
    if feeder is not None:
        feeder.join()  # every reader of the tests pipe is gone: the feeder has ended
        if feed_state.get("eof"):
            os._exit(0)


def _reply(caps: dict[int, _Capture], fds: _Fds, watch: _Watch, wall: float, grading: bool) -> dict:
    reports = _lines(caps[fds.rep_r])
    reply = {
        "stdout": caps[fds.out_r].text(),
        "stderr": caps[fds.err_r].text(),
        "stdout_bytes": caps[fds.out_r].total,
        "timed_out": watch.timed_out,
        "wall_s": wall,
        "status": _lines(caps[fds.status_r]),
        # The program's own fd 3: details only, never its exit status or the completion.
        "reports": reports,
        "grading": grading,
    }
    if watch.over_memory:
        reply["memory_exceeded_kb"] = watch.memory_peak_kb
    if grading:
        done = [r for r in _lines(caps[fds.done_r]) if r.get("done") is True]
        reply["completed"] = bool(done)
        reply["checks"] = int(done[0].get("checks") or 0) if done else 0
    return reply


def _children() -> list[int]:
    me = os.getpid()
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    if int(fh.read().rsplit(b")", 1)[1].split()[1]) == me:
                        kids.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def _reap_orphans() -> None:
    """Kill and reap whatever the program left behind before we answer.

    The worker is a child subreaper, so orphans come back to it: a killed supervisor's init
    (reaping it means its whole pid namespace is gone), or, without namespaces, any process the
    program daemonised.
    """
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            continue
        for kid in _children():
            try:
                os.kill(kid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.001)


def _kill_program(pid: int, ns: dict) -> None:
    try:
        if ns["userns"]:
            os.kill(pid, signal.SIGKILL)
        else:
            os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        try:
            chunk = os.read(fd, n - len(buf))
        except InterruptedError:
            continue
        if not chunk:
            return None
        buf += chunk
    return buf


def _send(fd: int, obj: dict) -> None:
    data = json.dumps(obj).encode()
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def main() -> None:
    opts = json.loads(sys.argv[1])
    # Keep the protocol on private fds so nothing a child prints can corrupt it.
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    if opts.get("drop_to_uid") is not None:
        _drop_privileges(opts["drop_to_uid"], opts["drop_to_gid"])
    for name in PREIMPORT.split() + list(opts.get("preimport") or []):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - optional modules may be absent
            pass
    # Programs run as our uid: without this they could read or write our memory via /proc.
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    ns = probe_namespaces(opts.get("own_net", False))
    ns.update(
        uid=os.getuid(),
        gid=os.getgid(),
        own_net=opts.get("own_net", False),
        tmpfs=[p for p in opts.get("tmpfs", ["/tmp"]) if os.path.isdir(p)],
        rebind=opts.get("rebind", []),
    )
    _send(proto_out, {"ready": True, "pid": os.getpid(), "uid": os.getuid(), **ns})
    while True:
        head = _read_exact(proto_in, 4)
        if head is None:
            return
        body = _read_exact(proto_in, struct.unpack(">I", head)[0])
        if body is None:
            return
        req = json.loads(body)
        try:
            reply = execute(req, ns, proto_in)
        except Exception as exc:  # noqa: BLE001 - reported as sandbox_error, worker stays up
            reply = {"worker_error": f"{type(exc).__name__}: {exc}"}
        try:
            _send(proto_out, reply)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                return
            raise


if __name__ == "__main__":
    main()
