"""The e3nn tensor-product denoiser: the same contract and symmetry tests as the EGNN, plus chirality."""

import pytest
import torch
from e3nn import o3

from molgen.diffusion.processes import VPProcess
from molgen.diffusion.samplers import DDPMSampler
from molgen.diffusion.schedules import CosineSchedule
from molgen.nn.base import Context
from molgen.nn.tfn import TFN, hidden_irreps
from molgen.testing import assert_equivariant, assert_permutation_equivariant

IRREPS = "16x0e + 8x1o + 4x2e"


def _complex(seed=0, n_lig=(7, 5), n_pocket=(30, 24)):
    g = torch.Generator().manual_seed(seed)
    lig_batch = torch.repeat_interleave(torch.arange(len(n_lig)), torch.tensor(n_lig))
    poc_batch = torch.repeat_interleave(torch.arange(len(n_pocket)), torch.tensor(n_pocket))
    return dict(
        pos=torch.randn(sum(n_lig), 3, generator=g, dtype=torch.float64) * 2,
        h=torch.randn(sum(n_lig), 4, generator=g, dtype=torch.float64),
        ppos=torch.randn(sum(n_pocket), 3, generator=g, dtype=torch.float64) * 4,
        pfeat=torch.randn(sum(n_pocket), 6, generator=g, dtype=torch.float64),
    ), lig_batch, poc_batch


@pytest.fixture(scope="module")
def net():
    """E(3) variant with a pocket encoder (also used without context)."""
    torch.manual_seed(0)
    return TFN(n_types=4, irreps_hidden=IRREPS, n_layers=2, context_dim=6, context_cutoff=6.0,
               context_layers=2, context_irreps="12x0e + 6x1o").double()


@pytest.fixture(scope="module")
def chiral_net():
    """SE(3) variant: three layers so that pseudoscalars appear even without a pocket."""
    torch.manual_seed(0)
    return TFN(n_types=4, irreps_hidden=IRREPS, n_layers=3, context_dim=6, context_cutoff=6.0,
               context_layers=2, chiral=True).double()


def _pocket_fn(net, lb, pb, t):
    def fn(pos, h, ppos, pfeat):
        return net(pos, h, t, lb, net.encode_context(ppos, pfeat, pb))
    return fn


@pytest.mark.parametrize("reflect", [False, True])
def test_tfn_pocket_equivariance(net, reflect):
    inputs, lb, pb = _complex()
    t = torch.tensor([0.3, 0.8], dtype=torch.float64)
    assert_equivariant(_pocket_fn(net, lb, pb, t), inputs, positions=["pos", "ppos"],
                       outputs=("vector", "invariant"), reflect=reflect, atol=1e-8)


def test_tfn_unconditional_equivariance_and_permutation(net):
    inputs, lb, _ = _complex(n_lig=(9,))
    t = torch.tensor([0.5], dtype=torch.float64)
    fn = lambda pos, h: net(pos, h, t, lb)  # noqa: E731
    sub = {"pos": inputs["pos"], "h": inputs["h"]}
    for reflect in (False, True):
        assert_equivariant(fn, sub, outputs=("vector", "invariant"), reflect=reflect, atol=1e-8)
    assert_permutation_equivariant(fn, sub, node_inputs=["pos", "h"], node_outputs=[True, True], atol=1e-8)


def test_pocket_permutation_invariance(net):
    inputs, lb, pb = _complex(n_lig=(6,), n_pocket=(20,))
    t = torch.tensor([0.4], dtype=torch.float64)

    def fn(ppos, pfeat):
        return net(inputs["pos"], inputs["h"], t, lb, net.encode_context(ppos, pfeat, pb))

    assert_permutation_equivariant(fn, {"ppos": inputs["ppos"], "pfeat": inputs["pfeat"]},
                                   node_inputs=["ppos", "pfeat"], node_outputs=[False, False], atol=1e-8)


def test_shared_context_equals_replicated_context(net):
    """Many ligands seeing one encoded pocket == each ligand with its own copy of the pocket."""
    inputs, _, _ = _complex(n_lig=(5, 6, 4), n_pocket=(25,))
    lb = torch.repeat_interleave(torch.arange(3), torch.tensor([5, 6, 4]))
    t = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    shared = net.encode_context(inputs["ppos"], inputs["pfeat"], torch.zeros(25, dtype=torch.long))
    out_shared = net(inputs["pos"], inputs["h"], t, lb, shared.shared_by(torch.zeros(3, dtype=torch.long)))
    rep_batch = torch.repeat_interleave(torch.arange(3), 25)
    rep = net.encode_context(inputs["ppos"].repeat(3, 1), inputs["pfeat"].repeat(3, 1), rep_batch)
    out_rep = net(inputs["pos"], inputs["h"], t, lb, rep)
    for a, b in zip(out_shared, out_rep):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_output_shapes_context_and_irreps(net):
    inputs, lb, pb = _complex()
    assert net.n_types == 4
    assert net.irreps_hidden == o3.Irreps(IRREPS)
    ctx = net.encode_context(inputs["ppos"], inputs["pfeat"], pb)
    assert isinstance(ctx, Context) and len(ctx.per_layer) == len(net.layers) == 2
    assert ctx.emb.shape == (54, o3.Irreps("12x0e + 6x1o").dim)  # equivariant pocket features
    vec, sc = net(inputs["pos"], inputs["h"], torch.tensor([0.1, 0.9], dtype=torch.float64), lb, ctx)
    assert vec.shape == (12, 3) and sc.shape == (12, 4)
    # the pocket matters: a pocket far away (no context edges) gives a different output
    far = net.encode_context(inputs["ppos"] + 100.0, inputs["pfeat"], pb)
    vec_far, _ = net(inputs["pos"], inputs["h"], torch.tensor([0.1, 0.9], dtype=torch.float64), lb, far)
    assert not torch.allclose(vec, vec_far)


