"""Pocket-conditioned ligands generated with their bonds: the bond-aware model in a pocket's frame.

The ligand state (heavy atoms, formal charges, a bond type per atom pair, coordinates) flows as in
:mod:`molgen.tasks.bond_molecule`, with the pocket as fixed context: coordinates are centred on the
pocket centroid and not projected to zero CoM (``diffusion.zero_com=false``: the prior is a
Gaussian around the pocket centroid), the pocket is encoded once per sample and shared by every
ligand and step, and ``context_dropout`` trains the unconditional model beside it
(classifier-free guidance). Weights continue from the unconditional pretraining
(``task=ligand_pretrain``, same network). Ligands come out as
:class:`~molgen.tasks.ligand_pocket.GeneratedAtoms` carrying their predicted
:class:`~molgen.chem.bond_graph.BondGraph`, which ``molgen sample`` writes as predicted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from molgen.chem.bond_graph import CHARGES
from molgen.data.vocab import DEFAULT_LIGAND_ELEMENTS, ElementVocab
from molgen.diffusion.guidance import GuidanceScale
from molgen.diffusion.molecule_flow import MoleculeFlow
from molgen.diffusion.molecule_state import FixedMolecule, MoleculeState, all_pairs, pair_values
from molgen.diffusion.sampling_guides import SamplingGuides
from molgen.diffusion.samplers import Sampler
from molgen.tasks.bond_molecule import BondMoleculeTask
from molgen.tasks.ligand_pocket import Fragment, GeneratedAtoms, PocketLigandSizes

__all__ = ["BondLigandPocketTask", "PocketMolecules"]


@dataclass
class PocketMolecules:
    """A training batch: the ligands' state and their pockets ``(pos, feat, batch)``."""

    state: MoleculeState
    pocket: tuple[Tensor, Tensor, Tensor]

    @property
    def n_graphs(self) -> int:
        return self.state.n_graphs


