"""How a worker process is started: the bubblewrap command line, or the fallback, and its environment."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.sandbox.config import SandboxConfig

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
REPO = Path(__file__).resolve().parents[2]
# Where bubblewrap shows the sandbox's own code (worker.py, grading.py) to the worker.
SANDBOX_CODE_DIR = "/opt/harness-sandbox"
TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
             "/etc/alternatives", "/etc/nsswitch.conf")  # fmt: skip
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
# Mounted fresh and empty for every program (its working directory lives in /tmp).
PER_PROGRAM_TMPFS = ["/tmp", "/var/tmp", "/dev/shm", "/run"]


@dataclass
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    user: int | None  # setuid before exec (fallback run as root)
    group: int | None
    missing: list[str]  # protections this launch cannot give, known before the worker starts


def is_root() -> bool:
    return os.geteuid() == 0


def interpreter(cfg: SandboxConfig) -> str:
    return cfg.python or sys.executable


def clean_env(cfg: SandboxConfig, python: str) -> dict[str, str]:
    """Nothing from the harness's environment reaches a program except these few variables."""
    path_dirs = [str(Path(python).parent), *SAFE_PATH.split(":")]
    env = {
        "PATH": ":".join(dict.fromkeys(path_dirs)),
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    env.update({str(k): str(v) for k, v in cfg.env.items()})
    return env


def hidden_paths(cfg: SandboxConfig) -> list[str]:
    """Host folders the fallback covers with empty ones (bubblewrap shows only what it binds):
    homes (credentials), the benchmark data, the model and response caches, the checkout (the
    run directories live there) and the current folder."""
    paths = ["/root", "/home", os.path.expanduser("~"), str(REPO), os.getcwd(), *cfg.hide_paths]
    for var in ("HARNESS_DATA_DIR", "HARNESS_CACHE", "HF_HOME", "WANDB_DIR"):
        if os.environ.get(var):
            paths.append(os.environ[var])
    real = dict.fromkeys(os.path.realpath(p) for p in paths)
    return [p for p in real if p != "/" and os.path.isdir(p)]


@functools.lru_cache(maxsize=8)
def _interpreter_layout(python: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(prefixes, sys.path) of an interpreter: ours directly, another by asking it once."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        prefixes = (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)
        return tuple(prefixes), tuple(sys.path)
    probe = "import json, sys; print(json.dumps([[sys.prefix, sys.exec_prefix, " \
        "sys.base_prefix, sys.base_exec_prefix], sys.path]))"  # fmt: skip
    try:
        out = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True,
                             timeout=60, check=True).stdout  # fmt: skip
        prefixes, path = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        exe = os.path.realpath(python)
        return (os.path.dirname(os.path.dirname(exe)),), ()
    return tuple(prefixes), tuple(path)


def _python_dirs(python: str) -> list[str]:
    """The interpreter's own folders (prefixes, stdlib, site-packages) and the sandbox's code:
    everything a program may read besides the system's /usr. A sys.path entry outside the
    prefixes (the checkout on pytest's or ``python -m``'s path) is left out on purpose."""
    prefixes, path = _interpreter_layout(python)
    exe = os.path.realpath(python)
    roots = {os.path.realpath(p) for p in prefixes if p} | {os.path.dirname(os.path.dirname(exe))}
    extra = {os.path.realpath(p) for p in path if p and os.path.isdir(p)}
    dirs = roots | {p for p in extra if _under(p, sorted(roots))}
    # Only the outermost folders: a bind of a folder brings its subfolders along.
    keep = sorted(d for d in dirs if os.path.isdir(d))
    outer = [d for d in keep if not any(d != o and _under(d, [o]) for o in keep)]
    return [*outer, str(WORKER_SCRIPT.parent)]


def _under(path: str, parents: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in parents)


def _worker_argv(python: str, opts: dict, script: str | Path = WORKER_SCRIPT) -> list[str]:
    # -I: ignore PYTHON* variables and the user site, and keep the script's folder off sys.path.
    return [python, "-I", str(script), json.dumps(opts)]


def _system_view() -> list[str]:
    """bwrap arguments for the system part of the view: /usr, its top-level links, a few /etc
    files the C library reads; nothing else of the host."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in TOP_LEVEL:
        path = f"/{name}"
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for path in ETC_FILES:
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    return argv


def bwrap_spec(cfg: SandboxConfig) -> LaunchSpec:
    python = interpreter(cfg)
    # An empty root, then only what programs need: the system, the interpreter's folders and
    # the sandbox's own code (at a fixed path, so no checkout path is shown).
    argv = [shutil.which("bwrap") or "bwrap", "--die-with-parent", *_system_view()]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    made: set[str] = {"/", "/usr", "/etc", "/tmp", "/proc", "/dev"}
    dirs = _python_dirs(python)
    binds = [(d, d) for d in dirs[:-1] if not _under(d, ["/usr"])]
    binds.append((dirs[-1], SANDBOX_CODE_DIR))
    for src, dest in binds:
        # bwrap would create missing parents as 0700, unreadable for the sandbox uid.
        for parent in reversed(Path(dest).parents):
            if str(parent) not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        argv += ["--ro-bind", src, dest]
        made.add(dest)
    for path in cfg.hide_paths:
        real = os.path.realpath(path)
        if os.path.isdir(real) and _under(real, [d for _, d in binds] + ["/usr"]):
            argv += ["--tmpfs", real]
    argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--new-session", "--clearenv", "--chdir", "/tmp"]
    env = clean_env(cfg, python)
    for key, value in env.items():
        argv += ["--setenv", key, value]
    rebind = [d for _, d in binds]
    opts: dict = {
        "tmpfs": PER_PROGRAM_TMPFS,
        "rebind": rebind,
        "own_net": False,
        "preimport": cfg.preimport,
    }
    if is_root():
        # Privileged bwrap keeps only the right to switch user; the worker drops to cfg.uid at
        # once, so programs run as an unprivileged host uid (RLIMIT_NPROC and file permissions
        # would not hold for uid 0).
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        opts.update(drop_to_uid=cfg.uid, drop_to_gid=cfg.gid)
    else:
        argv += ["--unshare-user"]
    script = Path(SANDBOX_CODE_DIR) / WORKER_SCRIPT.name
    argv += ["--", *_worker_argv(python, opts, script)]
    return LaunchSpec(argv=argv, env=env, user=None, group=None, missing=[])


def _world_traversable(path: str) -> bool:
    """Can any user reach and run this file (needed when the fallback drops to another uid)?"""
    real = Path(os.path.realpath(path))
    for parent in [*reversed(real.parents)]:
        if not os.stat(parent).st_mode & 0o001:
            return False
    return bool(os.stat(real).st_mode & 0o001)


def fallback_spec(cfg: SandboxConfig) -> LaunchSpec:
    python = interpreter(cfg)
    missing = ["readonly_fs"]  # only file permissions protect the host's files
    user = group = None
    if is_root():
        if not _world_traversable(python):
            system = shutil.which("python3", path=SAFE_PATH)
            if system and _world_traversable(system):
                python = system
        if _world_traversable(python):
            user, group = cfg.uid, cfg.gid
        else:
            missing.append("unprivileged_uid")
    # Covered per program (in its own mount namespace) with empty folders; the interpreter's
    # folders under them are bound back. Without user namespaces nothing can be hidden, and
    # the sandbox reports "hidden_host_files" missing.
    hide = sorted(hidden_paths(cfg), key=len)
    opts = {
        "tmpfs": PER_PROGRAM_TMPFS + hide,
        "rebind": _python_dirs(python),
        "own_net": True,
        "preimport": cfg.preimport,
    }
    env = clean_env(cfg, python)
    return LaunchSpec(_worker_argv(python, opts), env, user, group, missing)


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def popen(spec: LaunchSpec) -> subprocess.Popen:
    return subprocess.Popen(
        spec.argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=spec.env,
        cwd="/",
        user=spec.user,
        group=spec.group,
        extra_groups=[] if spec.user is not None else None,
        start_new_session=True,
        close_fds=True,
    )
