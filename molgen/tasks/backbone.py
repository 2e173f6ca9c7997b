"""Protein backbone generation and motif scaffolding (``task=backbone``).

Representation: every residue is four atom nodes ``N, CA, C, O`` (residue-major, see
:mod:`molgen.nn.backbone_net`); only their coordinates diffuse (atom kinds are fixed by the
layout), in the zero centre-of-mass subspace of each chain, in units of ``1 / pos_scale``
Angstrom (``pos_scale=0.1``: nanometres, so a chain's coordinates have roughly unit variance like
the prior).

Motif scaffolding is inpainting by replacement (RePaint without resampling): the network is the
unconditional one; before every denoising step the motif atoms are overwritten with the motif
noised to the current time, ``alpha_t m + sigma_t eps``, and after the last step with the motif
itself. The motif is placed centred at its own centroid, the scaffold is generated in that frame,
and the result is moved back to the motif file's frame, so motif atoms end exactly at the input
coordinates (they are copied, not recomputed).

After sampling, ``rebuild`` optionally idealises the generated (non-motif) residues with
:mod:`molgen.protein.geometry`: ``"oxygen"`` places O in the peptide plane (ideal C=O, trans to
N(i+1)); ``"ideal"`` rebuilds N, C and O from each residue's frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from molgen.diffusion.com import remove_com
from molgen.diffusion.processes import VPProcess
from molgen.diffusion.samplers import Sampler
from molgen.nn.backbone_net import ATOMS_PER_RESIDUE
from molgen.protein.geometry import (
    IDEAL_BOND_ANGLES_DEG,
    IDEAL_BOND_LENGTHS,
    backbone_from_frames,
    dihedral,
    frames_from_backbone,
    place_atom,
)
from molgen.tasks.base import DiffusionTask, Graphs

__all__ = ["BackboneMotif", "BackboneTask", "GeneratedBackbone", "REBUILD_MODES", "rebuild_backbone"]

REBUILD_MODES = ("none", "oxygen", "ideal")


@dataclass
class BackboneMotif:
    """Residues to keep fixed: ``mask`` bool [L] and their ``backbone`` float [M, 4, 3] (Angstrom,
    any frame; M = mask.sum(), in chain order)."""

    mask: np.ndarray
    backbone: np.ndarray


@dataclass
class GeneratedBackbone:
    """One generated chain: ``backbone`` float32 [L, 4, 3] (Angstrom; the motif's frame when
    scaffolding, else centred), ``motif_mask`` bool [L], ``finite`` False if the run diverged."""

    backbone: np.ndarray
    motif_mask: np.ndarray
    finite: bool


def rebuild_backbone(backbone: Tensor, mode: str = "oxygen", keep: Tensor | None = None) -> Tensor:
    """Idealise a backbone ``[L, 4, 3]`` (see module docstring); residues in ``keep`` stay as given."""
    if mode not in REBUILD_MODES:
        raise ValueError(f"rebuild={mode!r}: choose one of {REBUILD_MODES}")
    if mode == "none" or backbone.shape[0] == 0:
        return backbone
    if mode == "ideal":
        rot, trans = frames_from_backbone(backbone)
        new = backbone_from_frames(rot, trans)
    else:
        n, ca, c = backbone[:, 0], backbone[:, 1], backbone[:, 2]
        if backbone.shape[0] > 1:
            psi = dihedral(n[:-1], ca[:-1], c[:-1], n[1:])
            psi = torch.cat([psi, psi[-1:]])
        else:
            psi = torch.zeros_like(n[:, 0])
        o = place_atom(n, ca, c, IDEAL_BOND_LENGTHS["C-O"], math.radians(IDEAL_BOND_ANGLES_DEG["CA-C-O"]),
                       psi + math.pi)
        new = torch.cat([backbone[:, :3], o[:, None]], dim=1)
    if keep is not None:
        new = torch.where(keep[:, None, None], backbone, new)
    return new


class BackboneTask(DiffusionTask):
    """Trains an unconditional backbone denoiser; samples chains of given lengths, with motifs.

    Args:
        net: a denoiser over 4 atom nodes per residue (:class:`~molgen.nn.backbone_net.BackboneNet`).
        process: the noise process; must have ``zero_com=True``.
        pos_scale: diffusion units per Angstrom (coordinates are multiplied by it).
        rebuild: default post-sampling idealisation, one of :data:`REBUILD_MODES`.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(net, process, sampler, optimizer, **kwargs)
        if not process.zero_com:
            raise ValueError("task=backbone needs the zero centre-of-mass process (diffusion.zero_com=true)")
        if rebuild not in REBUILD_MODES:
            raise ValueError(f"rebuild={rebuild!r}: choose one of {REBUILD_MODES}")
        self.pos_scale, self.rebuild = float(pos_scale), rebuild

    # ---- training ---------------------------------------------------------------------------
    def unpack(self, batch: Any) -> Graphs:
        """ChainDataset batch -> atoms ``[4R, 3]`` (scaled, zero CoM per chain), kinds 0..3."""
        n_res = batch.backbone.shape[0]
        atom_batch = batch.batch.repeat_interleave(ATOMS_PER_RESIDUE)
        pos = remove_com(batch.backbone.reshape(-1, 3) * self.pos_scale, atom_batch)
        types = torch.arange(ATOMS_PER_RESIDUE, device=pos.device).repeat(n_res)
        return Graphs(pos=pos, types=types, batch=atom_batch, n_graphs=int(batch.num_graphs))

    def diffusion_loss(self, g: Graphs, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """eps-MSE of the coordinates only (atom kinds do not diffuse)."""
        p, dev = self.process, g.pos.device
        t = torch.rand(g.n_graphs, generator=generator).to(dev) if generator is not None \
            else torch.rand(g.n_graphs, device=dev)
        eps = p.pos_noise(g.pos, g.batch, generator).to(dev) if generator is not None \
            else p.pos_noise(g.pos, g.batch)
        x_t = p.add_noise(g.pos, eps, t[g.batch])
        h = torch.zeros(g.pos.shape[0], self.n_types, device=dev, dtype=g.pos.dtype)
        pred, _ = self.net(x_t, h, t, g.batch)
        loss = (remove_com(pred, g.batch) - eps).square().sum(-1).mean()
        return {"loss": loss, "loss_pos": loss}

    def on_train_epoch_start(self) -> None:
        """New random crops each epoch (``ChainDataset.set_epoch``)."""
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "set_epoch"):
            dm.set_epoch(self.current_epoch)

    def validation_samples(self, batch: Any, generator: torch.Generator) -> dict[str, float]:
        """Backbone metrics of a few chains as long as the batch's first one."""
        from molgen.metrics.backbone import summarize_backbones

        length = int((batch.batch == 0).sum())
        out = self.generate([length] * self.val_samples, steps=self.val_sample_steps, generator=generator)
        ok = [g.backbone for g in out if g.finite]
        if not ok:
            return {"ca_ca_valid": 0.0}
        s = summarize_backbones(ok)
        return {k: s[k] for k in ("ca_ca_valid", "clash_free_share", "helix", "strand", "rama_allowed")}

    # ---- sampling ---------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        lengths: Sequence[int],
        motifs: Sequence[BackboneMotif | None] | None = None,
        *,
        steps: int | None = None,
        sampler: Sampler | None = None,
        generator: torch.Generator | None = None,
        rebuild: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[GeneratedBackbone]:
        """Sample one chain per entry of ``lengths`` (residues), all in one batch.

        ``motifs[k]`` (optional) fixes residues of chain k (see module docstring). ``generator``
        (CPU) makes the run reproducible; ``progress(k)`` is called after each step.
        """
        if any(int(n) < 1 for n in lengths):
            raise ValueError(f"lengths must be >= 1 residue, got {list(lengths)}")
        motifs = list(motifs) if motifs is not None else [None] * len(lengths)
        if len(motifs) != len(lengths):
            raise ValueError(f"{len(motifs)} motifs for {len(lengths)} lengths")
        net, p, dev = self.sampling_net, self.process, self.device
        sampler, steps = sampler or self.sampler, steps or self.sample_steps
        rebuild = rebuild or self.rebuild
        n_atoms = torch.tensor([ATOMS_PER_RESIDUE * int(n) for n in lengths])
        batch = torch.repeat_interleave(torch.arange(len(lengths)), n_atoms)
        n = int(batch.shape[0])
        fixed, target, centers = self._motif_atoms(lengths, motifs)
        fixed_d, target_d, batch_d = fixed.to(dev), target.to(dev), batch.to(dev)
        has_motif = bool(fixed.any())
        h = torch.zeros(n, self.n_types, device=dev)
        x = p.pos_noise(torch.zeros(n, 3), batch, generator).to(dev)
        ts = sampler.timesteps(steps)
        for k, (t, s) in enumerate(zip(ts[:-1], ts[1:])):
            t_d, s_d = t.to(dev), s.to(dev)
            if has_motif:  # RePaint: the motif noised to time t
                noisy = p.alpha(t_d) * target_d + p.sigma(t_d) * torch.randn(target.shape, generator=generator).to(dev)
                x = torch.where(fixed_d[:, None], noisy.to(x.dtype), x)
            eps = net(x, h, t_d.float().expand(len(lengths)), batch_d)[0]
            eps = remove_com(eps, batch_d)
            noise = p.pos_noise(torch.zeros(n, 3), batch, generator).to(dev) if sampler.needs_noise else None
            x = sampler.step(p, x, eps, t_d, s_d, noise)
            if progress is not None:
                progress(k + 1)
        x = x.cpu()
        return self._finish(x, batch, lengths, motifs, fixed, target, centers, rebuild)

    def _motif_atoms(self, lengths: Sequence[int], motifs: list[BackboneMotif | None]):
        """Per atom: fixed mask, motif coordinates (scaled, centred per chain), per-chain centres."""
        fixed, target, centers = [], [], []
        for length, motif in zip(lengths, motifs):
            f = torch.zeros(int(length), ATOMS_PER_RESIDUE, dtype=torch.bool)
            tgt = torch.zeros(int(length), ATOMS_PER_RESIDUE, 3)
            center = torch.zeros(3)
            if motif is not None:
                mask = torch.as_tensor(np.asarray(motif.mask, dtype=bool))
                bb = torch.as_tensor(np.asarray(motif.backbone, dtype=np.float64))
                if mask.shape != (int(length),) or bb.shape != (int(mask.sum()), ATOMS_PER_RESIDUE, 3):
                    raise ValueError(f"motif: mask {tuple(mask.shape)} / backbone {tuple(bb.shape)} do not fit "
                                     f"a chain of {length} residues")
                center = bb.reshape(-1, 3).mean(0)
                f[mask] = True
                tgt[mask] = ((bb - center) * self.pos_scale).float()
            fixed.append(f.reshape(-1))
            target.append(tgt.reshape(-1, 3))
            centers.append(center)
        return torch.cat(fixed), torch.cat(target), centers

    def _finish(self, x, batch, lengths, motifs, fixed, target, centers, rebuild) -> list[GeneratedBackbone]:
        x = torch.where(fixed[:, None], target, x)
        out = []
        for k, (length, motif) in enumerate(zip(lengths, motifs)):
            pos = x[batch == k].double()
            finite = bool(torch.isfinite(pos).all())
            bb = (pos / self.pos_scale).reshape(int(length), ATOMS_PER_RESIDUE, 3)
            mask = np.zeros(int(length), dtype=bool) if motif is None else np.asarray(motif.mask, dtype=bool)
            if not finite:
                out.append(GeneratedBackbone(np.zeros((int(length), 4, 3), np.float32), mask, False))
                continue
            bb = rebuild_backbone(bb, rebuild, torch.as_tensor(mask)) + centers[k]
            arr = bb.numpy().astype(np.float32)
            if motif is not None:
                arr[mask] = np.asarray(motif.backbone, dtype=np.float32)  # exact input coordinates
            out.append(GeneratedBackbone(arr, mask, True))
        return out
