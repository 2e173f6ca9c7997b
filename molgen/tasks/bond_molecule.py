"""Unconditional molecules generated with their bonds (QM9): atoms, formal charges, a bond type for
every atom pair and coordinates, by a :class:`~molgen.diffusion.molecule_flow.MoleculeFlow`.

The network (e.g. :class:`~molgen.nn.bond_egnn.BondEGNN`) maps a noisy
:class:`~molgen.diffusion.molecule_state.MoleculeState` to a clean estimate; the process noises
training molecules and takes the sampling steps; this module owns the training step and the loop.
Samples come out as :class:`~molgen.chem.bond_graph.BondGraph` (the predicted bonds), which
:func:`molgen.chem.bond_graph.mol_from_graph` turns into RDKit molecules. Without ``H`` among the
elements (heavy-atom drug-like molecules) hydrogens are implicit: RDKit completes valences.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from molgen.chem.bond_graph import CHARGES, BondGraph
from molgen.diffusion.guidance import GuidanceScale
from molgen.diffusion.molecule_flow import MoleculeFlow, MoleculePrediction
from molgen.diffusion.molecule_state import FixedMolecule, MoleculeState, all_pairs, pair_values
from molgen.diffusion.samplers import Sampler
from molgen.nn.base import Context
from molgen.tasks.molecule import MoleculeTask

__all__ = ["BondMoleculeTask"]


class BondMoleculeTask(MoleculeTask):
    """Trains and samples molecules with atoms, charges and bonds.

    Args:
        net: a bond-aware denoiser ``net(pos, atom_types, charges, bond_types, pairs, t, batch, cond)``
            returning a :class:`~molgen.diffusion.molecule_flow.MoleculePrediction`.
        process: the composite flow.
        sampler: gives the time grid (``timesteps(steps)``); the steps themselves are the process's
            (Euler; a second-order sampler, ``sampler=ode``, adds Heun's correction on the
            coordinates at twice the network evaluations).
        self_condition_prob: in training, the share of batches that first predict without
            self-conditioning and then condition on that (detached) prediction; only with a
            network built with ``self_condition=True``.
        other arguments: see :class:`~molgen.tasks.molecule.MoleculeTask`.
    """

    predicts_bonds = True

    def __init__(self, net: nn.Module, process: MoleculeFlow, sampler: Sampler,
                 optimizer: Callable[..., torch.optim.Optimizer], elements: Sequence[str] = ("H", "C", "N", "O"),
                 self_condition_prob: float = 0.5, **kwargs: Any) -> None:
        super().__init__(net, process, sampler, optimizer, elements=elements, **kwargs)
        self.self_condition_prob = float(self_condition_prob)

    def unpack(self, batch: Any) -> MoleculeState:
        pairs = all_pairs(batch.batch)
        bonds = pair_values(pairs, int(batch.num_nodes), batch.bond_index, batch.bond_types)
        return MoleculeState(batch.pos, batch.atom_types, batch.charges, bonds, pairs, batch.batch,
                             int(batch.num_graphs))

    def _net_call(self, net: nn.Module, x: MoleculeState, t: torch.Tensor, cond: MoleculePrediction | None,
                  context: Context | None = None) -> MoleculePrediction:
        args = (x.pos, x.atom_types, x.charges, x.bond_types, x.pairs, t, x.batch,
                cond if getattr(net, "self_condition", False) else None)
        return net(*args) if context is None else net(*args, context)

    def _predict(self, net: nn.Module, x: MoleculeState, t: torch.Tensor, cond: MoleculePrediction | None,
                 context: Context | None, guidance_scale: float | GuidanceScale,
                 type_mask: torch.Tensor | None) -> MoleculePrediction:
        """The clean estimate; with guidance ``u + w (c - u)`` of the (un)conditional estimates, ``w``
        the positions weight for the coordinates and the chemistry weight for the logits
        (:class:`~molgen.diffusion.guidance.GuidanceScale`); ``type_mask`` (-inf where not allowed)
        added to the atom logits."""
        pred = self._net_call(net, x, t, cond, context)
        w = GuidanceScale.parse(guidance_scale)
        if context is not None and not w.conditional:
            un = self._net_call(net, x, t, cond, None)
            logits = (w.mix(u, c, w.chemistry) for u, c in zip(
                (un.atom_logits, un.charge_logits, un.bond_logits),
                (pred.atom_logits, pred.charge_logits, pred.bond_logits)))
            pred = MoleculePrediction(w.mix(un.x0, pred.x0, w.positions), *logits)
        if type_mask is not None:
            pred = MoleculePrediction(pred.x0, pred.atom_logits + type_mask, pred.charge_logits, pred.bond_logits)
        return pred

    def diffusion_loss(self, g: MoleculeState, generator: torch.Generator | None = None,
                       context: Context | None = None) -> dict[str, torch.Tensor]:
        p: MoleculeFlow = self.process
        t = p.sample_time(g.n_graphs, generator).to(g.pos.device)
        x_t = p.noise(g, t, generator)
        cond = None
        u = float(torch.rand(1, generator=generator)) if generator is not None else float(torch.rand(1))
        if getattr(self.net, "self_condition", False) and u < self.self_condition_prob:
            with torch.no_grad():
                cond = self._net_call(self.net, x_t, t, None, context).detached()
        return p.loss(self._net_call(self.net, x_t, t, cond, context), g)

    # ---- sampling ------------------------------------------------------------------------------
    def _prior(self, n_atoms: Sequence[int], generator: torch.Generator | None,
               seeds: Sequence[int] | None) -> MoleculeState:
        """The prior state; with ``seeds`` each graph drawn from its own seed (independent of batching)."""
        p: MoleculeFlow = self.process
        if seeds is None:
            return p.prior(n_atoms, generator, self.device)
        if len(seeds) != len(n_atoms):
            raise ValueError(f"{len(seeds)} seeds for {len(n_atoms)} graphs")
        parts = [p.prior([int(n)], torch.Generator().manual_seed(int(seed))) for n, seed in zip(n_atoms, seeds)]
        batch = torch.repeat_interleave(torch.arange(len(parts)), torch.as_tensor([int(n) for n in n_atoms]))
        state = MoleculeState(torch.cat([q.pos for q in parts]), torch.cat([q.atom_types for q in parts]),
                              torch.cat([q.charges for q in parts]), torch.cat([q.bond_types for q in parts]),
                              all_pairs(batch), batch, len(parts))
        return state.replace(**{k: getattr(state, k).to(self.device) for k in
                                ("pos", "atom_types", "charges", "bond_types", "pairs", "batch")})

    @torch.inference_mode()
    def denoise_molecules(self, n_atoms: Sequence[int], *, steps: int | None = None, sampler: Sampler | None = None,
                          generator: torch.Generator | None = None,
                          progress: Callable[[int], None] | None = None, context: Context | None = None,
                          guidance_scale: float | GuidanceScale = 1.0, seeds: Sequence[int] | None = None,
                          fixed: FixedMolecule | None = None,
                          allowed_types: Sequence[int] | None = None,
                          guide: Callable[[MoleculePrediction, MoleculeState, float], MoleculePrediction]
                          | None = None,
                          ) -> tuple[MoleculeState, torch.Tensor]:
        """Run the flow from the prior to t = 0 for molecules of ``n_atoms`` atoms; returns the
        final state and ``finite`` [B] (False where a trajectory produced NaN/Inf).

        ``context`` (encoded once by the caller) is shared by every step; ``guidance_scale`` is its
        classifier-free guidance weight (a number, or positions and chemistry weights:
        :class:`~molgen.diffusion.guidance.GuidanceScale`). ``seeds`` (one per graph) fix each prior
        draw. ``fixed`` atoms and the bonds among them are held: their coordinates move on the
        straight path from their prior draw to the given positions, their categories are the given
        ones throughout.
        ``allowed_types`` restricts the generated atom types to these indices. ``guide(prediction, state, t)``
        maps the clean estimate of ``state`` at time ``t`` to a corrected one before the step uses it
        (e.g. :meth:`PocketRepulsion.bind <molgen.diffusion.pocket_repulsion.PocketRepulsion.bind>`)."""
        net, p = self.sampling_net, self.process
        sampler = sampler or self.sampler
        ts = sampler.timesteps(steps or self.sample_steps).tolist()
        x = self._prior(n_atoms, generator, seeds)
        type_mask = None
        if allowed_types is not None:
            type_mask = torch.full((self.n_types,), float("-inf"), device=self.device)
            type_mask[list(allowed_types)] = 0.0
        pin = (lambda state, time: state) if fixed is None else fixed.to(self.device).pinner(x)
        x = pin(x, 1.0)
        cond = None

        def at(time: float) -> torch.Tensor:
            return torch.full((x.n_graphs,), float(time), device=self.device)

        def predict(state: MoleculeState, time: float, previous: MoleculePrediction | None):
            out = self._predict(net, state, at(time), previous, context, guidance_scale, type_mask)
            return out if guide is None else guide(out, state, float(time))

        for k, (t, s) in enumerate(zip(ts[:-1], ts[1:])):
            pred = predict(x, t, cond)
            x_new = p.step(x, pred, float(t), float(s), generator)
            cond = pred
            if getattr(sampler, "order", 1) == 2 and s > 0:  # Heun on the coordinates
                cond = predict(x_new, s, pred)
                x_new = p.correct(x, x_new, pred, cond, float(t), float(s))
            x = pin(x_new, float(s))
            if progress is not None:
                progress(k + 1)
        bad = ~torch.isfinite(x.pos).all(-1)
        finite = torch.bincount(x.batch[bad], minlength=x.n_graphs) == 0
        return x.replace(pos=torch.nan_to_num(x.pos)), finite

    def graph_of(self, mol: dict[str, torch.Tensor]) -> BondGraph:
        """One molecule of :meth:`MoleculeState.split` as a :class:`BondGraph`."""
        return BondGraph(elements=[self.elements[i] for i in mol["atom_types"].tolist()],
                         charges=np.asarray(CHARGES)[mol["charges"].cpu().numpy()],
                         bonds=mol["bonds"].cpu().numpy(), pos=mol["pos"].cpu().numpy(),
                         implicit_hs="H" not in self.elements)

    def generate(self, n_atoms: Sequence[int], *, steps: int | None = None, sampler: Sampler | None = None,
                 generator: torch.Generator | None = None, batch_size: int = 256,
                 progress: Callable[[int], None] | None = None) -> list[tuple[BondGraph, bool]]:
        """``(graph, finite)`` for one molecule per entry of ``n_atoms``, bonds as predicted."""
        out = []
        for start in range(0, len(n_atoms), batch_size):
            state, finite = self.denoise_molecules(list(n_atoms[start:start + batch_size]), steps=steps,
                                                   sampler=sampler, generator=generator, progress=progress)
            for mol, ok in zip(state.split(), finite.tolist()):
                out.append((self.graph_of(mol), bool(ok)))
        return out

    def validation_samples(self, batch: Any, generator: torch.Generator) -> dict[str, float]:
        """Stability from predicted bonds and from distances (EDM), validity, connectivity."""
        from molgen.metrics.bond_stability import check_graph, summarize_bond_checks
        from molgen.metrics.stability import score_generated

        sizes = self.sample_sizes(self.val_samples, generator) if self.atom_counts else \
            torch.bincount(batch.batch)[: self.val_samples].tolist()
        graphs = self.generate(sizes, steps=self.val_sample_steps, generator=generator)
        m = summarize_bond_checks([check_graph(g)[0] for g, _ in graphs])
        out = {"mol_stable": m["mol_stable"], "atom_stable": m["atom_stable"], "valid": m["valid"],
               "connected": m["connected"]}
        if "H" in self.elements:  # EDM's check counts explicit hydrogens
            out["edm_mol_stable"] = score_generated((g.pos, g.elements, ok) for g, ok in graphs).molecule_stability
        return out
