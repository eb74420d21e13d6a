"""What a sweep needs to know about the machine its points run on.

- ``${harness.job_gpus:N}`` (a resolver, registered on import): the GPUs a sweep point's job
  gets (``hydra.launcher.gpus_per_node`` under the SLURM presets), else ``N``. The vLLM model
  configs take ``tensor_parallel_size`` from it, so a job given two GPUs uses both.
- :func:`check_gpu_jobs`: what the launchers refuse before starting anything (one line, exit 2):
  a vLLM point whose parallel size does not fill the job's GPUs, several GPU engines at once
  on one node (joblib), and the outcome of points that ran in other processes.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from harness.errors import ConfigError

RESOLVER = "harness.job_gpus"


def job_gpus(default: Any = 1) -> int:
    """``hydra.launcher.gpus_per_node`` of the job being composed, else ``default``."""
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
    except (ImportError, ValueError):  # not inside a Hydra job (tests, scripts)
        return int(default)
    n = OmegaConf.select(hc, "launcher.gpus_per_node", default=None)
    return int(n) if n else int(default)


if not OmegaConf.has_resolver(RESOLVER):
    OmegaConf.register_new_resolver(RESOLVER, job_gpus)


def _model(cfg: DictConfig) -> dict[str, Any]:
    node = OmegaConf.select(cfg, "model", default=None)
    if node is None:
        return {}
    return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]


def is_gpu_engine(model: dict[str, Any]) -> bool:
    """vLLM always takes the GPUs it sees; transformers when told to use CUDA."""
    engine = model.get("engine")
    return engine == "vllm" or (engine == "transformers" and model.get("device") == "cuda")


def check_parallel_size(cfg: DictConfig, gpus: int | None, where: str) -> None:
    """A vLLM point under a launcher that gives each job ``gpus`` GPUs must use them all."""
    if not gpus:
        return
    model = _model(cfg)
    if model.get("engine") != "vllm":
        return
    tp = int(model.get("tensor_parallel_size") or 1)
    dp = int(model.get("data_parallel_size") or 1)
    if tp * dp != gpus:
        raise ConfigError(
            f"{where}: each job gets {gpus} GPUs but model {model.get('name')} uses "
            f"tensor_parallel_size {tp} x data_parallel_size {dp} = {tp * dp}; set "
            f"model.tensor_parallel_size={gpus // dp if gpus % dp == 0 else gpus} (or "
            f"hydra.launcher.gpus_per_node={tp * dp})"
        )


def check_one_gpu_engine(cfgs: list[DictConfig], n_jobs: int, where: str) -> None:
    """Worker processes on one node each load their own engine on the same GPUs."""
    if n_jobs == 1:
        return
    for cfg in cfgs:
        model = _model(cfg)
        if is_gpu_engine(model):
            raise ConfigError(
                f"{where} runs {n_jobs if n_jobs > 0 else 'all'} points at once in worker "
                f"processes, each loading its own {model.get('engine')} engine for "
                f"{model.get('name')} on the same GPUs; use the default launcher, which shares "
                f"one engine (hydra/launcher=harness hydra.launcher.concurrency=N), or "
                f"hydra.launcher.n_jobs=1"
            )


def bwrap_says() -> str:
    """What bubblewrap itself says when asked for the namespaces the sandbox uses ("" if it
    runs, or is not installed)."""
    import shutil
    import subprocess

    exe = shutil.which("bwrap")
    if exe is None:
        return ""
    argv = [exe, "--unshare-all", "--ro-bind", "/", "/", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"; bwrap: {exc}"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return f"; {lines[0].strip()}" if done.returncode and lines else ""


def userns_note() -> str:
    """Why bubblewrap may not get user namespaces on this machine ("" when nothing says so)."""
    from pathlib import Path

    said = bwrap_says()

    def read(path: str) -> str | None:
        try:
            return Path(path).read_text().strip()
        except OSError:
            return None

    if read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return (
            said
            + "; unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)"
        )
    if read("/proc/sys/user/max_user_namespaces") == "0":
        return said + "; user namespaces are disabled (user.max_user_namespaces=0)"
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        return said + (
            "; AppArmor restricts unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns=1)"
        )
    return said


def point_outcome(run_dir: str) -> tuple[str, str] | None:
    """Why a point that ran in another process did not finish: ("failed" | "not_recorded",
    message) from its summary.json, or None when it finished."""
    from pathlib import Path

    from harness.rows import read_summary

    summary = read_summary(Path(run_dir) / "summary.json")
    if summary is None:
        return ("failed", f"{run_dir}: no summary.json (the point crashed)")
    if summary.not_recorded_engine_errors:
        n = summary.not_recorded_engine_errors
        return ("not_recorded", f"{run_dir}: {n} problems hit engine errors and were not recorded")
    if summary.complete is False and summary.error:
        return ("failed", f"{run_dir}: {summary.error}")
    return None
