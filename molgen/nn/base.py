"""The contract every molgen denoiser implements (EGNN, TFN, ...).

A denoiser maps noisy atoms to an equivariant vector per atom and invariant scalars per atom::

    context = net.encode_context(pocket_pos, pocket_feat, pocket_batch)   # once per sample
    vec, scalars = net(pos, h, t, batch, context)                          # every step

- ``pos`` [N, 3] noisy coordinates (Angstrom), ``h`` [N, n_types] noisy type features,
  ``t`` [B] diffusion time in [0, 1] per graph, ``batch`` [N] graph index (sorted);
- ``vec`` [N, 3] rotates with the input (the task reads it as eps or x0 of the coordinates);
  ``scalars`` [N, n_types] are invariant (eps or logits of the types).

The context (a fixed pocket, a fixed motif) is encoded once: its own message passing never runs
inside the denoising loop. ``Context.graph_to_context`` lets many graphs share one encoded pocket.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

__all__ = ["Context"]


@dataclass
class Context:
    """An encoded, fixed context (pocket atoms) shared by the denoising steps of a sample.

    ``pos`` [M, 3] and ``batch`` [M] (context id, sorted) locate the atoms; ``emb`` [M, H] is the
    encoder output and ``per_layer`` holds anything a network precomputed from it per layer.
    ``graph_to_context`` [B] maps each denoised graph to the context it sees (``None``: graph b
    sees context b).
    """

    pos: Tensor
    batch: Tensor
    emb: Tensor
    per_layer: list[Tensor] = field(default_factory=list)
    graph_to_context: Tensor | None = None

    def context_index(self, batch: Tensor) -> Tensor:
        """Context id of every denoised node given its graph index."""
        return batch if self.graph_to_context is None else self.graph_to_context[batch]

    def shared_by(self, graph_to_context: Tensor) -> "Context":
        """The same encoded context, seen by graphs according to ``graph_to_context``."""
        return replace(self, graph_to_context=graph_to_context)

    def to(self, device: torch.device | str) -> "Context":
        g = None if self.graph_to_context is None else self.graph_to_context.to(device)
        return Context(self.pos.to(device), self.batch.to(device), self.emb.to(device),
                       [p.to(device) for p in self.per_layer], g)
