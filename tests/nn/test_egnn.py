import math

import pytest
import torch

from molgen.nn.egnn import EGNN
from molgen.nn.graph import radius_bipartite, radius_graph
from molgen.testing import assert_equivariant, assert_permutation_equivariant


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


def _net(**kw):
    torch.manual_seed(0)
    return EGNN(n_types=4, hidden=16, n_layers=2, context_dim=6, context_cutoff=6.0, **kw).double()


@pytest.mark.parametrize("reflect", [False, True])
def test_egnn_pocket_equivariance(reflect):
    inputs, lb, pb = _complex()
    net = _net()
    t = torch.tensor([0.3, 0.8], dtype=torch.float64)

    def fn(pos, h, ppos, pfeat):
        ctx = net.encode_context(ppos, pfeat, pb)
        return net(pos, h, t, lb, ctx)

    assert_equivariant(fn, inputs, positions=["pos", "ppos"], outputs=("vector", "invariant"),
                       reflect=reflect, atol=1e-8)


def test_egnn_unconditional_equivariance_and_permutation():
    inputs, lb, _ = _complex(n_lig=(9,))
    net = EGNN(n_types=4, hidden=16, n_layers=3).double()
    t = torch.tensor([0.5], dtype=torch.float64)
    fn = lambda pos, h: net(pos, h, t, lb)  # noqa: E731
    sub = {"pos": inputs["pos"], "h": inputs["h"]}
    assert_equivariant(fn, sub, outputs=("vector", "invariant"), reflect=True, atol=1e-8)
    assert_permutation_equivariant(fn, sub, node_inputs=["pos", "h"], node_outputs=[True, True], atol=1e-8)


def test_pocket_permutation_invariance():
    inputs, lb, pb = _complex(n_lig=(6,), n_pocket=(20,))
    net = _net()
    t = torch.tensor([0.4], dtype=torch.float64)

    def fn(ppos, pfeat):
        return net(inputs["pos"], inputs["h"], t, lb, net.encode_context(ppos, pfeat, pb))

    assert_permutation_equivariant(fn, {"ppos": inputs["ppos"], "pfeat": inputs["pfeat"]},
                                   node_inputs=["ppos", "pfeat"], node_outputs=[False, False], atol=1e-8)


def test_shared_context_equals_replicated_context():
    """Many ligands seeing one encoded pocket == each ligand with its own copy of the pocket."""
    inputs, _, _ = _complex(n_lig=(5, 6, 4), n_pocket=(25,))
    lb = torch.repeat_interleave(torch.arange(3), torch.tensor([5, 6, 4]))
    net = _net()
    t = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    shared = net.encode_context(inputs["ppos"], inputs["pfeat"], torch.zeros(25, dtype=torch.long))
    out_shared = net(inputs["pos"], inputs["h"], t, lb, shared.shared_by(torch.zeros(3, dtype=torch.long)))
    rep_pos = inputs["ppos"].repeat(3, 1)
    rep_feat = inputs["pfeat"].repeat(3, 1)
    rep_batch = torch.repeat_interleave(torch.arange(3), 25)
    out_rep = net(inputs["pos"], inputs["h"], t, lb, net.encode_context(rep_pos, rep_feat, rep_batch))
    for a, b in zip(out_shared, out_rep):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def _brute_radius(x, y, r, bx, by):
    d = torch.cdist(x, y)
    ok = (d < r) & (bx[:, None] == by[None, :])
    i, j = ok.nonzero(as_tuple=True)
    return set(zip(j.tolist(), i.tolist()))


def test_radius_graph_matches_brute_force():
    g = torch.Generator().manual_seed(1)
    pos = torch.randn(50, 3, generator=g) * 3
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor([20, 10, 20]))
    e = radius_graph(pos, 2.5, batch, chunk=7)
    expected = {(a, b) for a, b in _brute_radius(pos, pos, 2.5, batch, batch) if a != b}
    assert set(zip(e[0].tolist(), e[1].tolist())) == expected
    full = radius_graph(pos, math.inf, batch)
    assert full.shape[1] == 20 * 19 + 10 * 9 + 20 * 19


def test_radius_bipartite_matches_brute_force_with_unsorted_targets():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(30, 3, generator=g) * 3, torch.randn(40, 3, generator=g) * 3
    bx = torch.randint(0, 2, (30,), generator=g)
    by = torch.repeat_interleave(torch.arange(2), torch.tensor([15, 25]))
    e = radius_bipartite(x, y, 3.0, bx, by, chunk=8)
    assert set(zip(e[0].tolist(), e[1].tolist())) == _brute_radius(x, y, 3.0, bx, by)


def test_gradients_finite():
    inputs, lb, pb = _complex()
    net = _net().float()
    pos = inputs["pos"].float().requires_grad_(True)
    ctx = net.encode_context(inputs["ppos"].float(), inputs["pfeat"].float(), pb)
    vec, sc = net(pos, inputs["h"].float(), torch.tensor([0.1, 0.9]), lb, ctx)
    (vec.square().sum() + sc.square().sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    assert torch.isfinite(pos.grad).all()
