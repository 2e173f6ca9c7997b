"""Contig parsing / sampling and motif RMSD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molgen.errors import MolgenInputError
from molgen.io.chains import ONE_TO_THREE, ChainRecord
from molgen.protein.contig import ContigSegment, motif_rmsd, parse_contig, sample_contig


@pytest.fixture()
def motif_chain(ts50: list[ChainRecord]) -> ChainRecord:
    rec = ts50[0]  # renumber 1..L -> 101.., with an insertion code and a gap at 130
    ids = [str(101 + i) if i < 10 else "110A" if i == 10 else str(100 + i) for i in range(len(rec))]
    keep = [i for i in range(len(rec)) if ids[i] != "130"]
    return ChainRecord(
        "motif:A",
        "".join(rec.seq[i] for i in keep),
        rec.backbone[keep],
        np.array(ids)[keep],
        "A",
        path="motif.pdb",
    )


def test_parse_contig() -> None:
    segs = parse_contig("10-20,A5-20,10")
    assert segs == [
        ContigSegment("new", 10, 20),
        ContigSegment("motif", chain="A", start="5", end="20"),
        ContigSegment("new", 10, 10),
    ]
    assert parse_contig("[10-20/A5-20/ 0 /B7]") == [
        ContigSegment("new", 10, 20),
        ContigSegment("motif", chain="A", start="5", end="20"),
        ContigSegment("motif", chain="B", start="7", end="7"),
    ]
    assert parse_contig("A52a-60")[0].start == "52A"
    assert [str(s) for s in segs] == ["10-20", "A5-20", "10"]


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty"), ("10,,A5-20", "empty segment"), ("A5-B7", "cannot read segment 'A5-B7'"),
    ("20-10", "min > max"), ("5-", "cannot read"), ("0", "no residues"),
])  # fmt: skip
def test_parse_errors(spec: str, message: str) -> None:
    with pytest.raises(MolgenInputError, match=message):
        parse_contig(spec)


def test_sample_contig(motif_chain: ChainRecord) -> None:
    lay = sample_contig("5-15,A105-112,20", motif_chain, np.random.default_rng(0))
    n0 = int(lay.segments[0])
    assert 5 <= n0 <= 15 and lay.length == n0 + 9 + 20  # 105..110, 110A, 111, 112
    assert lay.segments[1:] == ["A105-112", "20"] and lay.layout_string() == ",".join(lay.segments)
    assert lay.motif_index.tolist() == list(range(n0, n0 + 9)) and lay.motif_mask.sum() == 9
    assert lay.motif_res_ids[5:7] == ["A:110", "A:110A"]
    np.testing.assert_array_equal(lay.motif_backbone, motif_chain.backbone[4:13])
    seq = lay.sequence()
    assert seq[:n0] == "G" * n0 and seq[n0 : n0 + 9] == motif_chain.seq[4:13]
    assert lay.motif_res_names == [ONE_TO_THREE[a] for a in motif_chain.seq[4:13]]
    # seeded: same draw from the same seed, torch generators work, total length constraint
    assert (
        sample_contig("5-15,A105-112,20", motif_chain, 7).segments
        == sample_contig("5-15,A105-112,20", motif_chain, 7).segments
    )
    for seed in range(5):
        lay = sample_contig("1-30,A105-112,1-30", motif_chain, torch.Generator().manual_seed(seed), length=40)
        assert lay.length == 40


@pytest.mark.parametrize(("spec", "message"), [
    ("10,B5-10", "chain 'B' not in"), ("A90-110", "A90 not found"),
    ("A125-135", "missing in the file: A130"), ("A110-105", "ends before"),
])  # fmt: skip
def test_sample_errors(motif_chain: ChainRecord, spec: str, message: str) -> None:
    with pytest.raises(MolgenInputError, match=message):
        sample_contig(spec, [motif_chain], 0)


def test_sample_length_impossible(motif_chain: ChainRecord) -> None:
    with pytest.raises(MolgenInputError, match="impossible"):
        sample_contig("5,A105-112,5", motif_chain, 0, length=100)


def test_motif_rmsd(motif_chain: ChainRecord) -> None:
    lay = sample_contig("10,A105-120,10", motif_chain, 0)
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(lay.length, 4, 3)) * 10
    pred[lay.motif_mask] = lay.motif_backbone
    assert motif_rmsd(pred, lay.motif_backbone, lay.motif_mask) < 1e-6
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    moved = pred @ q.T + np.array([5.0, -3.0, 2.0])
    assert motif_rmsd(moved, lay.motif_backbone, lay.motif_mask) < 1e-6
    assert motif_rmsd(torch.as_tensor(moved), torch.as_tensor(lay.motif_backbone), lay.motif_mask) < 1e-6
    noisy = moved.copy()
    noisy[lay.motif_mask] += rng.normal(size=noisy[lay.motif_mask].shape) * 0.5
    assert 0.6 < motif_rmsd(noisy, lay.motif_backbone, lay.motif_mask) < 0.9  # ~0.5 * sqrt(3)
    full = np.zeros_like(pred)
    full[lay.motif_mask] = lay.motif_backbone  # [L, 4, 3] reference indexed by the mask
    assert motif_rmsd(moved, full, lay.motif_mask) < 1e-6
    with pytest.raises(MolgenInputError, match="empty motif"):
        motif_rmsd(pred, lay.motif_backbone[:0], np.zeros(lay.length, dtype=bool))
