"""How a worker process is started: the bubblewrap command line, or the fallback, and its environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.sandbox.config import SandboxConfig

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
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
    """Paths where credentials usually live (ssh keys, .netrc, cloud and W&B configs)."""
    paths = ["/root", "/home", os.path.expanduser("~"), *cfg.hide_paths]
    return [p for p in dict.fromkeys(os.path.realpath(p) for p in paths) if os.path.isdir(p)]


def _python_dirs(python: str) -> list[str]:
    """Directories the interpreter and its imports need, even when they sit under a hidden path."""
    exe = os.path.realpath(python)
    dirs = {os.path.dirname(os.path.dirname(exe)), str(WORKER_SCRIPT.parent)}
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        dirs |= {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
        dirs |= {p for p in sys.path if p and os.path.isdir(p)}
    return sorted(os.path.realpath(d) for d in dirs)


def _under(path: str, parents: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in parents)


def _worker_argv(python: str, opts: dict) -> list[str]:
    # -I: ignore PYTHON* variables and the user site, and keep the script's folder off sys.path.
    return [python, "-I", str(WORKER_SCRIPT), json.dumps(opts)]


def bwrap_spec(cfg: SandboxConfig) -> LaunchSpec:
    python = interpreter(cfg)
    hide = hidden_paths(cfg)
    argv = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev"]
    argv += ["--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run"]
    for path in hide:
        argv += ["--tmpfs", path]
    # Whatever covers a folder the interpreter needs (a checkout or venv may live in /tmp or a
    # home) gets that folder bound back in, read-only.
    shadow = ["/tmp", "/run", *hide]
    made: set[str] = set(shadow)
    for path in _python_dirs(python):
        if not _under(path, shadow):
            continue
        # bwrap would create the missing parents as 0700, unreadable for the sandbox uid.
        for parent in reversed(Path(path).parents):
            if str(parent) not in made and _under(str(parent), shadow):
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        argv += ["--ro-bind", path, path]
    argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--new-session", "--clearenv", "--chdir", "/tmp"]
    env = clean_env(cfg, python)
    for key, value in env.items():
        argv += ["--setenv", key, value]
    opts: dict = {
        "tmpfs": PER_PROGRAM_TMPFS,
        "rebind": _python_dirs(python),
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
    argv += ["--", *_worker_argv(python, opts)]
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
    hide = hidden_paths(cfg)
    # Hiding a folder that holds the interpreter would break the program's imports.
    keep = [p for p in hide if not any(_under(d, [p]) for d in _python_dirs(python))]
    if len(keep) < len(hide):
        missing.append("hidden_home")
    opts = {
        "tmpfs": PER_PROGRAM_TMPFS + keep,
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
