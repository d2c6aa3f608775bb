"""Process-level settings for a job: CPU threads.

Two torch processes that each use every core on a small machine slow each other down many
times over (OpenMP threads spin on shared cores), so parallel jobs (multirun, SLURM arrays)
should each use the CPUs they were given."""

from __future__ import annotations

import os

import torch


def configure_threads(threads: int | None = None) -> int:
    """Use ``threads`` CPU threads, else SLURM's ``SLURM_CPUS_PER_TASK``, else torch's default."""
    if threads is None:
        slurm = os.environ.get("SLURM_CPUS_PER_TASK")
        threads = int(slurm) if slurm and slurm.isdigit() else None
    if threads is not None and threads >= 1:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()
