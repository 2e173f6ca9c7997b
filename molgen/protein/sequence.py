"""Sequence identity between protein chains (Biopython's pairwise aligner), for leakage filters.

Identity is the number of identical residues in the best local alignment (Smith-Waterman,
BLOSUM62, gap open -10, extend -0.5: EMBOSS water's defaults) over the length of the shorter
sequence, i.e. identity times coverage of the shorter chain. A fragment of a test chain is 100 %
identical to it, however short; unrelated chains score 10-30 % (short segments highest).
A global alignment normalised the same way is inflated between chains of unequal length (the
short one is scattered over the long one: TS50 vs PoseBusters segments had a median of 36 %),
so it is not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

__all__ = ["max_identity", "sequence_identity"]


@lru_cache(maxsize=1)
def _aligner():
    from Bio.Align import PairwiseAligner, substitution_matrices

    return PairwiseAligner(mode="local", substitution_matrix=substitution_matrices.load("BLOSUM62"),
                           open_gap_score=-10.0, extend_gap_score=-0.5)


def sequence_identity(a: str, b: str) -> float:
    """Identity of one-letter sequences ``a`` and ``b`` in [0, 1] (module docstring); 0 if either
    is empty. Letters outside the 20 amino acids count as X."""
    if not a or not b:
        return 0.0
    table = str.maketrans({c: "X" for c in set(a + b) if c not in "ACDEFGHIKLMNPQRSTVWY"})
    a, b = a.translate(table), b.translate(table)
    aln = _aligner().align(a, b)[0]
    return aln.counts().identities / min(len(a), len(b))


def max_identity(seq: str, references: Sequence[str]) -> float:
    """The highest :func:`sequence_identity` of ``seq`` to any of ``references`` (0 if none)."""
    return max((sequence_identity(seq, ref) for ref in references), default=0.0)
