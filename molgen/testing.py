"""Equivariance and centre-of-mass checks, shipped so users can test their own models.

Example::

    from molgen.testing import assert_equivariant
    assert_equivariant(lambda pos, h: net(pos, h, t, batch), {"pos": pos, "h": h},
                       positions=["pos"], outputs=("vector", "invariant"), reflect=True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor

__all__ = ["random_rotation", "assert_equivariant", "assert_permutation_equivariant", "assert_zero_com",
           "random_molecule_inputs", "assert_bond_net_equivariant", "assert_bond_net_permutation_equivariant",
           "write_untrained_checkpoint"]

Kind = str  # "position" (R x + t), "vector" (R x), "invariant" (x)


def random_rotation(generator: torch.Generator | None = None, reflect: bool = False,
                    dtype: torch.dtype = torch.float64) -> Tensor:
    """A uniformly random 3x3 rotation (times -1, an improper rotation, if ``reflect``)."""
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))[None, :]
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    if reflect:
        q = -q
    return q.to(dtype)


def _transform(x: Tensor, kind: Kind, rot: Tensor, shift: Tensor) -> Tensor:
    if kind == "invariant":
        return x
    y = x @ rot.T.to(x.dtype)
    return y + shift.to(x.dtype) if kind == "position" else y


def assert_equivariant(
    fn: Callable[..., Tensor | Sequence[Tensor]],
    inputs: Mapping[str, Tensor],
    *,
    positions: Sequence[str] = ("pos",),
    vectors: Sequence[str] = (),
    outputs: Sequence[Kind] = ("vector",),
    reflect: bool = False,
    translate: bool = True,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    seed: int = 0,
) -> None:
    """Check ``fn(g . inputs) == g . fn(inputs)`` for a random rotation (+reflection, +translation).

    ``positions`` name inputs that rotate and translate, ``vectors`` inputs that only rotate; the
    rest are invariant. ``outputs`` gives the kind of each output ("position", "vector",
    "invariant"). Raises ``AssertionError`` with the largest deviation on failure.
    """
    gen = torch.Generator().manual_seed(seed)
    rot = random_rotation(gen, reflect=reflect)
    shift = torch.randn(3, generator=gen, dtype=torch.float64) * (3.0 if translate else 0.0)
    moved = {}
    for name, x in inputs.items():
        kind = "position" if name in positions else "vector" if name in vectors else "invariant"
        moved[name] = _transform(x, kind, rot, shift)
    out = fn(**inputs)
    out_moved = fn(**moved)
    out = (out,) if isinstance(out, Tensor) else tuple(out)
    out_moved = (out_moved,) if isinstance(out_moved, Tensor) else tuple(out_moved)
    if len(out) != len(outputs):
        raise AssertionError(f"fn returned {len(out)} outputs but {len(outputs)} kinds were given")
    for i, (a, b, kind) in enumerate(zip(out, out_moved, outputs)):
        expected = _transform(a, kind, rot, shift)
        if not torch.allclose(b, expected, atol=atol, rtol=rtol):
            err = (b - expected).abs().max().item()
            what = "reflection" if reflect else "rotation"
            raise AssertionError(f"output {i} ({kind}) is not equivariant under {what}"
                                 f"{' + translation' if translate else ''}: max deviation {err:.3g}")


def assert_permutation_equivariant(
    fn: Callable[..., Tensor | Sequence[Tensor]],
    inputs: Mapping[str, Tensor],
    *,
    node_inputs: Sequence[str],
    node_outputs: Sequence[bool],
    atol: float = 1e-4,
    seed: int = 0,
) -> None:
    """Check that permuting the nodes of ``node_inputs`` permutes the per-node outputs alike.

    ``node_outputs[i]`` says whether output ``i`` is per node (permuted) or global (unchanged).
    Use on a single graph, or keep the permutation within graphs.
    """
    n = inputs[node_inputs[0]].shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    permuted = {k: (v[perm] if k in node_inputs else v) for k, v in inputs.items()}
    out, out_p = fn(**inputs), fn(**permuted)
    out = (out,) if isinstance(out, Tensor) else tuple(out)
    out_p = (out_p,) if isinstance(out_p, Tensor) else tuple(out_p)
    for i, (a, b, per_node) in enumerate(zip(out, out_p, node_outputs)):
        expected = a[perm] if per_node else a
        if not torch.allclose(b, expected, atol=atol):
            raise AssertionError(f"output {i} is not permutation equivariant: "
                                 f"max deviation {(b - expected).abs().max().item():.3g}")


def assert_zero_com(pos: Tensor, batch: Tensor | None = None, atol: float = 1e-4) -> None:
    """Check that every graph's coordinates have zero centre of mass (unweighted mean)."""
    if batch is None:
        batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
    n = int(batch.max()) + 1
    sums = pos.new_zeros(n, 3).index_add_(0, batch, pos)
    counts = torch.bincount(batch, minlength=n).clamp(min=1).to(pos.dtype)
    com = sums / counts[:, None]
    if com.abs().max() > atol:
        raise AssertionError(f"centre of mass is not zero: max |com| = {com.abs().max().item():.3g}")


