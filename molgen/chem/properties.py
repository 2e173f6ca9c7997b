"""Drug-likeness properties of one molecule, computed the way TargetDiff reports them.

* ``qed``: RDKit QED (Bickerton et al. 2012).
* ``sa_raw``: Ertl & Schuffenhauer synthetic accessibility, 1 (easy) .. 10 (hard), RDKit Contrib
  ``sascorer`` on ``Chem.RemoveHs(mol)``.
* ``sa``: TargetDiff's normalisation ``round((10 - sa_raw) / 9, 2)``, 0 (hard) .. 1 (easy).
* ``logp``: Crippen logP.
* ``lipinski``: how many of TargetDiff's five rules hold (``obey_lipinski``): exact mass < 500,
  H-bond donors <= 5, H-bond acceptors <= 10, -2 <= logP <= 5, rotatable bonds <= 10.
* ``ring_sizes``: ``{ring size: count}`` over RDKit's SSSR rings.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rdkit import Chem

__all__ = [
    "compute_properties",
    "lipinski_count",
    "logp",
    "normalize_sa",
    "qed",
    "ring_size_counts",
    "sa_score",
]


def _clean(mol: Chem.Mol) -> Chem.Mol:
    """A sanitised, hydrogen-free copy (raises if ``mol`` cannot be sanitised)."""
    out = Chem.Mol(mol)
    Chem.SanitizeMol(out)
    return Chem.RemoveHs(out)


def qed(mol: Chem.Mol) -> float:
    """Quantitative estimate of drug-likeness, 0..1."""
    from rdkit.Chem.QED import qed as _qed

    return float(_qed(_clean(mol)))


def sa_score(mol: Chem.Mol) -> float:
    """Raw synthetic accessibility score, 1 (easy) .. 10 (hard)."""
    from rdkit.Contrib.SA_Score import sascorer

    return float(sascorer.calculateScore(_clean(mol)))


def normalize_sa(sa_raw: float) -> float:
    """TargetDiff's normalised SA: ``round((10 - sa_raw) / 9, 2)`` (higher is easier)."""
    return round((10.0 - sa_raw) / 9.0, 2)


def logp(mol: Chem.Mol) -> float:
    """Crippen octanol-water logP."""
    from rdkit.Chem import Crippen

    return float(Crippen.MolLogP(_clean(mol)))


def lipinski_count(mol: Chem.Mol) -> int:
    """Number of TargetDiff's five Lipinski-type rules satisfied (0..5)."""
    from rdkit.Chem import Crippen, Descriptors, Lipinski, rdMolDescriptors

    m = _clean(mol)
    lp = Crippen.MolLogP(m)
    rules = (
        Descriptors.ExactMolWt(m) < 500,
        Lipinski.NumHDonors(m) <= 5,
        Lipinski.NumHAcceptors(m) <= 10,
        -2 <= lp <= 5,
        rdMolDescriptors.CalcNumRotatableBonds(m) <= 10,
    )
    return int(sum(rules))


def ring_size_counts(mol: Chem.Mol) -> dict[int, int]:
    """``{ring size: number of rings}`` over the smallest set of smallest rings."""
    m = _clean(mol)
    return dict(sorted(Counter(len(r) for r in m.GetRingInfo().AtomRings()).items()))


def compute_properties(mol: Chem.Mol) -> dict[str, Any]:
    """All properties of a valid molecule as one flat dict.

    Keys: ``qed, sa, sa_raw, logp, lipinski, n_heavy_atoms, mol_weight, n_rings`` and
    ``ring_<k>`` (number of rings of size k, k = 3..8; larger rings go to ``ring_large``).
    Raises if ``mol`` cannot be sanitised.
    """
    from rdkit.Chem import Descriptors

    m = _clean(mol)
    sa_raw = sa_score(m)
    rings = ring_size_counts(m)
    out: dict[str, Any] = {
        "qed": qed(m),
        "sa": normalize_sa(sa_raw),
        "sa_raw": sa_raw,
        "logp": logp(m),
        "lipinski": lipinski_count(m),
        "n_heavy_atoms": m.GetNumHeavyAtoms(),
        "mol_weight": float(Descriptors.MolWt(m)),
        "n_rings": int(sum(rings.values())),
    }
    for k in range(3, 9):
        out[f"ring_{k}"] = rings.get(k, 0)
    out["ring_large"] = sum(v for k, v in rings.items() if k > 8)
    return out
