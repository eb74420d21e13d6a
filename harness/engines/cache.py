"""A response cache in front of any engine: an identical request (same model, messages, prefix
and sampling parameters, including the per-call seed) is answered from disk.

Seeds derive from (seed, problem, repeat, role, round), so re-running a configuration, or a
sweep point that shares calls with another, asks for exactly the same requests. Off by default
(``run.response_cache=true``): a checkpoint retrained in place would otherwise be served stale
answers. SQLite because many runs of a sweep may share one cache file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from pathlib import Path

from harness.engines.base import Completion, Engine, Request


class CachedEngine(Engine):
    def __init__(self, inner: Engine, path: str | Path, identity: str) -> None:
        # The inner engine keeps its own limiter; hits should not wait behind misses.
        super().__init__(max_concurrency=1 << 16)
        self.inner = inner
        self.name = inner.name
        self.identity = identity
        self.path = Path(path)
        self.hits = 0
        self.misses = 0
        self._db: sqlite3.Connection | None = None

    def __getattr__(self, name: str):
        # engine-specific figures (missing ids of replay, batch sizes, …) stay reachable
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("pragma journal_mode=wal")
            self._db.execute(
                "create table if not exists responses (key text primary key, value text)"
            )
        return self._db

    def key(self, request: Request) -> str:
        payload = [
            self.identity,
            request.messages,
            request.prefix,
            dataclasses.asdict(request.params),
        ]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def _generate(self, request: Request) -> Completion:
        p = request.params
        if p.temperature > 0 and p.seed is None:  # not reproducible: never cache
            return await self.inner.generate(request)
        key = self.key(request)
        row = self._conn().execute("select value from responses where key = ?", (key,)).fetchone()
        if row is not None:
            self.hits += 1
            return Completion(**{**json.loads(row[0]), "latency_s": 0.0})
        self.misses += 1
        completion = await self.inner.generate(request)
        if completion.finish_reason not in ("error", "missing"):
            with self._conn() as db:
                db.execute(
                    "insert or replace into responses values (?, ?)",
                    (key, json.dumps(completion.to_dict())),
                )
        return completion

    async def start(self) -> None:
        await self.inner.start()

    async def release(self) -> None:
        await self.inner.release()
        self._close_db()

    async def close(self) -> None:
        await self.inner.close()
        self._close_db()

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
