"""Protein backbones as residue frames (``experiment=backbone_frames_cpu``; still ``task=backbone``).

Every residue is a rigid frame (rotation + CA translation, :mod:`molgen.protein.geometry`) with
ideal N, CA, C and O placed from the next residue; :class:`~molgen.diffusion.frame_flow.FrameFlow`
flows translations (zero centre of mass, ``pos_scale`` units per Angstrom) and rotations (SO(3)
geodesics from a uniform prior); the network (:class:`~molgen.nn.frame_net.FrameNet`) predicts the
clean frames; :class:`~molgen.diffusion.frame_flow.FrameEulerSampler` integrates. The generated
backbones are ideal by construction: every N-CA, CA-C, C=O bond and N-CA-C angle is Engh & Huber's.

Training (FrameFlow / FrameDiff): the flow loss on translations and rotations, plus as options at
small times ``t < geometry_t_max`` the backbone atom MSE (``atom_weight``), the local bonded and
next-neighbour distance loss (``geometry_weight``, :func:`~molgen.tasks.backbone.local_distance_error`,
which sees the peptide C-N bond frames alone do not fix) and FrameDiff's pairwise-distance loss
(``pair_weight``). Self-conditioning: with probability ``self_condition_prob`` a training step
first estimates the clean frames without gradient and feeds them back; sampling always feeds the
previous step's estimate (when the network takes one).

Motif scaffolding: motif residues keep the motif's frames. Before each step their frames are set
to the interpolant at the current time between the prior sample and the motif posed (Kabsch)
where the network's last estimate has it; after the last step each chain is superposed on the
input motif and the motif atoms are copied from the input (exactly its coordinates).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from molgen.diffusion.com import remove_com
from molgen.diffusion.frame_flow import BackboneFrames, FrameEulerSampler, FrameFlow
from molgen.nn.backbone_net import ATOMS_PER_RESIDUE
from molgen.protein.geometry import chain_backbone_from_frames, frames_from_backbone, frames_from_points
from molgen.tasks.backbone import local_distance_error, pair_distance_error
from molgen.tasks.backbone_common import BackboneSampling, pose_motif, superpose_on_motif
from molgen.tasks.base import DiffusionTask, Graphs

__all__ = ["FrameBackboneTask"]

class FrameBackboneTask(BackboneSampling, DiffusionTask):
    """Trains a frame denoiser; samples chains of given lengths, with motifs (module docstring).

    Args:
        net: a frame network (:class:`~molgen.nn.frame_net.FrameNet`).
        process: the frame flow.
        sampler: its Euler sampler.
        pos_scale: translation units per Angstrom.
        self_condition_prob: share of training steps with self-conditioning (networks that take it).
        atom_weight, geometry_weight, pair_weight: weights of the auxiliary losses (Angstrom^2) at
            times ``t < geometry_t_max``; 0 turns one off.
        other arguments: see :class:`~molgen.tasks.base.DiffusionTask`.
    """

    def __init__(
        self,
        net: nn.Module,
        process: FrameFlow,
        sampler: FrameEulerSampler,
        optimizer: Callable[..., torch.optim.Optimizer],
        pos_scale: float = 0.1,
        self_condition_prob: float = 0.5,
        atom_weight: float = 0.0,
        geometry_weight: float = 1.0,
        geometry_t_max: float = 0.25,
        pair_weight: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(net, process, sampler, optimizer, **kwargs)
        if not isinstance(process, FrameFlow) or not isinstance(sampler, FrameEulerSampler):
            raise ValueError(f"the frame task needs diffusion=frame_flow and sampler=frame_euler, got "
                             f"{type(process).__name__} and {type(sampler).__name__}")
        if not getattr(net, "chiral", False) or getattr(net, "predicts", None) != "frames":
            raise ValueError(f"the frame task needs a chirality-aware frame network (model=frame_net), "
                             f"got {type(net).__name__}")
        self.pos_scale = float(pos_scale)
        self.self_condition_prob = float(self_condition_prob)
        self.atom_weight, self.geometry_weight = float(atom_weight), float(geometry_weight)
        self.geometry_t_max, self.pair_weight = float(geometry_t_max), float(pair_weight)
        self.rebuild = "none"  # frames give ideal residues (O from the next residue's N) already

    def predict_frames(self, net: nn.Module, x: BackboneFrames, t: Tensor,
                       sc: BackboneFrames | None = None) -> BackboneFrames:
        """Clean frames estimated by ``net`` from ``x`` at chain times ``t`` [B] (zero CoM kept)."""
        pred = net(x, t, sc if getattr(net, "self_condition", False) else None)
        return BackboneFrames(pred.rotmats, remove_com(pred.trans, x.batch), x.batch)

    def atoms(self, frames: BackboneFrames) -> Tensor:
        """Ideal N, CA, C, O ``[R, 4, 3]`` (Angstrom) of ``frames``."""
        return chain_backbone_from_frames(frames.rotmats, frames.trans / self.pos_scale, frames.batch)

    # ---- training ---------------------------------------------------------------------------
    def unpack(self, batch: Any) -> Graphs:
        """ChainDataset batch -> atoms ``[4R, 3]`` (scaled, CA centroid of each chain at 0)."""
        n_res = batch.backbone.shape[0]
        atoms = batch.backbone * self.pos_scale  # [R, 4, 3]
        ca_centroid = atoms[:, 1] - remove_com(atoms[:, 1], batch.batch)  # per residue, its chain's
        atoms = atoms - ca_centroid[:, None]
        types = torch.arange(ATOMS_PER_RESIDUE, device=atoms.device).repeat(n_res)
        return Graphs(pos=atoms.reshape(-1, 3), types=types,
                      batch=batch.batch.repeat_interleave(ATOMS_PER_RESIDUE), n_graphs=int(batch.num_graphs))

    def diffusion_loss(self, g: Graphs, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The frame flow loss plus the auxiliary losses at small times (class docstring)."""
        p, dev = self.process, g.pos.device
        atoms = g.pos.reshape(-1, ATOMS_PER_RESIDUE, 3)
        res_batch = g.batch[::ATOMS_PER_RESIDUE]
        rot, ca = frames_from_backbone(atoms)
        clean = BackboneFrames(rot, ca, res_batch)
        t = p.sample_time(g.n_graphs, generator).to(dev)
        noisy = p.noise(clean, t, generator)
        sc = None
        if getattr(self.net, "self_condition", False):
            coin = float(torch.rand((), generator=generator))
            if coin < self.self_condition_prob:
                with torch.no_grad():
                    sc = self.predict_frames(self.net, noisy, t, None).detached()
        pred = self.predict_frames(self.net, noisy, t, sc)
        losses = p.loss(pred, clean, t)
        loss = losses.pop("loss")
        if max(self.atom_weight, self.geometry_weight, self.pair_weight) > 0:
            near = (t < self.geometry_t_max)[g.batch]
            pred_atoms = self.atoms(pred).reshape(-1, 3)
            true_atoms = g.pos / self.pos_scale
            if self.atom_weight > 0:
                err = (pred_atoms - true_atoms).square().sum(-1)
                losses["loss_atoms"] = (err * near).sum() / near.sum().clamp(min=1)
                loss = loss + self.atom_weight * losses["loss_atoms"]
            if self.geometry_weight > 0:
                losses["loss_geometry"] = local_distance_error(pred_atoms, true_atoms, g.batch, near)
                loss = loss + self.geometry_weight * losses["loss_geometry"]
            if self.pair_weight > 0:
                losses["loss_pair"] = pair_distance_error(pred_atoms, true_atoms, g.batch, near)
                loss = loss + self.pair_weight * losses["loss_pair"]
        return {"loss": loss, **losses}

    # ---- sampling ---------------------------------------------------------------------------
    @torch.inference_mode()
    def _reverse(self, lengths: Sequence[int], fixed: Tensor, target: Tensor, *, steps: int | None,
                 sampler: FrameEulerSampler | None, generator: torch.Generator | None,
                 progress: Callable[[int], None] | None,
                 noise_scale: float | None = None) -> tuple[Tensor, Tensor]:
        """Integrate the flow for chains of ``lengths``; motif atoms ``fixed`` [4R] at ``target``
        [4R, 3] (scaled, centred). Returns atoms ``[4R, 3]`` (task units, CPU; motif atoms copied
        from ``target``) and their chain index."""
        if noise_scale is not None and float(noise_scale) != 1.0:
            raise ValueError(f"noise_scale={noise_scale}: the frame flow samples deterministically from its "
                             f"prior; there is no fresh noise to scale")
        sampler = sampler if sampler is not None else self.sampler
        if not isinstance(sampler, FrameEulerSampler):
            raise ValueError(f"sampler={type(sampler).__name__}: a frame checkpoint samples with its own "
                             f"FrameEulerSampler (leave sampler unset, or sampler=frame_euler)")
        p, dev, net, steps = self.process, self.device, self.sampling_net, steps or self.sample_steps
        batch = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor([int(n) for n in lengths]))
        batch_d = batch.to(dev)
        res_fixed = fixed.reshape(-1, ATOMS_PER_RESIDUE)[:, 0].to(dev)
        has_motif = bool(res_fixed.any())
        tgt = target.reshape(-1, ATOMS_PER_RESIDUE, 3).to(dev)
        rot, ca = frames_from_backbone(tgt)
        eye = torch.eye(3, dtype=rot.dtype, device=dev).expand_as(rot)
        posed = BackboneFrames(torch.where(res_fixed[:, None, None], rot, eye), ca, batch_d)
        prior = p.prior(batch_d, generator)
        x, sc = prior, None
        ts = sampler.timesteps(steps)
        for k, (t, s) in enumerate(zip(ts[:-1].tolist(), ts[1:].tolist())):
            if has_motif:  # motif frames: the interpolant towards the posed motif at time t
                t_chains = torch.full((len(lengths),), t, device=dev)
                x = x.where(res_fixed, p.noise(posed, t_chains, prior=prior))
                x = BackboneFrames(x.rotmats, remove_com(x.trans, batch_d), batch_d)
            pred = self.predict_frames(net, x, torch.full((len(lengths),), t, device=dev), sc)
            sc = pred
            if has_motif:
                posed = self._pose(tgt, pred, res_fixed)
            x = sampler.step(x, pred, t, s)
            if progress is not None:
                progress(k + 1)
        x_atoms = self.atoms(x).reshape(-1, 3) * self.pos_scale
        atom_batch = batch.repeat_interleave(ATOMS_PER_RESIDUE)
        if has_motif:  # each chain moved rigidly so that its motif lies on the target, then copied
            x_atoms = superpose_on_motif(x_atoms, target.to(dev), fixed.to(dev), atom_batch.to(dev))
        return torch.where(fixed[:, None], target, x_atoms.cpu()), atom_batch

    def _pose(self, target: Tensor, pred: BackboneFrames, res_fixed: Tensor) -> BackboneFrames:
        """The motif's frames moved rigidly onto where ``pred`` has its N, CA, C."""
        est = (self.atoms(pred) * self.pos_scale)[:, :3]  # task units, like target
        placed = pose_motif(target[:, :3].reshape(-1, 3), est.reshape(-1, 3),
                            res_fixed.repeat_interleave(3), pred.batch.repeat_interleave(3)).reshape(-1, 3, 3)
        rot, ca = frames_from_points(placed[:, 0], placed[:, 1], placed[:, 2])
        return BackboneFrames(rot, ca, pred.batch)
