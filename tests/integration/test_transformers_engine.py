"""The transformers engine on the real tiny model: batching, per-row limits, padding."""

import asyncio

import pytest
from omegaconf import OmegaConf

from harness.engines.base import Request, SamplingParams
from harness.engines.transformers_engine import TransformersEngine
from tests.conftest import CACHE


def _engine(**over) -> TransformersEngine:
    cfg = {
        "name": "tiny",
        "engine": "transformers",
        "path": None,
        "build": "tiny",
        "cache_dir": str(CACHE / "models"),
        "max_concurrency": 16,
        "max_batch": 16,
        "dtype": "float32",
        "device": "cpu",
    }
    return TransformersEngine(OmegaConf.create({**cfg, **over}))


def _req(i: int, max_tokens: int) -> Request:
    text = f"Problem {i}: " + "compute the sum " * (i % 4)
    return Request([{"role": "user", "content": text}], SamplingParams(max_tokens=max_tokens))


@pytest.fixture(scope="module")
def engine():
    e = _engine()
    asyncio.run(e.start())
    return e


def test_concurrent_requests_share_batches_and_keep_their_limits(engine):
    async def go():
        return await asyncio.gather(*(engine.generate(_req(i, 8 + 4 * (i % 3))) for i in range(16)))

    engine.batches.clear()
    outs = asyncio.run(go())
    assert sum(engine.batches) == 16 and len(engine.batches) <= 2, engine.batches
    for i, out in enumerate(outs):
        assert 1 <= out.completion_tokens <= 8 + 4 * (i % 3)
        assert out.finish_reason in ("stop", "length")
        assert out.prompt_tokens > 0
        if out.finish_reason == "length":
            assert out.completion_tokens == 8 + 4 * (i % 3)


def test_left_padded_batch_gives_the_same_greedy_text_as_one_by_one(engine):
    reqs = [_req(i, 12) for i in range(4)]  # prompts of different lengths → padding

    async def batched():
        return await asyncio.gather(*(engine.generate(r) for r in reqs))

    async def single():
        return [await engine.generate(r) for r in reqs]

    together = [o.text for o in asyncio.run(batched())]
    alone = [o.text for o in asyncio.run(single())]
    assert together == alone


def test_prefix_is_continued(engine):
    async def go():
        r = _req(1, 4)
        r.prefix = "<think>\n"
        return await engine.generate(r)

    out = asyncio.run(go())
    assert out.completion_tokens <= 4
