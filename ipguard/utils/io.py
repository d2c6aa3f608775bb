"""Atomic file writes: a reader (or a resumed job) never sees a half-written file."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ipguard.utils.errors import IPGuardError

TMP_SUFFIX = ".tmp"


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then rename it over
    ``path``. The rename is atomic on POSIX, so ``path`` is either absent, old, or complete;
    a job killed mid-write leaves at most a hidden ``.<name>.*.tmp`` file, which
    :func:`remove_stale_tmp` clears. The file gets the usual permissions (umask), not
    mkstemp's owner-only ones, so that a shared zoo stays readable."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise IPGuardError(f"no space left to write {path}: free some disk space (or point "
                               "paths.root_dir / IPGUARD_ROOT at a larger disk) and run the "
                               "same command again; finished work is kept") from exc
        raise
    return path


def remove_stale_tmp(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files a killed :func:`atomic_write` left in ``folder``. Call it
    only for a folder this job alone writes to (a zoo member being built)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.glob(f".*{TMP_SUFFIX}") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def is_pickle(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a pickle (``torch.save``'s zip archive or a bare pickle) rather
    than safetensors: such a file is refused unread, since unpickling runs code it carries.
    A safetensors file begins with its header's length (8 bytes) and then ``{``."""
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) == 9 and head[8:9] == b"{":
        return False
    if head.startswith(b"PK\x03\x04"):
        return True
    # PROTO 2-5, then an opcode (never 0x00; a safetensors length here has zero high bytes)
    return head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05") and \
        head[2:3] not in (b"", b"\x00")


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    text = json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


_UMASK: int | None = None


def _umask() -> int:
    """The process umask, read once: from /proc (Linux) or else by setting and restoring it."""
    global _UMASK
    if _UMASK is None:
        try:
            status = Path("/proc/self/status").read_text()
            _UMASK = next(int(line.split()[1], 8) for line in status.splitlines()
                          if line.startswith("Umask:"))
        except (OSError, StopIteration, ValueError, IndexError):
            _UMASK = os.umask(0o022)
            os.umask(_UMASK)
    return _UMASK


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it must not bring the old file back)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
