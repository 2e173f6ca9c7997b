"""RFdiffusion-style contig strings for motif scaffolding, and motif RMSD.

A contig lists the new chain from N- to C-terminus as comma- (or ``/``-) separated segments:

- ``10``: exactly 10 new (generated) residues;
- ``10-20``: a number of new residues drawn uniformly from 10..20 (inclusive);
- ``A5-20``: residues 5..20 of chain A of the motif structure, copied (author numbering; an
  insertion code may follow a number, ``A52A-60``); ``A5`` is the single residue A5.

``"10-20,A5-20,10-20"`` puts the motif A5-20 between two generated stretches. Square brackets
and spaces are ignored (``"[10-20/A5-20/10-20]"`` reads the same). A motif range must be
complete in the motif file: every number between its ends present, every backbone atom present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from molgen.errors import MolgenInputError
from molgen.io.chains import ONE_TO_THREE, THREE_TO_ONE, ChainRecord, missing_atom_mask
from molgen.protein.geometry import superpose_rmsd

__all__ = [
    "ContigLayout",
    "ContigSegment",
    "motif_rmsd",
    "parse_contig",
    "sample_contig",
]

_NEW = re.compile(r"(\d+)(?:-(\d+))?")
_MOTIF = re.compile(r"([A-Za-z]+)(-?\d+)([A-Za-z]?)(?:-(-?\d+)([A-Za-z]?))?")


@dataclass(frozen=True)
class ContigSegment:
    """One parsed segment: ``kind="new"`` with ``min_len..max_len``, or ``kind="motif"`` with
    ``chain`` and author residue ids ``start``..``end`` (strings such as ``"5"``, ``"52A"``)."""

    kind: str
    min_len: int = 0
    max_len: int = 0
    chain: str = ""
    start: str = ""
    end: str = ""

    def __str__(self) -> str:
        if self.kind == "new":
            return str(self.min_len) if self.min_len == self.max_len else f"{self.min_len}-{self.max_len}"
        return f"{self.chain}{self.start}-{self.end}"


def parse_contig(spec: str) -> list[ContigSegment]:
    """Parse a contig string into segments (no motif file needed).

    Raises:
        MolgenInputError: empty spec, a malformed segment, a range with min > max, or no
            residues at all.
    """
    text = spec.replace("[", "").replace("]", "").replace(" ", "")
    if not text:
        raise MolgenInputError(f"contig {spec!r}: empty")
    segments = []
    for part in re.split(r"[,/]", text):
        if not part:
            raise MolgenInputError(f"contig {spec!r}: empty segment (doubled or trailing separator)")
        if m := _NEW.fullmatch(part):
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) is not None else lo
            if lo > hi:
                raise MolgenInputError(f"contig {spec!r}: segment {part!r} has min > max")
            if hi > 0:  # "0" segments (RFdiffusion chain-break marker) add nothing here
                segments.append(ContigSegment("new", lo, hi))
        elif m := _MOTIF.fullmatch(part):
            start = f"{int(m.group(2))}{m.group(3).upper()}"
            end = start if m.group(4) is None else f"{int(m.group(4))}{m.group(5).upper()}"
            segments.append(ContigSegment("motif", chain=m.group(1), start=start, end=end))
        else:
            raise MolgenInputError(
                f"contig {spec!r}: cannot read segment {part!r}; expected a length (10), a length "
                f"range (10-20) or a motif range <chain><start>-<end> (A5-20)"
            )
    if not segments:
        raise MolgenInputError(f"contig {spec!r}: no residues")
    return segments


@dataclass(frozen=True, eq=False)
class ContigLayout:
    """One sampled layout of a contig.

    Attributes:
        length: total residues L of the new chain.
        motif_mask: ``bool [L]``, True at motif positions.
        motif_index: ``int64 [M]`` positions of the motif residues in the new chain.
        motif_backbone: ``float32 [M, 4, 3]`` N, CA, C, O from the motif file (its frame).
        motif_res_ids: M original ids ``"A:5"``.
        motif_res_names: M original three-letter residue names.
        segments: the sampled segments, e.g. ``["12", "A5-20", "15"]``.
        spec: the contig string it came from.
    """

    length: int
    motif_mask: np.ndarray
    motif_index: np.ndarray
    motif_backbone: np.ndarray
    motif_res_ids: list[str]
    motif_res_names: list[str]
    segments: list[str]
    spec: str

    def sequence(self, fill: str = "G") -> str:
        """One-letter sequence: motif residues keep their identity, the rest are ``fill``."""
        seq = [fill] * self.length
        for i, name in zip(self.motif_index.tolist(), self.motif_res_names):
            seq[i] = THREE_TO_ONE.get(name, "X")
        return "".join(seq)

    def layout_string(self) -> str:
        """The sampled layout as a fixed contig, e.g. ``"12,A5-20,15"``."""
        return ",".join(self.segments)


def _motif_slice(seg: ContigSegment, chains: dict[str, ChainRecord], spec: str) -> np.ndarray:
    if seg.chain not in chains:
        raise MolgenInputError(
            f"contig {spec!r}: motif chain {seg.chain!r} not in the motif structure "
            f"(chains: {sorted(chains)})"
        )
    rec = chains[seg.chain]
    where = {rid: i for i, rid in enumerate(rec.res_ids.tolist())}
    src = rec.path or rec.name
    for rid in (seg.start, seg.end):
        if rid not in where:
            raise MolgenInputError(
                f"{src}: contig {spec!r}: residue {seg.chain}{rid} not found; chain {seg.chain} "
                f"has residues {rec.res_ids[0]}-{rec.res_ids[-1]} ({len(rec)} present)"
            )
    i, j = where[seg.start], where[seg.end]
    if j < i:
        raise MolgenInputError(f"contig {spec!r}: motif {seg} ends before it starts")
    idx = np.arange(i, j + 1)
    nums = [int(re.match(r"-?\d+", r).group()) for r in rec.res_ids[idx]]
    absent = sorted(set(range(nums[0], nums[-1] + 1)) - set(nums))
    if absent:
        raise MolgenInputError(
            f"{src}: contig {spec!r}: motif {seg} has residues missing in the file: "
            f"{', '.join(f'{seg.chain}{n}' for n in absent[:10])}"
        )
    incomplete = idx[missing_atom_mask(rec)[idx]]
    if len(incomplete):
        raise MolgenInputError(
            f"{src}: contig {spec!r}: motif residues lack backbone atoms: "
            f"{', '.join(f'{seg.chain}{r}' for r in rec.res_ids[incomplete][:10])}"
        )
    return idx


def _randint(generator, lo: int, hi: int) -> int:
    """Uniform integer in ``[lo, hi]`` from a numpy or torch generator."""
    if isinstance(generator, torch.Generator):
        return int(torch.randint(lo, hi + 1, (1,), generator=generator).item())
    return int(generator.integers(lo, hi + 1))


def sample_contig(
    spec: str | Sequence[ContigSegment],
    motif_chains: ChainRecord | Sequence[ChainRecord] = (),
    generator: np.random.Generator | torch.Generator | int | None = None,
    *,
    length: int | tuple[int, int] | None = None,
    max_tries: int = 1000,
) -> ContigLayout:
    """Draw segment lengths for a contig and collect the motif from ``motif_chains``.

    Args:
        spec: a contig string or :func:`parse_contig` output.
        motif_chains: the motif structure's chains (:func:`molgen.io.chains.read_chains`
            output, unsplit), looked up by ``chain_id``.
        generator: numpy / torch generator or an int seed (None: fresh entropy).
        length: optional total length (or inclusive range) the layout must have; lengths are
            redrawn until it fits (RFdiffusion's ``contigmap.length``).
        max_tries: redraws before giving up.

    Raises:
        MolgenInputError: malformed spec, unknown chain, residues missing in the motif file,
            or a total length that the contig cannot reach.
    """
    text = spec if isinstance(spec, str) else ",".join(map(str, spec))
    segments = parse_contig(spec) if isinstance(spec, str) else list(spec)
    records = [motif_chains] if isinstance(motif_chains, ChainRecord) else list(motif_chains)
    chains = {r.chain_id: r for r in records}
    if generator is None or isinstance(generator, int):
        generator = np.random.default_rng(generator)
    motif = {k: _motif_slice(s, chains, text) for k, s in enumerate(segments) if s.kind == "motif"}
    fixed = sum(len(v) for v in motif.values())
    lo_total = fixed + sum(s.min_len for s in segments if s.kind == "new")
    hi_total = fixed + sum(s.max_len for s in segments if s.kind == "new")
    lo_want, hi_want = (length, length) if isinstance(length, int) else (length or (lo_total, hi_total))
    if hi_want < lo_total or lo_want > hi_total:
        raise MolgenInputError(
            f"contig {text!r}: total length {lo_want}-{hi_want} impossible; the contig spans "
            f"{lo_total}-{hi_total} residues"
        )
    for _ in range(max_tries):
        sizes = [len(motif[k]) if s.kind == "motif" else _randint(generator, s.min_len, s.max_len)
                 for k, s in enumerate(segments)]  # fmt: skip
        if lo_want <= sum(sizes) <= hi_want:
            break
    else:
        raise MolgenInputError(
            f"contig {text!r}: no total length in {lo_want}-{hi_want} after {max_tries} draws"
        )
    total = sum(sizes)
    mask = np.zeros(total, dtype=bool)
    index, backbones, ids, names, labels = [], [], [], [], []
    pos = 0
    for k, (seg, n) in enumerate(zip(segments, sizes)):
        if seg.kind == "motif":
            rec, idx = chains[seg.chain], motif[k]
            mask[pos : pos + n] = True
            index.append(np.arange(pos, pos + n))
            backbones.append(rec.backbone[idx])
            ids += [f"{seg.chain}:{r}" for r in rec.res_ids[idx]]
            names += [ONE_TO_THREE.get(a, "UNK") for a in (rec.seq[i] for i in idx)]
            labels.append(str(seg))
        else:
            labels.append(str(n))
        pos += n
    return ContigLayout(
        length=total,
        motif_mask=mask,
        motif_index=np.concatenate(index) if index else np.zeros(0, dtype=np.int64),
        motif_backbone=np.concatenate(backbones).astype(np.float32)
        if backbones
        else np.zeros((0, 4, 3), np.float32),
        motif_res_ids=ids,
        motif_res_names=names,
        segments=labels,
        spec=text,
    )


def _as_double(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    if torch.is_tensor(x):
        return x.detach().cpu().double()
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


_ATOM_INDEX = {"N": 0, "CA": 1, "C": 2, "O": 3}


def motif_rmsd(
    pred_backbone: np.ndarray | torch.Tensor,
    motif_backbone: np.ndarray | torch.Tensor,
    mask: np.ndarray | torch.Tensor,
    *,
    atoms: Sequence[str] = ("N", "CA", "C"),
) -> float:
    """Motif RMSD (A) after optimal (Kabsch, rotation + translation) superposition.

    Args:
        pred_backbone: ``[L, 4, 3]`` generated backbone.
        motif_backbone: ``[M, 4, 3]`` motif coordinates for the ``mask`` positions in order
            (:attr:`ContigLayout.motif_backbone`), or ``[L, 4, 3]`` indexed by ``mask`` too.
        mask: ``bool [L]`` motif positions.
        atoms: backbone atoms compared (default N, CA, C as in RFdiffusion's motif RMSD).
    """
    pred, ref = _as_double(pred_backbone), _as_double(motif_backbone)
    m = _as_double(mask).bool()
    if ref.shape[0] == pred.shape[0] and ref.shape[0] != int(m.sum()):
        ref = ref[m]
    if ref.shape[0] != int(m.sum()):
        raise MolgenInputError(f"motif_rmsd: {ref.shape[0]} motif residues but mask selects {int(m.sum())}")
    if int(m.sum()) == 0:
        raise MolgenInputError("motif_rmsd: empty motif mask")
    cols = [_ATOM_INDEX[a] for a in atoms]
    return float(superpose_rmsd(pred[m][:, cols].reshape(-1, 3), ref[:, cols].reshape(-1, 3)))
