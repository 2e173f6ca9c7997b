"""Protein backbone generation and motif scaffolding (``task=backbone``).

Representation: every residue is four atom nodes ``N, CA, C, O`` (residue-major, see
:mod:`molgen.nn.backbone_net`); only their coordinates diffuse (atom kinds are fixed by the
layout), in the zero centre-of-mass subspace of each chain, in units of ``1 / pos_scale``
Angstrom (``pos_scale=0.1``: nanometres, so a chain's coordinates have roughly unit variance like
the prior).

The network predicts either the noise or (``BackboneNet(output="position")``, its
``predicts="x0_offset"``) the clean atom positions; :meth:`BackboneTask.predict` turns either into
``(eps_hat, x0_hat)`` with the schedule, so the samplers always receive eps. Loss: eps-MSE, or for
x0 networks ``min(SNR, snr_gamma) |x0_hat - x0|^2`` (min-SNR weighting), plus a local-geometry
loss on ``x0_hat`` at small ``t`` (:func:`local_distance_error`) and, optionally, FrameDiff's
pairwise-distance loss over all atom pairs closer than 6 A in the true chain
(:func:`pair_distance_error`), which penalises the non-local contacts the local loss cannot see
(clashes, collapsed turns).

Motif scaffolding is inpainting by replacement (RePaint without resampling): the network is the
unconditional one; before every denoising step the motif atoms are overwritten with the motif
noised to the current time, ``alpha_t m' + sigma_t eps``, where ``m'`` is the motif moved
rigidly (Kabsch) onto where the network's last ``x0_hat`` has it, so the chain keeps its zero
centre of mass and its own orientation. After the last step every chain is superposed so that its
motif fits the input motif (centred at its centroid), the result is moved back to the motif
file's frame, and the motif atoms are copied from the input: they end exactly at the input
coordinates.

After sampling, ``rebuild`` optionally idealises the generated (non-motif) residues with
:mod:`molgen.protein.geometry`: ``"oxygen"`` places O in the peptide plane (ideal C=O, trans to
N(i+1)); ``"ideal"`` rebuilds N, C and O from each residue's frame.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from molgen.diffusion.com import remove_com
from molgen.diffusion.processes import VPProcess
from molgen.diffusion.samplers import Sampler
from molgen.nn.backbone_net import ATOMS_PER_RESIDUE
from molgen.tasks.backbone_common import (REBUILD_MODES, BackboneMotif, BackboneSampling, GeneratedBackbone,
                                          pose_motif, rebuild_backbone, superpose_on_motif)
from molgen.tasks.base import DiffusionTask, Graphs

__all__ = ["BackboneMotif", "BackboneTask", "GeneratedBackbone", "REBUILD_MODES", "local_distance_error",
           "pair_distance_error", "rebuild_backbone"]

# atom pairs (residue offset, atom a of residue i, atom b of residue i + offset): the bonded and
# next-neighbour distances that fix local backbone geometry (N, CA, C, O = 0, 1, 2, 3)
_LOCAL_PAIRS = ((0, 0, 1), (0, 1, 2), (0, 2, 3), (0, 0, 2), (0, 1, 3), (0, 0, 3),
                (1, 2, 0), (1, 1, 1), (1, 1, 0), (1, 2, 1), (1, 3, 0))


def local_distance_error(pred: Tensor, true: Tensor, batch: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error (A^2) of intra-residue and peptide-neighbour atom distances of backbones
    ``[4R, 3]`` (Angstrom, residue-major), over atoms selected by ``mask`` [4R] (all if None)."""
    pred, true = pred.reshape(-1, ATOMS_PER_RESIDUE, 3), true.reshape(-1, ATOMS_PER_RESIDUE, 3)
    res_batch = batch[::ATOMS_PER_RESIDUE]
    keep = torch.ones_like(res_batch, dtype=torch.bool) if mask is None else mask[::ATOMS_PER_RESIDUE]
    same = res_batch[1:] == res_batch[:-1]
    errs = []
    for off, a, b in _LOCAL_PAIRS:
        if off == 0:
            d_p, d_t = (pred[:, a] - pred[:, b]).norm(dim=-1), (true[:, a] - true[:, b]).norm(dim=-1)
            ok = keep
        else:
            d_p = (pred[:-1, a] - pred[1:, b]).norm(dim=-1)
            d_t = (true[:-1, a] - true[1:, b]).norm(dim=-1)
            ok = same & keep[:-1]
        errs.append(((d_p - d_t).square() * ok).sum() / ok.sum().clamp(min=1))
    return torch.stack(errs).mean()


