"""Benchmark harness for multi-agent collaborative reasoning with test-time scaling."""

__version__ = "0.1.0"

# Model configs read ${harness.job_gpus:N} (the GPUs a sweep point's job gets): the resolver must
# exist wherever a config is resolved (the CLI, launchers' worker processes, the judge, scripts).
import harness.cluster  # noqa: E402, F401
