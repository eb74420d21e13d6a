"""Read what W&B wrote offline: the records of a ``run-<id>.wandb`` transaction log.

wandb ≥ 0.2x dropped its Python reader (``wandb.sdk.internal.datastore``); the file is still
LevelDB's log format (32 KiB blocks of CRC-checked, possibly fragmented chunks, after a
``:W&B`` header) holding W&B's own protobuf ``Record`` messages, decoded here with
``wandb.proto``. Every chunk's checksum is verified, so a wrong parse fails loudly.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32768
HEADER = 7  # crc32 (4), length (2), type (1)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: str | Path) -> list[Any]:
    data = Path(path).read_bytes()
    ident, magic, _version = struct.unpack("<4sHB", data[:7])
    assert ident == b":W&B" and magic == 0xBEE1, f"{path} is not a W&B transaction log"
    records, pending, pos = [], b"", 7
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # block trailer
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:  # zero padding
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF == crc, "bad checksum"
        pos += HEADER + length
        if kind == FIRST:
            pending = chunk
            continue
        if kind == MIDDLE:
            pending += chunk
            continue
        raw = pending + chunk if kind == LAST else chunk
        pending = b""
        record = pb.Record()
        record.ParseFromString(raw)
        records.append(record)
    return records


def offline_runs(run_dir: str | Path) -> list[Path]:
    """The offline run folders under a run dir, oldest first."""
    return sorted((Path(run_dir) / "wandb").glob("offline-run-*"))


def finished_records(folder: str | Path, timeout_s: float = 60.0) -> list[Any]:
    """The records of an offline run once its exit record is on disk: W&B's writer flushes
    the file in the background, after ``run.finish()`` has returned."""
    (log,) = Path(folder).glob("run-*.wandb")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            records = read_records(log)
        except (AssertionError, struct.error):  # a chunk still being written
            if time.monotonic() > deadline:
                raise
            records = []
        if any(r.WhichOneof("record_type") == "exit" for r in records):
            return records
        if time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def run_view(folder: str | Path) -> dict[str, Any]:
    """One offline run as plain data: id, group, job_type, config, summary, history, artifacts."""
    out: dict[str, Any] = {
        "config": {},
        "summary": {},
        "history": [],
        "artifacts": [],
        "exit_code": None,
    }
    for rec in finished_records(folder):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out.update(id=rec.run.run_id, group=rec.run.run_group, job_type=rec.run.job_type)
            out["name"] = rec.run.display_name
            for item in rec.run.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in rec.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in rec.summary.update:
                key = item.key or "/".join(item.nested_key)
                out["summary"][key] = json.loads(item.value_json)
        elif kind == "history":
            row = {}
            for item in rec.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            out["history"].append(row)
        elif kind == "artifact":
            files = [e.path for e in rec.artifact.manifest.contents]
            out["artifacts"].append(
                {"name": rec.artifact.name, "type": rec.artifact.type, "files": files}
            )
        elif kind == "exit":
            out["exit_code"] = rec.exit.exit_code
    return out
