"""The Random baseline (Section 5.1.3): a fingerprinting point drawn uniformly from [0, 1]^d."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import nn

from ipguard.core.methods.base import Method, MethodOutput
from ipguard.utils.progress import Progress


@dataclass(repr=False)
class Random(Method):
    """Uniform points in the data domain; ``x_init``, ``i`` and ``j`` only fix the shape.

    seed: the stream the points come from. ``None`` (the default) derives it from the bytes of
    ``x_init``: extract's initial points are themselves fixed by its seed, so the Random points
    change with the benchmark's seed and repeat exactly for the same one. A fixed integer gives
    the same points whatever the initial points are. The stream is never extract's own (an
    integer seed is mixed with a constant), so Random-R? does not return its starts unchanged.

    No gradient is taken: ``iterations`` is 0 for every point."""

    seed: int | None = None
    name = "random"
    paper_name = "Random"

    def __call__(
        self, model: nn.Module, x_init: torch.Tensor, i: torch.Tensor, j: torch.Tensor,
        progress: Progress | None = None,
    ) -> MethodOutput:
        generator = torch.Generator().manual_seed(self._stream_seed(x_init))
        x = torch.rand(x_init.shape, generator=generator, dtype=torch.float32)
        x = x.to(device=x_init.device, dtype=x_init.dtype)
        iterations = torch.zeros(len(x_init), dtype=torch.long, device=x_init.device)
        return MethodOutput(x=x, iterations=iterations)

    def _stream_seed(self, x_init: torch.Tensor) -> int:
        if self.seed is not None:
            material = f"ipguard.random:{int(self.seed)}".encode()
        else:
            material = b"ipguard.random:" + x_init.detach().float().cpu().numpy().tobytes()
        return int.from_bytes(hashlib.sha256(material).digest()[:8], "little") & (2**63 - 1)
