"""Sample molecules with a QM9 checkpoint and score them (benchmarks/qm9.py, benchmarks/steps.py,
benchmarks/models.py): EDM's distance-based metrics for every model, and for a model that predicts
bonds also the metrics of its predicted bonds (MiDi's / SemlaFlow's definition)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from molgen.metrics.stability import EDMMetrics

__all__ = ["QM9Run", "sample_and_score"]


@dataclass
class QM9Run:
    metrics: EDMMetrics    # EDM's check: bonds from distances
    n_failed: int          # samples with non-finite coordinates (counted unstable and invalid)
    seconds: float         # sampling wall time (decoding and scoring excluded)
    bonds: dict | None = None  # predicted-bond metrics (summarize_bond_checks), bond-aware models only

    @property
    def valid_unique(self) -> float:
        return self.metrics.n_unique / max(self.metrics.n_molecules, 1)


def sample_and_score(task, n: int, *, steps: int, sampler=None, batch_size: int = 500, seed: int = 0,
                     reference_smiles=None) -> QM9Run:
    """``n`` molecules (sizes from the training histogram, fixed ``seed``), scored."""
    from molgen.metrics.stability import score_generated

    gen = torch.Generator().manual_seed(seed)
    sizes = task.sample_sizes(n, generator=gen)
    t0 = time.perf_counter()
    out = task.generate(sizes, steps=steps, sampler=sampler, generator=gen, batch_size=batch_size)
    wall = time.perf_counter() - t0
    if not getattr(task, "predicts_bonds", False):
        return QM9Run(score_generated(out, reference_smiles=reference_smiles), sum(not ok for _, _, ok in out), wall)
    from molgen.metrics.bond_stability import BondCheck, check_graph, heavy_atom_smiles, summarize_bond_checks

    failed = "non-finite coordinates in the sampling trajectory"
    checks = [check_graph(g)[0] if ok else BondCheck(False, 0, len(g.elements), False, False, None, failed)
              for g, ok in out]
    edm = score_generated(((g.pos, g.elements, ok) for g, ok in out), reference_smiles=reference_smiles)
    reference = None if reference_smiles is None else heavy_atom_smiles(reference_smiles)
    return QM9Run(edm, sum(not ok for _, ok in out), wall, summarize_bond_checks(checks, reference))
