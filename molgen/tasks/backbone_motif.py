"""Motif scaffolding helpers shared by the backbone tasks (atom diffusion and frame flow).

A motif is a set of residues kept fixed (:class:`BackboneMotif`). Both tasks pose the motif
rigidly where the network's clean estimate has it (:func:`pose_motif`), and at the end move each
chain so that its motif fits the input (:func:`superpose_on_motif`); the motif atoms are then
copied from the input and end exactly at its coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from molgen.nn.backbone_net import ATOMS_PER_RESIDUE
from molgen.protein.geometry import kabsch

__all__ = ["BackboneMotif", "GeneratedBackbone", "motif_atoms", "pose_motif", "superpose_on_motif"]


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
