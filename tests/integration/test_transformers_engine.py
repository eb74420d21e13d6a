"""The transformers engine on the real tiny model: batching, per-row limits, padding, the clamp
to the context left, stop strings, and a request the context cannot hold failing alone."""

import asyncio

import pytest

from harness.engines.base import Request, RequestRejected, SamplingParams
from harness.engines.prompting import prompt_ids
from harness.engines.transformers_engine import TransformersEngine
from harness.settings import compose


def _engine(*over: str) -> TransformersEngine:
    cfg = compose(["model=tiny", "model.max_concurrency=16", "model.max_batch=16", *over])
    return TransformersEngine(cfg.model)


def _req(i: int, max_tokens: int, **kw) -> Request:
    text = f"Problem {i}: " + "compute the sum " * (i % 4)
    return Request([{"role": "user", "content": text}], SamplingParams(max_tokens=max_tokens, **kw))


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
        assert out.clamp is None
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


def test_stop_strings_cut_the_text(engine):
    async def go(stop):
        return await engine.generate(_req(2, 40, stop=stop))

    free = asyncio.run(go(()))
    assert len(free.text) > 6
    stop = free.text[3:6]  # a string the greedy answer is known to contain
    cut = asyncio.run(go((stop,)))
    assert free.text.startswith(cut.text) and stop not in cut.text
    assert cut.finish_reason == "stop"


def test_max_tokens_is_clamped_to_the_context_left_and_recorded():
    e = _engine("model.max_model_len=64")
    r = _req(0, 500)
    room = 64 - len(prompt_ids(_tokenizer(e), r))

    async def go():
        return await asyncio.gather(e.generate(r), e.generate(_req(1, 4)))

    clamped, normal = asyncio.run(go())
    assert clamped.clamp == {"asked": 500, "sent": room}
    assert clamped.completion_tokens <= room and normal.clamp is None


def test_a_prompt_over_the_context_fails_alone():
    e = _engine("model.max_model_len=40")
    long = Request([{"role": "user", "content": "compute the sum " * 40}], SamplingParams(4))

    async def go():
        return await asyncio.gather(
            e.generate(long), e.generate(_req(0, 4)), return_exceptions=True
        )

    rejected, ok = asyncio.run(go())
    assert isinstance(rejected, RequestRejected) and rejected.finish_reason == "length"
    assert ok.completion_tokens >= 1


def _tokenizer(e: TransformersEngine):
    asyncio.run(e.start())
    return e.tokenizer