class BondLigandPocketTask(PocketLigandSizes, BondMoleculeTask):
    """Trains and samples bond-aware ligands inside a fixed pocket.

    Args:
        net: a bond-aware denoiser with a context path (``BondEGNN(context_dim=...)``).
        process: a :class:`~molgen.diffusion.molecule_flow.MoleculeFlow` with ``zero_com=False``.
        elements: ligand element vocabulary (heavy atoms; hydrogens implicit).
        pocket_mode, max_pocket_atoms: as :class:`~molgen.tasks.ligand_pocket.LigandPocketTask`.
        other arguments: see :class:`~molgen.tasks.bond_molecule.BondMoleculeTask`.
    """

    frame_from_context = True

    def __init__(self, net: nn.Module, process: MoleculeFlow, sampler: Sampler,
                 optimizer: Callable[..., torch.optim.Optimizer],
                 elements: Sequence[str] = DEFAULT_LIGAND_ELEMENTS, pocket_mode: str = "full",
                 max_pocket_atoms: int = 4000, **kwargs: Any) -> None:
        super().__init__(net, process, sampler, optimizer, elements=elements, **kwargs)
        if getattr(net, "encoder", None) is None:
            raise ValueError("the pocket model needs a network with a context path (model.context_dim > 0)")
        self.vocab = ElementVocab(tuple(elements))
        self.pocket_mode = pocket_mode
        self.max_pocket_atoms = int(max_pocket_atoms)
        self.size_model = None

    # ---- training ------------------------------------------------------------------------------
    def unpack(self, batch: Any) -> PocketMolecules:
        pairs = all_pairs(batch.ligand_pos_batch)
        bonds = pair_values(pairs, int(batch.ligand_pos.shape[0]), batch.ligand_bond_index, batch.ligand_bond_types)
        state = MoleculeState(batch.ligand_pos, batch.ligand_types, batch.ligand_charges, bonds, pairs,
                              batch.ligand_pos_batch, int(batch.num_graphs))
        return PocketMolecules(state, (batch.pocket_pos, batch.pocket_feat, batch.pocket_pos_batch))

    def diffusion_loss(self, g: PocketMolecules, generator: torch.Generator | None = None,
                       context=None) -> dict[str, Tensor]:
        ctx = self.encode_training_context(g.pocket, g.n_graphs)
        return super().diffusion_loss(g.state, generator, ctx)

    def validation_samples(self, batch: Any, generator: torch.Generator) -> dict[str, float]:
        """Ligands for the first pocket of the batch (its ligand's size): valid and connected shares."""
        from molgen.chem.decode import decode_graph

        sel = batch.pocket_pos_batch == 0
        n_true = int((batch.ligand_pos_batch == 0).sum())
        ligands = self.generate(batch.pocket_pos[sel], batch.pocket_feat[sel], [n_true] * self.val_samples,
                                steps=self.val_sample_steps, generator=generator)
        recs = [decode_graph(g.graph) for g in ligands if g.finite]
        n = max(len(ligands), 1)
        return {"validity": sum(r.valid for r in recs) / n,
                "connected": sum(r.valid and r.connected for r in recs) / n}

    # ---- sampling ------------------------------------------------------------------------------
    def _fixed(self, fragment: Fragment, sizes: Sequence[int], shift: Tensor) -> FixedMolecule:
        """The fragment (atoms, charges, bonds) as the first atoms of each ligand, pocket frame."""
        if fragment.graph is None:
            raise ValueError("a bond-aware model keeps the fragment's bonds, and this fragment has none"
                             + (f" ({fragment.graph_error})" if fragment.graph_error else
                                ": build it with Fragment.from_mol"))
        k = len(fragment.elements)
        batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.as_tensor(list(sizes)))
        n = int(batch.numel())
        starts = torch.cumsum(torch.as_tensor(list(sizes)), 0) - torch.as_tensor(list(sizes))
        idx = (starts[:, None] + torch.arange(k)[None, :]).reshape(-1)
        mask = torch.zeros(n, dtype=torch.bool)
        mask[idx] = True
        pos = torch.zeros(n, 3)
        pos[idx] = (torch.as_tensor(fragment.pos) - shift).repeat(len(sizes), 1)
        types = torch.zeros(n, dtype=torch.long)
        types[idx] = torch.as_tensor(self.vocab.encode(fragment.elements)).repeat(len(sizes))
        charges = torch.full((n,), CHARGES.index(0), dtype=torch.long)
        charges[idx] = torch.as_tensor(fragment.graph.charges + 1).repeat(len(sizes))
        pairs = all_pairs(batch)
        bond_mask = mask[pairs[0]] & mask[pairs[1]]
        rows = torch.as_tensor(fragment.graph.bonds, dtype=torch.long).reshape(-1, 3)
        index = torch.cat([rows[:, :2].T + s for s in starts.tolist()], dim=1)
        bonds = pair_values(pairs, n, index, rows[:, 2].repeat(len(sizes)))
        return FixedMolecule(mask, pos, types, charges, bond_mask, bonds)

    @torch.inference_mode()
    def generate(self, pocket_pos: Tensor, pocket_feat: Tensor, n_atoms: Sequence[int], *,
                 center: Tensor | None = None, steps: int | None = None, sampler: Sampler | None = None,
                 generator: torch.Generator | None = None, batch_size: int = 100,
                 progress: Callable[[int], None] | None = None, fragment: Fragment | None = None,
                 resample: int = 1, guidance_scale: float | GuidanceScale = 1.0,
                 allowed_elements: Sequence[str] | None = None,
                 seeds: Sequence[int] | None = None,
                 guides: SamplingGuides | None = None) -> list[GeneratedAtoms]:
        """One ligand per entry of ``n_atoms`` in one pocket, with its predicted bonds (arguments as
        :meth:`LigandPocketTask.generate <molgen.tasks.ligand_pocket.LigandPocketTask.generate>`;
        ``resample`` must be 1: fixed atoms ride their straight flow path, there is nothing to
        resample). ``guides`` correct every clean estimate (pocket repulsion, fragment attraction)."""
        if pocket_pos.shape[0] > self.max_pocket_atoms:
            raise ValueError(f"pocket has {pocket_pos.shape[0]} atoms, more than max_pocket_atoms="
                             f"{self.max_pocket_atoms}: use a smaller cutoff or fewer residues")
        if resample != 1:
            raise ValueError(f"resample={resample}: the bond-aware flow model has no resampling (use 1)")
        n_fixed = 0 if fragment is None else len(fragment.elements)
        if any(int(n) <= max(n_fixed, 0) for n in n_atoms):
            raise ValueError(f"every ligand needs more atoms than the {n_fixed}-atom fragment, got {list(n_atoms)}")
        allowed = None if allowed_elements is None else [self.vocab.index(e) for e in allowed_elements]
        dev = self.device
        ctx = self.sampling_net.encode_context(pocket_pos.to(dev), pocket_feat.to(dev),
                                               torch.zeros(pocket_pos.shape[0], dtype=torch.long, device=dev))
        shift = (center if center is not None else torch.zeros(1, 3)).reshape(1, 3).cpu()
        guide = None if guides is None else guides.bind(pocket_pos.to(dev))
        out: list[GeneratedAtoms] = []
        for start in range(0, len(n_atoms), batch_size):
            sizes = [int(n) for n in n_atoms[start:start + batch_size]]
            shared = ctx.shared_by(torch.zeros(len(sizes), dtype=torch.long, device=dev))
            fixed = None if fragment is None else self._fixed(fragment, sizes, shift)
            state, finite = self.denoise_molecules(
                sizes, steps=steps, sampler=sampler, generator=generator, progress=progress, context=shared,
                guidance_scale=guidance_scale, fixed=fixed, allowed_types=allowed, guide=guide,
                seeds=None if seeds is None else list(seeds[start:start + batch_size]))
            for mol, ok in zip(state.split(), finite.tolist()):
                mol = {**mol, "pos": mol["pos"].cpu() + shift}
                graph = self.graph_of(mol)
                out.append(GeneratedAtoms(graph.pos, list(graph.elements), bool(ok), graph))
        return out