def pair_distance_error(pred: Tensor, true: Tensor, batch: Tensor, mask: Tensor | None = None,
                        cutoff: float = 6.0) -> Tensor:
    """Mean squared error (A^2) of all atom-pair distances of ``pred`` within one chain whose true
    distance is below ``cutoff`` Angstrom (FrameDiff's 2D distance loss; coordinates in Angstrom,
    ``batch`` the chain of every atom), over chains selected by ``mask`` [atoms] (all if None)."""
    keep = torch.ones_like(batch, dtype=torch.bool) if mask is None else mask
    total, count = pred.new_zeros(()), pred.new_zeros(())
    for g in torch.unique(batch[keep]).tolist():
        sel = (batch == g) & keep
        d_p, d_t = torch.cdist(pred[sel], pred[sel]), torch.cdist(true[sel], true[sel])
        near = (d_t < cutoff) & ~torch.eye(d_t.shape[0], dtype=torch.bool, device=d_t.device)
        total = total + ((d_p - d_t).square() * near).sum()
        count = count + near.sum()
    return total / count.clamp(min=1)


class BackboneTask(BackboneSampling, DiffusionTask):
    """Trains an unconditional backbone denoiser; samples chains of given lengths, with motifs.

    Args:
        net: a denoiser over 4 atom nodes per residue (:class:`~molgen.nn.backbone_net.BackboneNet`).
        process: the noise process; must have ``zero_com=True``.
        pos_scale: diffusion units per Angstrom (coordinates are multiplied by it).
        rebuild: default post-sampling idealisation, one of :data:`REBUILD_MODES`.
        snr_gamma: x0-predicting networks: the x0 loss is weighted by ``min(SNR(t), snr_gamma)``
            (min-SNR weighting; equal to the eps loss where SNR < gamma).
        geometry_weight, geometry_t_max: weight of the local-geometry loss (squared errors of
            the bonded and next-neighbour atom distances of ``x0_hat``, Angstrom^2) and the times
            ``t < geometry_t_max`` it applies to (FrameDiff's auxiliary losses).
        pair_weight: weight of the pairwise-distance loss (:func:`pair_distance_error`, atom
            pairs closer than 6 A, Angstrom^2) at the same small times; 0 turns it off.
        noise_scale: default multiplier of the sampler's fresh noise when generating.
        other arguments: see :class:`~molgen.tasks.base.DiffusionTask`.
    """

    def __init__(
        self,
        net: nn.Module,
        process: VPProcess,
        sampler: Sampler,
        optimizer: Callable[..., torch.optim.Optimizer],
        pos_scale: float = 0.1,
        rebuild: str = "oxygen",
        snr_gamma: float = 5.0,
        geometry_weight: float = 1.0,
        geometry_t_max: float = 0.25,
        pair_weight: float = 0.0,
        noise_scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(net, process, sampler, optimizer, **kwargs)
        if not process.zero_com:
            raise ValueError("task=backbone needs the zero centre-of-mass process (diffusion.zero_com=true)")
        if rebuild not in REBUILD_MODES:
            raise ValueError(f"rebuild={rebuild!r}: choose one of {REBUILD_MODES}")
        if not getattr(net, "chiral", False):
            raise ValueError(f"task=backbone needs a chirality-aware network (model=backbone_net, or "
                             f"model=tfn model.chiral=true); {type(net).__name__} is E(3)-equivariant and "
                             f"would make mirror-image backbones")
        self.pos_scale, self.rebuild = float(pos_scale), rebuild
        self.snr_gamma, self.geometry_weight = float(snr_gamma), float(geometry_weight)
        self.geometry_t_max, self.pair_weight = float(geometry_t_max), float(pair_weight)
        self.noise_scale = float(noise_scale)

    def predict(self, net: nn.Module, x_t: Tensor, t: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
        """``(eps_hat, x0_hat)`` of atoms ``x_t`` at graph times ``t`` [B] (zero CoM kept), whether
        ``net`` predicts the noise (``predicts="eps"``) or the clean positions (``"x0_offset"``)."""
        p, tn = self.process, t[batch]
        h = x_t.new_zeros(x_t.shape[0], self.n_types)
        vec = net(x_t, h, t, batch)[0]
        if getattr(net, "predicts", "eps") == "x0_offset":
            x0 = remove_com(x_t + vec, batch)
            return p.eps_from_x0(x_t, x0, tn), x0
        eps = remove_com(vec, batch)
        return eps, p.x0_from_eps(x_t, eps, tn)

    # ---- training ---------------------------------------------------------------------------
    def unpack(self, batch: Any) -> Graphs:
        """ChainDataset batch -> atoms ``[4R, 3]`` (scaled, zero CoM per chain), kinds 0..3."""
        n_res = batch.backbone.shape[0]
        atom_batch = batch.batch.repeat_interleave(ATOMS_PER_RESIDUE)
        pos = remove_com(batch.backbone.reshape(-1, 3) * self.pos_scale, atom_batch)
        types = torch.arange(ATOMS_PER_RESIDUE, device=pos.device).repeat(n_res)
        return Graphs(pos=pos, types=types, batch=atom_batch, n_graphs=int(batch.num_graphs))

    def diffusion_loss(self, g: Graphs, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Coordinates only (atom kinds do not diffuse): eps-MSE for eps networks, min-SNR weighted
        x0-MSE for x0 networks, plus the local-geometry loss at small ``t``."""
        p, dev = self.process, g.pos.device
        t = torch.rand(g.n_graphs, generator=generator).to(dev) if generator is not None \
            else torch.rand(g.n_graphs, device=dev)
        eps = p.pos_noise(g.pos, g.batch, generator).to(dev) if generator is not None \
            else p.pos_noise(g.pos, g.batch)
        tn = t[g.batch]
        eps_hat, x0_hat = self.predict(self.net, p.add_noise(g.pos, eps, tn), t, g.batch)
        if getattr(self.net, "predicts", "eps") == "x0_offset":
            snr = (p.alpha(tn) / p.sigma(tn)).square()
            loss_pos = (snr.clamp(max=self.snr_gamma) * (x0_hat - g.pos).square().sum(-1)).mean()
        else:
            loss_pos = (eps_hat - eps).square().sum(-1).mean()
        losses = {"loss_pos": loss_pos}
        loss = loss_pos
        if self.geometry_weight > 0:
            near = (t < self.geometry_t_max)[g.batch]
            geo = local_distance_error(x0_hat / self.pos_scale, g.pos / self.pos_scale, g.batch, near)
            losses["loss_geometry"] = geo
            loss = loss + self.geometry_weight * geo
        if self.pair_weight > 0:
            near = (t < self.geometry_t_max)[g.batch]
            pair = pair_distance_error(x0_hat / self.pos_scale, g.pos / self.pos_scale, g.batch, near)
            losses["loss_pair"] = pair
            loss = loss + self.pair_weight * pair
        return {"loss": loss, **losses}

    # ---- sampling ---------------------------------------------------------------------------
    @torch.inference_mode()
    def _reverse(self, lengths: Sequence[int], fixed: Tensor, target: Tensor, *, steps: int | None,
                 sampler: Sampler | None, generator: torch.Generator | None,
                 progress: Callable[[int], None] | None,
                 noise_scale: float | None = None) -> tuple[Tensor, Tensor]:
        """The reverse process for chains of ``lengths`` residues, motif atoms ``fixed`` inpainted
        towards ``target`` (scaled, RePaint). Returns ``(x [4 sum(L), 3], batch)`` on the CPU."""
        p, dev, net = self.process, self.device, self.sampling_net
        sampler, steps = sampler or self.sampler, steps or self.sample_steps
        scale = self.noise_scale if noise_scale is None else float(noise_scale)
        n_atoms = torch.tensor([ATOMS_PER_RESIDUE * int(n) for n in lengths])
        batch = torch.repeat_interleave(torch.arange(len(lengths)), n_atoms)
        n, batch_d = int(batch.shape[0]), batch.to(dev)
        fixed_d, target_d, has_motif = fixed.to(dev), target.to(dev), bool(fixed.any())
        x = p.pos_noise(torch.zeros(n, 3), batch, generator).to(dev)
        placed = target_d  # the motif posed where the chain currently has it (updated each step)
        ts = sampler.timesteps(steps)
        for k, (t, s) in enumerate(zip(ts[:-1], ts[1:])):
            t_d, s_d = t.to(dev), s.to(dev)
            if has_motif:  # RePaint: the posed motif noised to time t, chain kept at zero CoM
                noise_m = torch.randn(target.shape, generator=generator).to(dev)
                noisy = p.alpha(t_d) * placed + p.sigma(t_d) * noise_m
                x = remove_com(torch.where(fixed_d[:, None], noisy.to(x.dtype), x), batch_d)
            eps, x0 = self.predict(net, x, t_d.to(x.dtype).expand(len(lengths)), batch_d)
            if has_motif:
                placed = pose_motif(target_d, x0, fixed_d, batch_d)
            noise = None
            if sampler.needs_noise:
                noise = scale * p.pos_noise(torch.zeros(n, 3), batch, generator).to(dev)
            x = sampler.step(p, x, eps, t_d, s_d, noise)
            if progress is not None:
                progress(k + 1)
        if has_motif:  # move each chain rigidly so that its motif lies on the target, then copy it
            x = superpose_on_motif(x, target_d, fixed_d, batch_d)
        return torch.where(fixed[:, None], target, x.cpu()), batch
