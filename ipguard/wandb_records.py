"""Read an offline W&B run's ``.wandb`` file back into wandb's own protobuf records.

The file is a LevelDB-style log: a 7-byte header (``:W&B``, magic, version), then 32 KiB
blocks of chunks, each with a 7-byte header (CRC-32, length, type FULL/FIRST/MIDDLE/LAST).
Used by the tests (and by figure regeneration from offline runs) to check what W&B holds."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = struct.Struct("<4sHB")
CHUNK = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def iter_record_bytes(path: str | Path) -> Iterator[bytes]:
    data = Path(path).read_bytes()
    ident, _magic, _version = HEADER.unpack_from(data, 0)
    if ident != b":W&B":
        raise ValueError(f"{path}: not a W&B run file")
    pos, pending = HEADER.size, b""
    while pos + CHUNK.size <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < CHUNK.size:  # block trailer padding
            pos += left_in_block
            continue
        _crc, length, kind = CHUNK.unpack_from(data, pos)
        pos += CHUNK.size
        if pos + length > len(data):  # the writer is still appending this chunk
            return
        body = data[pos : pos + length]
        pos += length
        if kind == FULL:
            yield body
        elif kind == FIRST:
            pending = body
        elif kind == MIDDLE:
            pending += body
        elif kind == LAST:
            yield pending + body
            pending = b""
        elif kind == 0 and length == 0:
            continue
        else:
            raise ValueError(f"{path}: corrupt chunk of type {kind} at byte {pos}")


def read_records(path: str | Path) -> list[Any]:
    """All records of a run file as ``wandb_internal_pb2.Record`` messages."""
    from wandb.proto import wandb_internal_pb2

    records = []
    for raw in iter_record_bytes(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        records.append(record)
    return records


def read_summary(path: str | Path) -> dict[str, Any]:
    """The run's summary as W&B stored it (the last value written for each key)."""
    import json

    summary: dict[str, Any] = {}
    for record in read_records(path):
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                key = item.key or "/".join(item.nested_key)
                summary[key] = json.loads(item.value_json)
    return summary


def find_run_file(root: str | Path) -> Path:
    files = sorted(Path(root).rglob("*.wandb"))
    if not files:
        raise FileNotFoundError(f"no .wandb run file under {root}")
    return files[-1]
