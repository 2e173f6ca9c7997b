"""Unconditional 3D molecules with explicit hydrogens (QM9): EDM's setting.

Coordinates live in the zero centre-of-mass subspace (``diffusion.zero_com=true``); the number of
atoms of a sample is drawn from the training set's histogram.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from molgen.diffusion.processes import VPProcess
from molgen.diffusion.samplers import Sampler
from molgen.tasks.base import DiffusionTask, Graphs

__all__ = ["MoleculeTask"]


class MoleculeTask(DiffusionTask):
    """Trains and samples whole molecules (atoms with hydrogens) from nothing.

    Args:
        elements: atom vocabulary (index order = type index), e.g. ``[H, C, N, O]``.
        other arguments: see :class:`~molgen.tasks.base.DiffusionTask`.
    """

    #: True for subclasses whose context (a pocket) fixes position and orientation (no zero CoM).
    frame_from_context = False

    def __init__(
        self,
        net: nn.Module,
        process: VPProcess,
        sampler: Sampler,
        optimizer: Callable[..., torch.optim.Optimizer],
        elements: Sequence[str] = ("H", "C", "N", "O"),
        **kwargs: Any,
    ) -> None:
        super().__init__(net, process, sampler, optimizer, **kwargs)
        self.elements = tuple(elements)
        if net.n_types != len(self.elements):
            raise ValueError(f"model.n_types={net.n_types} but there are {len(self.elements)} elements")
        if bool(process.zero_com) == self.frame_from_context:
            raise ValueError("task=molecule needs the zero centre-of-mass process (diffusion.zero_com=true)"
                             if not self.frame_from_context else
                             "a pocket fixes the frame: set diffusion.zero_com=false")
        self.atom_counts: dict[int, int] | None = None

    def unpack(self, batch: Any) -> Graphs:
        return Graphs(pos=batch.pos, types=batch.atom_types, batch=batch.batch, n_graphs=int(batch.num_graphs))

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if self.atom_counts is None and dm is not None and hasattr(dm, "atom_count_histogram"):
            self.atom_counts = dm.atom_count_histogram()

    def checkpoint_extras(self) -> dict[str, Any]:
        counts = None if self.atom_counts is None else {"n": list(self.atom_counts), "count": list(self.atom_counts.values())}
        return {"atom_counts": counts}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        counts = extras.get("atom_counts")
        if counts is not None:
            self.atom_counts = {int(n): int(c) for n, c in zip(counts["n"], counts["count"])}

    def sample_sizes(self, n_samples: int, generator: torch.Generator | None = None) -> list[int]:
        """Atom counts drawn from the training histogram."""
        if not self.atom_counts:
            raise ValueError("this checkpoint has no atom-count histogram: give n_atoms explicitly")
        sizes = torch.tensor(list(self.atom_counts), dtype=torch.long)
        probs = torch.tensor(list(self.atom_counts.values()), dtype=torch.float64)
        return sizes[torch.multinomial(probs, n_samples, replacement=True, generator=generator)].tolist()

    @torch.inference_mode()
    def generate(
        self,
        n_atoms: Sequence[int],
        *,
        steps: int | None = None,
        sampler: Sampler | None = None,
        generator: torch.Generator | None = None,
        batch_size: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> list[tuple[np.ndarray, list[str], bool]]:
        """``(pos [n,3], elements, finite)`` for one molecule per entry of ``n_atoms``."""
        out = []
        for start in range(0, len(n_atoms), batch_size):
            sizes = torch.as_tensor(list(n_atoms[start:start + batch_size]), dtype=torch.long)
            s = self.denoise(sizes, None, steps=steps, sampler=sampler, generator=generator, progress=progress)
            for (pos, types), ok in zip(s.split(), s.finite.tolist()):
                out.append((pos.cpu().numpy().astype(np.float32), [self.elements[i] for i in types.tolist()], bool(ok)))
        return out

    def validation_samples(self, batch: Any, generator: torch.Generator) -> dict[str, float]:
        """EDM atom / molecule stability of a few fresh samples."""
        from molgen.metrics.stability import compute_edm_metrics

        sizes = self.sample_sizes(self.val_samples, generator) if self.atom_counts else \
            torch.bincount(batch.batch)[: self.val_samples].tolist()
        mols = [(p, e) for p, e, ok in self.generate(sizes, steps=self.val_sample_steps, generator=generator) if ok]
        if not mols:
            return {"atom_stable": 0.0, "mol_stable": 0.0}
        m = compute_edm_metrics(mols)
        return {"atom_stable": m.atom_stability, "mol_stable": m.molecule_stability}
