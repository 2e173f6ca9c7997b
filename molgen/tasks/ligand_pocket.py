"""Pocket-conditioned ligand generation: the pocket is fixed context, the ligand is denoised.

Frame: coordinates are centred on the pocket centroid (the pocket fixes position and orientation,
so the ligand diffuses in full R^3 around it, as in TargetDiff; no zero-CoM projection). Atom
types are the heavy elements of ``elements`` (hydrogens implicit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from molgen.chem.bond_graph import BondGraph, graph_from_mol
from molgen.data.ligand_size import LigandSizeModel
from molgen.data.vocab import DEFAULT_LIGAND_ELEMENTS, ElementVocab
from molgen.diffusion.guidance import GuidanceScale
from molgen.diffusion.processes import VPProcess
from molgen.diffusion.samplers import Sampler
from molgen.tasks.base import DiffusionTask, FixedAtoms, Graphs

__all__ = ["LigandPocketTask", "GeneratedAtoms", "Fragment", "PocketLigandSizes"]

log = logging.getLogger(__name__)


@dataclass
class GeneratedAtoms:
    """One generated ligand before bond perception: coordinates in the receptor frame (Angstrom)."""

    pos: np.ndarray          # float32 [n, 3]
    elements: list[str]
    finite: bool             # False: the trajectory diverged (NaN/Inf); pos is meaningless
    graph: BondGraph | None = None  # a bond-aware model's predicted atoms, charges and bonds (same frame)


@dataclass
class Fragment:
    """Atoms to keep fixed in every generated ligand (receptor frame, Angstrom): they become the
    first ``len(elements)`` atoms of each ligand. ``graph`` (the fragment's charges and Kekulé
    bonds) is what a bond-aware model keeps fixed too; atoms-only models use positions and elements."""

    pos: np.ndarray        # float32 [F, 3]
    elements: list[str]
    graph: BondGraph | None = None
    graph_error: str | None = None  # why ``graph`` is missing (e.g. a ring RDKit cannot kekulize)

    def __post_init__(self) -> None:
        self.pos = np.asarray(self.pos, dtype=np.float32).reshape(-1, 3)
        if len(self.elements) != self.pos.shape[0] or not len(self.elements):
            raise ValueError(f"fragment: {self.pos.shape[0]} positions but {len(self.elements)} elements")

    @classmethod
    def from_mol(cls, mol) -> "Fragment":
        """The heavy atoms of an RDKit molecule with a conformer, with their bonds and charges."""
        from rdkit import Chem

        heavy = Chem.RemoveHs(mol)
        try:
            graph = graph_from_mol(heavy)
        except Exception as exc:  # noqa: BLE001 -- RDKit's kekulization raises its own types
            return cls(heavy.GetConformer().GetPositions(), [a.GetSymbol() for a in heavy.GetAtoms()],
                       None, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return cls(graph.pos, list(graph.elements), graph)


class PocketLigandSizes:
    """The ligand size model of a pocket task: fitted on the training complexes at fit start (from
    the datamodule's ``fit_ligand_size_model``), kept in checkpoints, sampled given the pocket size.
    Mixed into the pocket tasks ahead of their base task."""

    size_model: LigandSizeModel | None = None

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if self.size_model is None and dm is not None and hasattr(dm, "fit_ligand_size_model"):
            self.size_model = dm.fit_ligand_size_model()

    def checkpoint_extras(self) -> dict[str, Any]:
        return {"ligand_size_model": None if self.size_model is None else self.size_model.to_dict()}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        if extras.get("ligand_size_model") is not None:
            self.size_model = LigandSizeModel.from_dict(extras["ligand_size_model"])

    def sample_sizes(self, n_pocket: int, n_samples: int, generator: torch.Generator | None = None) -> list[int]:
        """Ligand atom counts drawn from the training distribution given the pocket size."""
        if self.size_model is None:
            raise ValueError("this checkpoint has no ligand size model: give n_atoms explicitly")
        return [int(self.size_model.sample(n_pocket, generator=generator)) for _ in range(n_samples)]


class LigandPocketTask(PocketLigandSizes, DiffusionTask):
    """Trains and samples ligands inside a fixed pocket.

    Args:
        net, process, sampler, optimizer, ...: see :class:`~molgen.tasks.base.DiffusionTask`.
        elements: ligand element vocabulary (index order = type index).
        pocket_mode: ``"full"`` (all heavy atoms) or ``"ca"`` (one node per residue).
        max_pocket_atoms: refuse larger pockets with a clear message instead of running out of
            memory.
    """

    def __init__(
        self,
        net: nn.Module,
        process: VPProcess,
        sampler: Sampler,
        optimizer: Callable[..., torch.optim.Optimizer],
        elements: Sequence[str] = DEFAULT_LIGAND_ELEMENTS,
        pocket_mode: str = "full",
        max_pocket_atoms: int = 4000,
        x0_com_radius: float | None = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(net, process, sampler, optimizer, x0_com_radius=x0_com_radius, **kwargs)
        self.vocab = ElementVocab(tuple(elements))
        if net.n_types != len(self.vocab):
            raise ValueError(f"model.n_types={net.n_types} but the element vocabulary has {len(self.vocab)} "
                             f"entries ({', '.join(self.vocab.elements)})")
        if process.zero_com:
            raise ValueError("ligand_pocket works in the pocket-centred frame: set diffusion.zero_com=false")
        self.pocket_mode = pocket_mode
        self.max_pocket_atoms = int(max_pocket_atoms)
        self.size_model: LigandSizeModel | None = None

    # ---- training ---------------------------------------------------------------------------
    def unpack(self, batch: Any) -> Graphs:
        return Graphs(
            pos=batch.ligand_pos, types=batch.ligand_types, batch=batch.ligand_pos_batch,
            n_graphs=int(batch.num_graphs),
            context=(batch.pocket_pos, batch.pocket_feat, batch.pocket_pos_batch),
        )

    def validation_samples(self, batch: Any, generator: torch.Generator) -> dict[str, float]:
        """Sample ligands for the first pocket of the batch and report validity / connectivity."""
        from molgen.chem.reconstruct import reconstruct_mol

        sel = batch.pocket_pos_batch == 0
        n_true = int((batch.ligand_pos_batch == 0).sum())
        ligands = self.generate(batch.pocket_pos[sel], batch.pocket_feat[sel], [n_true] * self.val_samples,
                                steps=self.val_sample_steps, generator=generator)
        recs = [reconstruct_mol(g.pos, g.elements) for g in ligands if g.finite]
        n = max(len(ligands), 1)
        return {"validity": sum(r.valid for r in recs) / n,
                "connected": sum(r.valid and r.connected for r in recs) / n}

    # ---- sampling ---------------------------------------------------------------------------
    def _fixed_atoms(self, fragment: Fragment, sizes: Tensor, shift: Tensor) -> FixedAtoms:
        """The fragment as the first atoms of each graph, in the pocket-centred frame."""
        n = int(sizes.sum())
        starts = torch.cumsum(sizes, 0) - sizes
        idx = (starts[:, None] + torch.arange(len(fragment.elements))[None, :]).reshape(-1)
        mask = torch.zeros(n, dtype=torch.bool)
        mask[idx] = True
        pos = torch.zeros(n, 3)
        pos[idx] = (torch.as_tensor(fragment.pos) - shift).repeat(len(sizes), 1)
        types = torch.zeros(n, dtype=torch.long)
        types[idx] = torch.as_tensor(self.vocab.encode(fragment.elements)).repeat(len(sizes))
        return FixedAtoms(mask, pos, types)

    @torch.inference_mode()
    def generate(
        self,
        pocket_pos: Tensor,
        pocket_feat: Tensor,
        n_atoms: Sequence[int],
        *,
        center: Tensor | None = None,
        steps: int | None = None,
        sampler: Sampler | None = None,
        generator: torch.Generator | None = None,
        batch_size: int = 100,
        progress: Callable[[int], None] | None = None,
        fragment: Fragment | None = None,
        resample: int = 1,
        guidance_scale: float | GuidanceScale = 1.0,
        allowed_elements: Sequence[str] | None = None,
        seeds: Sequence[int] | None = None,
    ) -> list[GeneratedAtoms]:
        """Generate one ligand per entry of ``n_atoms`` in one pocket.

        ``pocket_pos`` are in the pocket-centred frame; ``center`` [1, 3] (the centroid that was
        subtracted) moves the results back to the receptor frame. The pocket is encoded once and
        shared by all ligands and all steps. ``progress(k)`` is told about each finished step.
        ``fragment`` atoms (receptor frame) are held fixed as the first atoms of every ligand
        (``resample``: RePaint resampling); ``guidance_scale`` is the classifier-free guidance
        weight of the pocket (a number, or ``GuidanceScale(positions, chemistry)``);
        ``allowed_elements`` restricts the generated elements; ``seeds``
        (one per ligand) fix each ligand's prior sample independently of the batching.
        """
        if pocket_pos.shape[0] > self.max_pocket_atoms:
            raise ValueError(f"pocket has {pocket_pos.shape[0]} atoms, more than max_pocket_atoms="
                             f"{self.max_pocket_atoms}: use a smaller cutoff or fewer residues")
        if any(int(n) < 1 for n in n_atoms):
            raise ValueError(f"n_atoms must be >= 1 for every ligand, got {list(n_atoms)}")
        n_fixed = 0 if fragment is None else len(fragment.elements)
        if any(int(n) <= n_fixed for n in n_atoms):
            raise ValueError(f"every ligand needs more atoms than the {n_fixed}-atom fragment, got {list(n_atoms)}")
        allowed = None if allowed_elements is None else [self.vocab.index(e) for e in allowed_elements]
        dev = self.device
        net = self.sampling_net
        ctx = net.encode_context(pocket_pos.to(dev), pocket_feat.to(dev),
                                 torch.zeros(pocket_pos.shape[0], dtype=torch.long, device=dev))
        shift = (center if center is not None else torch.zeros(1, 3)).reshape(1, 3).cpu()
        out: list[GeneratedAtoms] = []
        for start in range(0, len(n_atoms), batch_size):
            sizes = torch.as_tensor(list(n_atoms[start:start + batch_size]), dtype=torch.long)
            shared = ctx.shared_by(torch.zeros(len(sizes), dtype=torch.long, device=dev))
            fixed = None if fragment is None else self._fixed_atoms(fragment, sizes, shift)
            chunk_seeds = None if seeds is None else list(seeds[start:start + batch_size])
            s = self.denoise(sizes, shared, steps=steps, sampler=sampler, generator=generator, progress=progress,
                             fixed=fixed, resample=resample, guidance_scale=guidance_scale, allowed_types=allowed,
                             seeds=chunk_seeds)
            for (pos, types), ok in zip(s.split(), s.finite.tolist()):
                out.append(GeneratedAtoms((pos.cpu() + shift).numpy().astype(np.float32),
                                          self.vocab.decode(types.cpu().numpy()), bool(ok)))
        return out
