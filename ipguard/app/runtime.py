"""Process-level settings and limits for a job: CPU threads, available memory.

Two torch processes that each use every core on a small machine slow each other down many
times over (OpenMP threads spin on shared cores), so parallel jobs (multirun, SLURM arrays)
should each use the CPUs they were given.

A job that would need more memory than the machine (or its cgroup: a SLURM allocation, a
container) can give fails before it starts, with the estimate and what to change, instead of
being killed by the kernel hours later with nothing written."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import torch

from ipguard.utils.errors import IPGuardError

FLOAT_BYTES = 4
# What a check may use of the memory that is available when it runs: the rest is left for the
# interpreter, libraries and allocator slack that the estimates do not count.
HEADROOM = 0.9
# Versions a results record names (provenance).
PACKAGES = ("torch", "torchvision", "lightning", "hydra-core", "omegaconf", "wandb",
            "scikit-learn", "numpy", "ipguard")


def configure_threads(threads: int | None = None) -> int:
    """Use ``threads`` CPU threads, else SLURM's ``SLURM_CPUS_PER_TASK``, else torch's default."""
    if threads is None:
        slurm = os.environ.get("SLURM_CPUS_PER_TASK")
        threads = int(slurm) if slurm and slurm.isdigit() else None
    if threads is not None and threads >= 1:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


# CPU flags of native bf16 arithmetic (Linux's /proc/cpuinfo names): without them torch's bf16
# autocast on the CPU is emulated, and training is several times slower than in fp32 (Fashion-
# MNIST small CNN, 2 threads on an AVX2-only AMD EPYC: 2 batches/s in bf16 against 11 in fp32).
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def native_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether this CPU does bf16 arithmetic in hardware (AMX or AVX512-BF16). False where the
    flags cannot be read (not Linux): fp32 is never the slow choice by a wide margin."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return any(flag in line.split() for flag in NATIVE_BF16_FLAGS)
    return False


def cpu_precision() -> str:
    """Lightning's precision for CPU training here: bf16 autocast where the CPU has native bf16
    (about 1.8x faster than fp32 with AMX), else fp32 (bf16 emulation is several times slower)."""
    return "bf16-mixed" if native_bf16() else "32-true"


def available_memory() -> int | None:
    """Bytes this process can still allocate: the kernel's ``MemAvailable``, capped by the
    cgroup's limit less its usage (v2 or v1); None where neither can be read."""
    found: list[int] = []
    meminfo = _meminfo_available()
    if meminfo is not None:
        found.append(meminfo)
    else:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    cgroup = _cgroup_available()
    if cgroup is not None:
        found.append(cgroup)
    return min(found) if found else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    pairs = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
             ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
              "/sys/fs/cgroup/memory/memory.usage_in_bytes"))
    for limit_file, usage_file in pairs:
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= 1 << 60:  # unlimited
            return None
        return max(0, int(limit) - usage)
    return None


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def check_memory(need: int, what: str, fix: str, available: int | None = None) -> None:
    """Raise IPGuardError when ``need`` bytes exceed the memory the job can use."""
    avail = available_memory() if available is None else available
    if avail is None or need <= HEADROOM * avail:
        return
    raise IPGuardError(f"{what} needs about {format_bytes(need)} of memory but only "
                       f"{format_bytes(avail)} is available: {fix}")


def images_bytes(count: int, input_shape: Sequence[int]) -> int:
    """float32 images of ``input_shape``, ``count`` of them."""
    return int(count) * math.prod(int(s) for s in input_shape) * FLOAT_BYTES


def extraction_bytes(n: int, input_shape: Sequence[int]) -> int:
    """A fingerprint's optimisation holds about eight copies of the n points (start, current,
    best, gradient, two Adam moments, clamped copy, result)."""
    return 8 * images_bytes(n, input_shape)


def training_bytes(parameters: int) -> int:
    """A model being trained with Adam: weights, gradients, two moments, plus the parent copy
    the positives start from."""
    return 5 * int(parameters) * FLOAT_BYTES


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def git_revision(cwd: str | Path | None = None) -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).parent,
                             capture_output=True, text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd or Path(__file__).parent, capture_output=True, text=True,
                               timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
