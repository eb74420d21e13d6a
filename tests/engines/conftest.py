"""The ``vllm`` marker: tests that need vLLM (run by .ci/vllm_step.sh with .venv-vllm's python;
skipped where vLLM is not installed)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "vllm: needs vLLM (.venv-vllm; see scripts/setup_vllm.sh)")
