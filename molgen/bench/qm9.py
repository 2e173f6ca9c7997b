"""Sample molecules with a QM9 checkpoint and score them exactly as EDM does (benchmarks/qm9.py,
benchmarks/steps.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from molgen.metrics.stability import EDMMetrics

__all__ = ["QM9Run", "sample_and_score"]


@dataclass
class QM9Run:
    metrics: EDMMetrics
    n_failed: int          # samples with non-finite coordinates (counted unstable and invalid)
    seconds: float         # sampling wall time (decoding and scoring excluded)

    @property
    def valid_unique(self) -> float:
        return self.metrics.n_unique / max(self.metrics.n_molecules, 1)


def sample_and_score(task, n: int, *, steps: int, sampler=None, batch_size: int = 500, seed: int = 0,
                     reference_smiles=None) -> QM9Run:
    """``n`` molecules (sizes from the training histogram, fixed ``seed``), EDM's metrics."""
    from molgen.metrics.stability import score_generated

    gen = torch.Generator().manual_seed(seed)
    sizes = task.sample_sizes(n, generator=gen)
    t0 = time.perf_counter()
    out = task.generate(sizes, steps=steps, sampler=sampler, generator=gen, batch_size=batch_size)
    wall = time.perf_counter() - t0
    return QM9Run(score_generated(out, reference_smiles=reference_smiles), sum(not ok for _, _, ok in out), wall)