def test_hidden_irreps_order_and_chiral_partners():
    assert hidden_irreps("8x2e + 4x1o + 16x0e") == o3.Irreps("16x0e + 4x1o + 8x2e")
    assert hidden_irreps(IRREPS, chiral=True) == o3.Irreps("16x0e + 4x0o + 8x1o + 4x1e + 4x2e")
    assert hidden_irreps("16x0e + 2x0o + 8x1o + 3x1e", chiral=True) == o3.Irreps("16x0e + 2x0o + 8x1o + 3x1e")
    with pytest.raises(ValueError, match="0e"):
        hidden_irreps("8x1o")
    with pytest.raises(ValueError, match="1o"):
        TFN(n_types=3, irreps_hidden="8x0e + 2x2e", n_layers=1)


def test_context_on_unconditional_net_is_an_error():
    net = TFN(n_types=3, irreps_hidden="4x0e + 2x1o", n_layers=1)
    with pytest.raises(ValueError, match="context_dim=0"):
        net.encode_context(torch.zeros(3, 3), torch.zeros(3, 2), torch.zeros(3, dtype=torch.long))


def _max_reflection_gap(fn, inputs, positions):
    """Largest |f(-x) - (-vec, scalars)(x)| relative to the output size."""
    out, out_m = fn(**inputs), fn(**{k: -v if k in positions else v for k, v in inputs.items()})
    vec_gap = (out_m[0] + out[0]).abs().max() / out[0].abs().max()
    sc_gap = (out_m[1] - out[1]).abs().max() / out[1].abs().max()
    return vec_gap.item(), sc_gap.item()


def test_chiral_variant_is_se3_but_tells_mirror_images_apart(chiral_net):
    inputs, lb, pb = _complex()
    t = torch.tensor([0.3, 0.8], dtype=torch.float64)
    fn = _pocket_fn(chiral_net, lb, pb, t)
    kinds = dict(positions=["pos", "ppos"], outputs=("vector", "invariant"))
    assert_equivariant(fn, inputs, reflect=False, atol=1e-8, **kinds)  # rotations + translations
    with pytest.raises(AssertionError, match="reflection"):
        assert_equivariant(fn, inputs, reflect=True, atol=1e-8, **kinds)
    vec_gap, sc_gap = _max_reflection_gap(fn, inputs, ["pos", "ppos"])
    # float64 round-off is ~1e-15: these gaps are the network reading pseudo-vectors and -scalars
    assert vec_gap > 1e-4 and sc_gap > 1e-6, (vec_gap, sc_gap)

    # without a pocket too (pseudoscalars from three ligand layers)
    uncond = lambda pos, h: chiral_net(pos, h, t, lb)  # noqa: E731
    sub = {"pos": inputs["pos"], "h": inputs["h"]}
    assert_equivariant(uncond, sub, outputs=("vector", "invariant"), atol=1e-8)
    vec_gap, sc_gap = _max_reflection_gap(uncond, sub, ["pos"])
    assert vec_gap > 1e-6 and sc_gap > 1e-8, (vec_gap, sc_gap)


def test_gradients_finite():
    inputs, lb, pb = _complex()
    torch.manual_seed(0)
    net = TFN(n_types=4, irreps_hidden="8x0e + 4x1o + 2x2e", n_layers=2, context_dim=6, context_layers=1,
              chiral=True)
    pos = inputs["pos"].float().requires_grad_(True)
    ctx = net.encode_context(inputs["ppos"].float(), inputs["pfeat"].float(), pb)
    vec, sc = net(pos, inputs["h"].float(), torch.tensor([0.1, 0.9]), lb, ctx)
    (vec.square().sum() + sc.square().sum()).backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert len(grads) > 0.9 * len(list(net.parameters()))
    assert all(torch.isfinite(g).all() for g in grads)
    assert torch.isfinite(pos.grad).all()


@pytest.mark.parametrize("s", [0.5, 0.0])
def test_ddpm_step_on_tfn_output_is_equivariant(net, s):
    """One sampling move x_t -> x_s in the pocket frame commutes with rotations and reflections."""
    inputs, lb, pb = _complex()
    process, sampler = VPProcess(CosineSchedule()), DDPMSampler()
    t, s = torch.tensor(0.7, dtype=torch.float64), torch.tensor(s, dtype=torch.float64)
    noise = torch.randn(inputs["pos"].shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)

    def step(pos, h, ppos, pfeat, noise):
        eps, _ = net(pos, h, t.expand(2), lb, net.encode_context(ppos, pfeat, pb))
        return sampler.step(process, pos, eps, t, s, noise)

    for reflect in (False, True):
        assert_equivariant(step, dict(inputs, noise=noise), positions=["pos", "ppos"], vectors=["noise"],
                           outputs=("vector",), reflect=reflect, translate=False, atol=1e-8)
