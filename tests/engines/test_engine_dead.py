"""An engine that died stops the run as ``EngineDown`` (exit status 3) with its reason, ahead
of any other failure of the same moment; a refusal (bad key) stays a plain one-line error."""

from __future__ import annotations

from harness.engines.base import EngineDead, FatalEngineError
from harness.runner import EngineDown, _first


def test_a_dead_engine_is_engine_down_with_exit_3_and_its_reason():
    group = BaseExceptionGroup(
        "episodes", [RuntimeError("unrelated"), EngineDead("HTTP 500 and /health answers 503")]
    )
    exc = _first(group)
    assert isinstance(exc, EngineDown) and exc.exit_code == 3
    assert "the engine is down: HTTP 500 and /health answers 503" in str(exc)
    assert "rerun to resume" in str(exc)


def test_a_refusal_is_not_engine_down():
    exc = _first(BaseExceptionGroup("episodes", [FatalEngineError("HTTP 401")]))
    assert not isinstance(exc, EngineDown) and "refused the run: HTTP 401" in str(exc)