def random_molecule_inputs(sizes: Sequence[int], n_types: int, *, n_charges: int = 3, n_bond_types: int = 5,
                           seed: int = 0, dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
    """Keyword inputs of a bond-aware denoiser, ``net(**inputs)``: a random noisy state of molecules
    of ``sizes`` atoms (every pair of a molecule, ``i < j``) and a time per molecule."""
    from molgen.diffusion.molecule_state import all_pairs

    g = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(list(sizes)))
    pairs = all_pairs(batch)
    n = batch.numel()
    return dict(pos=torch.randn(n, 3, generator=g, dtype=dtype) * 1.5,
                atom_types=torch.randint(0, n_types, (n,), generator=g),
                charges=torch.randint(0, n_charges, (n,), generator=g),
                bond_types=torch.randint(0, n_bond_types, (pairs.shape[1],), generator=g), pairs=pairs,
                t=torch.rand(len(sizes), generator=g, dtype=dtype), batch=batch)


def assert_bond_net_equivariant(net: Callable[..., Any], inputs: Mapping[str, Tensor], *,
                                reflect: bool = False, self_condition: bool = False, pocket: Sequence[Tensor] | None = None,
                                atol: float = 1e-8, seed: int = 0) -> None:
    """E(3) check of a bond-aware denoiser (``MoleculePrediction`` out): ``x0`` moves with the input,
    the logits of atom types, charges and bonds are invariant.

    ``self_condition``: the network's own first estimate is fed back as ``cond`` (its ``x0`` moved
    too). ``pocket``: ``(pos, feat, batch)`` of context atoms, encoded with ``net.encode_context``
    in each call and moved with the rest; ``x0`` is then a position in the pocket's frame.
    """
    from molgen.diffusion.molecule_flow import MoleculePrediction

    def encode(c_pos: Tensor | None):
        return None if pocket is None else net.encode_context(c_pos, pocket[1], pocket[2])

    c_pos = None if pocket is None else pocket[0]
    prev = net(**inputs, context=encode(c_pos)) if self_condition else None

    def fn(cond_x0: Tensor | None = None, c_pos: Tensor | None = None, **kw: Tensor):
        cond = None if prev is None else MoleculePrediction(cond_x0, prev.atom_logits, prev.charge_logits,
                                                            prev.bond_logits)
        out = net(**kw, cond=cond, context=encode(c_pos))
        return out.x0, out.atom_logits, out.charge_logits, out.bond_logits

    args, positions, vectors = dict(inputs), ["pos"], []
    if prev is not None:
        args["cond_x0"] = prev.x0
        vectors.append("cond_x0")
    if pocket is not None:
        args["c_pos"] = c_pos
        positions.append("c_pos")
    x0_kind = "position" if pocket is not None else "vector"
    assert_equivariant(fn, args, positions=positions, vectors=vectors, reflect=reflect, atol=atol, seed=seed,
                       outputs=(x0_kind, "invariant", "invariant", "invariant"))


def assert_bond_net_permutation_equivariant(net: Callable[..., Any], inputs: Mapping[str, Tensor], *,
                                            atol: float = 1e-8, seed: int = 0) -> None:
    """Reordering the atoms inside each molecule reorders the atom outputs alike and carries each
    pair's bond logits to where that pair lands (``MoleculeState.permute``)."""
    from molgen.diffusion.molecule_state import MoleculeState

    batch = inputs["batch"]
    n = batch.numel()
    state = MoleculeState(inputs["pos"], inputs["atom_types"], inputs["charges"], inputs["bond_types"],
                          inputs["pairs"], batch, int(batch.max()) + 1)
    noise = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    perm = torch.argsort(batch.double() + noise)  # a random order within each molecule
    moved = state.permute(perm)

    def call(s: MoleculeState):
        return net(s.pos, s.atom_types, s.charges, s.bond_types, s.pairs, inputs["t"], s.batch)

    a, b = call(state), call(moved)
    dense = a.bond_logits.new_zeros(n, n, a.bond_logits.shape[-1])
    dense[state.pairs[0], state.pairs[1]] = a.bond_logits
    dense = dense + dense.transpose(0, 1)
    expected = {"x0": a.x0[perm], "atom_logits": a.atom_logits[perm], "charge_logits": a.charge_logits[perm],
                "bond_logits": dense[perm][:, perm][moved.pairs[0], moved.pairs[1]]}
    for name, want in expected.items():
        got = getattr(b, name)
        if not torch.allclose(got, want, atol=atol):
            raise AssertionError(f"{name} does not follow an atom permutation: "
                                 f"max deviation {(got - want).abs().max().item():.3g}")


def write_untrained_checkpoint(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Path:
    """A molgen checkpoint of an untrained model from the train config, via the real export path.

    ``compose`` + ``instantiate`` + ``save_checkpoint`` is what ``molgen train`` does after
    fitting: loading and sampling behave the same, and it costs a second instead of a training run.
    """
    from hydra.utils import instantiate

    from molgen.checkpoint import export_config, save_checkpoint
    from molgen.config import compose

    cfg = compose("train", list(overrides))
    torch.manual_seed(0)
    task = instantiate(cfg.task.module)
    task.export_config = export_config(cfg)
    return save_checkpoint(task, path)
