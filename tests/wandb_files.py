"""Read an offline W&B run's ``.wandb`` file back into wandb's own protobuf records.

The file is a LevelDB-style log: a 7-byte header (``:W&B``, magic, version), then 32 KiB
blocks of chunks, each with a 7-byte header (CRC-32, length, type FULL/FIRST/MIDDLE/LAST).
A test helper only: the library never parses W&B's private format (it reads results back from
its own store or through the public ``wandb.Api()``); the tests use this to check what an offline
run holds."""

from __future__ import annotations

import json
import struct
import time
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


def read_records(path: str | Path, wait: float = 15.0) -> list[Any]:
    """All records of a run file as ``wandb_internal_pb2.Record`` messages, once the file holds
    the run's exit record (W&B's service may still be flushing it after ``finish()``; after
    ``wait`` seconds, whatever is there)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            records = _parse(path)
            if any(r.WhichOneof("record_type") == "exit" for r in records):
                return records
        except ValueError:  # a chunk still being written
            records = None
        if time.monotonic() > deadline:
            return records if records is not None else _parse(path)
        time.sleep(0.05)


def _parse(path: str | Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2

    records = []
    for raw in iter_record_bytes(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        records.append(record)
    return records


def read_summary(path: str | Path) -> dict[str, Any]:
    """The run's summary as W&B stored it (the last value written for each key)."""
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


def read_run(records: list[Any]) -> tuple[dict, dict, bool]:
    """A run's config, summary and whether it finished with exit code 0."""
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    finished = False
    for rec in records:
        kind = rec.WhichOneof("record_type")
        if kind in ("run", "config"):  # the initial config rides on the run record
            updates = rec.run.config.update if kind == "run" else rec.config.update
            for item in updates:
                config[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "summary":
            for item in rec.summary.update:
                keys = [item.key] if item.key else list(item.nested_key)
                node = summary
                for k in keys[:-1]:
                    node = node.setdefault(k, {})
                node[keys[-1]] = json.loads(item.value_json)
        elif kind == "exit":
            finished = rec.exit.exit_code == 0
    config.pop("_wandb", None)
    return config, summary, finished


def offline_records(folder: str | Path, dataset: str, sweeps: list[str]) -> list[Any]:
    """The records W&B holds for the finished bench runs of ``sweeps`` under ``folder``,
    rebuilt as ``ipguard.results.wandb_runs`` rebuilds runs read through the public API."""
    from ipguard.results.wandb_runs import record_from_wandb

    out = []
    for run_file in sorted(Path(folder).rglob("*.wandb")):
        config, summary, finished = read_run(read_records(run_file))
        meta = config.get("ipguard") or {}
        if meta.get("dataset") != dataset or meta.get("sweep") not in sweeps or not finished:
            continue
        table = None
        path = summary.get("matching_rates", {}).get("path")
        if path:
            table = json.loads((run_file.parent / "files" / path).read_text())
        out.append(record_from_wandb(config, summary, table))
    return out
