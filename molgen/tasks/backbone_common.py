"""What the two backbone tasks share: motifs, the generated record, post-sampling rebuilding and
the sampling front end (:class:`BackboneSampling`).

A motif is a set of residues kept fixed (:class:`BackboneMotif`). Both tasks pose the motif
rigidly where the network's clean estimate has it (:func:`pose_motif`), and at the end move each
chain so that its motif fits the input (:func:`superpose_on_motif`); the motif atoms are then
copied from the input and end exactly at its coordinates.

``rebuild`` (:func:`rebuild_backbone`) optionally idealises generated residues after sampling:
``"oxygen"`` places O in the peptide plane (ideal C=O, trans to N(i+1)); ``"ideal"`` rebuilds N, C
and O from each residue's frame (for a frame model both leave its ideal residues as they are).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from molgen.nn.backbone_net import ATOMS_PER_RESIDUE
from molgen.nn.base import Context
from molgen.protein.geometry import (
    IDEAL_BOND_ANGLES_DEG,
    IDEAL_BOND_LENGTHS,
    backbone_from_frames,
    dihedral,
    frames_from_backbone,
    kabsch,
    place_atom,
)
from molgen.tasks.base import Samples

__all__ = ["REBUILD_MODES", "BackboneMotif", "BackboneSampling", "GeneratedBackbone", "motif_atoms",
           "pose_motif", "rebuild_backbone", "superpose_on_motif"]


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


REBUILD_MODES = ("none", "oxygen", "ideal")


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



def _motif_graphs(fixed: Tensor, batch: Tensor) -> list[tuple[Tensor, Tensor]]:
    """``(atoms of the graph, its motif atoms)`` index pairs of every graph with a motif."""
    out = []
    for g in torch.unique(batch[fixed]).tolist():
        atoms = (batch == g).nonzero(as_tuple=True)[0]
        out.append((atoms, atoms[fixed[atoms]]))
    return out


def pose_motif(target: Tensor, x0: Tensor, fixed: Tensor, batch: Tensor) -> Tensor:
    """``target`` motif atoms moved rigidly (Kabsch, proper rotation) onto where ``x0`` has them."""
    placed = target.clone()
    for _, motif in _motif_graphs(fixed, batch):
        rot, shift = kabsch(target[motif].double(), x0[motif].double())
        placed[motif] = (target[motif].double() @ rot.T + shift).to(target.dtype)
    return placed


def superpose_on_motif(x: Tensor, target: Tensor, fixed: Tensor, batch: Tensor) -> Tensor:
    """Each chain with a motif moved rigidly so that its motif atoms best fit ``target``."""
    x = x.clone()
    for atoms, motif in _motif_graphs(fixed, batch):
        rot, shift = kabsch(x[motif].double(), target[motif].double())
        x[atoms] = (x[atoms].double() @ rot.T + shift).to(x.dtype)
    return x


def motif_atoms(lengths: Sequence[int], motifs: Sequence[BackboneMotif | None],
                pos_scale: float) -> tuple[Tensor, Tensor, list[Tensor]]:
    """Per atom (4 per residue): fixed mask [4R], motif coordinates [4R, 3] (times ``pos_scale``,
    centred on each chain's motif centroid) and per-chain centres (Angstrom)."""
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
            tgt[mask] = ((bb - center) * pos_scale).float()
        fixed.append(f.reshape(-1))
        target.append(tgt.reshape(-1, 3))
        centers.append(center)
    return torch.cat(fixed), torch.cat(target), centers


class BackboneSampling:
    """The sampling front end of a backbone task (mixed into a
    :class:`~molgen.tasks.base.DiffusionTask`): argument checks, motifs, the base ``denoise``
    contract, validation metrics and per-epoch crops. The task provides ``pos_scale``,
    ``rebuild`` and ``_reverse(lengths, fixed, target, *, steps, sampler, generator, progress,
    noise_scale) -> (x [4 sum(L), 3] in task units, atom batch)`` on the CPU, motif atoms at
    ``target``.
    """

    pos_scale: float
    rebuild: str

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


    @torch.inference_mode()
    def generate(
        self,
        lengths: Sequence[int],
        motifs: Sequence[BackboneMotif | None] | None = None,
        *,
        steps: int | None = None,
        sampler: Any = None,
        generator: torch.Generator | None = None,
        rebuild: str | None = None,
        noise_scale: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[GeneratedBackbone]:
        """Sample one chain per entry of ``lengths`` (residues), all in one batch.

        ``motifs[k]`` (optional) fixes residues of chain k (see module docstring). ``generator``
        (CPU) makes the run reproducible; ``progress(k)`` is called after each step.
        ``noise_scale`` (default: the task's) multiplies the sampler's fresh noise (< 1: a lower
        temperature, as protein samplers commonly use; a frame flow has none and refuses it).
        ``rebuild`` (default: the task's) is one of :data:`REBUILD_MODES`.
        """
        if any(int(n) < 1 for n in lengths):
            raise ValueError(f"lengths must be >= 1 residue, got {list(lengths)}")
        motifs = list(motifs) if motifs is not None else [None] * len(lengths)
        if len(motifs) != len(lengths):
            raise ValueError(f"{len(motifs)} motifs for {len(lengths)} lengths")
        rebuild = rebuild or self.rebuild
        fixed, target, centers = motif_atoms(lengths, motifs, self.pos_scale)
        x, batch = self._reverse(lengths, fixed, target, steps=steps, sampler=sampler, generator=generator,
                                 noise_scale=noise_scale, progress=progress)
        return self._finish(x, batch, lengths, motifs, centers, rebuild)


    @torch.inference_mode()
    def denoise(self, n_atoms: Tensor, context: Context | None = None, *, steps: int | None = None,
                sampler: Any = None, generator: torch.Generator | None = None,
                progress: Callable[[int], None] | None = None) -> Samples:
        """The base contract (``n_atoms`` = 4 x residues per chain): unconditional chains in the
        diffusion units, ``types`` the atom kinds 0..3 (N, CA, C, O)."""
        if context is not None:
            raise ValueError("task=backbone takes no context")
        if bool((n_atoms % ATOMS_PER_RESIDUE).any()):
            raise ValueError(f"n_atoms must be multiples of 4 (N, CA, C, O per residue), "
                             f"got {n_atoms.tolist()}")
        lengths = (n_atoms // ATOMS_PER_RESIDUE).tolist()
        n = int(n_atoms.sum())
        x, batch = self._reverse(lengths, torch.zeros(n, dtype=torch.bool), torch.zeros(n, 3), steps=steps,
                                 sampler=sampler, generator=generator, progress=progress)
        bad = ~torch.isfinite(x).all(-1)
        finite = torch.bincount(batch[bad], minlength=len(lengths)) == 0
        types = torch.arange(ATOMS_PER_RESIDUE).repeat(n // ATOMS_PER_RESIDUE)
        return Samples(torch.where(finite[batch][:, None], x, torch.zeros_like(x)).to(self.device),
                       types.to(self.device), batch.to(self.device), finite.to(self.device))


    def _finish(self, x, batch, lengths, motifs, centers, rebuild) -> list[GeneratedBackbone]:
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
