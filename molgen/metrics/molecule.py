"""Set-level molecule metrics: validity, connectivity, uniqueness, novelty, diversity, distributions.

Inputs are RDKit Mols (``None`` for a molecule that could not be built) or SMILES strings.

* ``validity``: share of inputs that RDKit can sanitise.
* ``connectivity``: share of inputs (valid or not) that are one fragment.
* ``uniqueness``: distinct canonical SMILES / number of valid molecules.
* ``novelty``: share of valid molecules whose canonical SMILES is not in the training set.
* ``internal_diversity``: 1 - mean pairwise Tanimoto similarity of Morgan fingerprints
  (radius 2, 2048 bits) over the valid molecules.
* atom-type distribution (element symbols of heavy atoms) and bond-type distribution
  (``SINGLE``/``DOUBLE``/``TRIPLE``/``AROMATIC`` on the sanitised molecule), compared with a
  reference set by total variation distance (0 same .. 1 disjoint) and Jensen-Shannon distance
  (base 2, 0 .. 1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from rdkit import Chem, RDLogger

__all__ = [
    "atom_type_distribution",
    "bond_type_distribution",
    "canonical_smiles",
    "connectivity",
    "internal_diversity",
    "is_connected",
    "is_valid",
    "js_distance",
    "molecule_metrics",
    "novelty",
    "total_variation",
    "uniqueness",
    "validity",
]

MolLike = Chem.Mol | str | None


def _as_mol(x: MolLike) -> Chem.Mol | None:
    """A sanitised copy of ``x`` or ``None`` when it is missing or cannot be sanitised."""
    if x is None:
        return None
    RDLogger.DisableLog("rdApp.*")
    try:
        if isinstance(x, str):
            return Chem.MolFromSmiles(x)
        mol = Chem.Mol(x)
        Chem.SanitizeMol(mol)
        return mol
    except Exception:  # noqa: BLE001 -- any RDKit failure means "not valid"
        return None
    finally:
        RDLogger.EnableLog("rdApp.*")


def is_valid(x: MolLike) -> bool:
    """RDKit can sanitise it."""
    return _as_mol(x) is not None


def is_connected(x: MolLike) -> bool:
    """One fragment (judged on the unsanitised graph, so invalid molecules count too)."""
    if x is None:
        return False
    if isinstance(x, str):
        return "." not in x and bool(x)
    return x.GetNumAtoms() > 0 and len(Chem.GetMolFrags(x)) == 1


def canonical_smiles(x: MolLike) -> str | None:
    """Canonical isomeric SMILES without hydrogens, ``None`` when invalid."""
    mol = _as_mol(x)
    return None if mol is None else Chem.MolToSmiles(Chem.RemoveHs(mol))


def validity(mols: Sequence[MolLike]) -> float:
    """Share of valid molecules (0 for an empty input)."""
    return float(np.mean([is_valid(m) for m in mols])) if len(mols) else 0.0


def connectivity(mols: Sequence[MolLike]) -> float:
    """Share of one-fragment molecules among all inputs."""
    return float(np.mean([is_connected(m) for m in mols])) if len(mols) else 0.0


def _valid_smiles(mols: Iterable[MolLike]) -> list[str]:
    return [s for s in (canonical_smiles(m) for m in mols) if s is not None]


def uniqueness(mols: Sequence[MolLike]) -> float:
    """Distinct canonical SMILES / valid molecules (NaN when none is valid)."""
    smiles = _valid_smiles(mols)
    return len(set(smiles)) / len(smiles) if smiles else float("nan")


def novelty(mols: Sequence[MolLike], training_smiles: Iterable[str]) -> float:
    """Share of valid molecules absent from the training set (SMILES canonicalised here)."""
    smiles = _valid_smiles(mols)
    if not smiles:
        return float("nan")
    train = {s for s in (canonical_smiles(t) for t in training_smiles) if s is not None}
    return float(np.mean([s not in train for s in smiles]))


def internal_diversity(mols: Sequence[MolLike], *, radius: int = 2, n_bits: int = 2048) -> float:
    """1 - mean pairwise Tanimoto similarity (Morgan fingerprints); NaN with < 2 valid molecules."""
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    valid = [m for m in (_as_mol(x) for x in mols) if m is not None]
    if len(valid) < 2:
        return float("nan")
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    fps = [gen.GetFingerprint(m) for m in valid]
    sims = []
    for i in range(1, len(fps)):
        sims.extend(DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]))
    return float(1.0 - np.mean(sims))


def _normalise(counts: Counter) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in sorted(counts.items())} if total else {}


def atom_type_distribution(mols: Sequence[MolLike]) -> dict[str, float]:
    """Frequency of each heavy-atom element over the valid molecules."""
    counts: Counter = Counter()
    for m in (_as_mol(x) for x in mols):
        if m is not None:
            counts.update(a.GetSymbol() for a in m.GetAtoms() if a.GetAtomicNum() > 1)
    return _normalise(counts)


def bond_type_distribution(mols: Sequence[MolLike]) -> dict[str, float]:
    """Frequency of each bond type between heavy atoms over the valid molecules."""
    counts: Counter = Counter()
    for m in (_as_mol(x) for x in mols):
        if m is not None:
            counts.update(
                str(b.GetBondType()) for b in Chem.RemoveHs(m).GetBonds()
            )
    return _normalise(counts)


def _aligned(p: Mapping[str, float], q: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(set(p) | set(q))
    return np.array([p.get(k, 0.0) for k in keys]), np.array([q.get(k, 0.0) for k in keys])


def total_variation(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Total variation distance 0.5 * sum |p - q| (NaN if either is empty)."""
    if not p or not q:
        return float("nan")
    a, b = _aligned(p, q)
    return float(0.5 * np.abs(a - b).sum())


def js_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon distance with base-2 logs, 0 .. 1 (NaN if either is empty)."""
    if not p or not q:
        return float("nan")
    a, b = _aligned(p, q)
    m = 0.5 * (a + b)

    def kl(x: np.ndarray, y: np.ndarray) -> float:
        mask = x > 0
        return float((x[mask] * np.log2(x[mask] / y[mask])).sum())

    return float(np.sqrt(max(0.0, 0.5 * kl(a, m) + 0.5 * kl(b, m))))


def molecule_metrics(
    mols: Sequence[MolLike],
    *,
    reference: Sequence[MolLike] | None = None,
    training_smiles: Iterable[str] | None = None,
) -> dict[str, Any]:
    """All set-level metrics as one flat dict (distances only with ``reference``)."""
    out: dict[str, Any] = {
        "n_molecules": len(mols),
        "validity": validity(mols),
        "connectivity": connectivity(mols),
        "uniqueness": uniqueness(mols),
        "internal_diversity": internal_diversity(mols),
        "novelty": novelty(mols, training_smiles) if training_smiles is not None else float("nan"),
    }
    atoms, bonds = atom_type_distribution(mols), bond_type_distribution(mols)
    out.update({f"atom_frac_{k}": v for k, v in atoms.items()})
    out.update({f"bond_frac_{k.lower()}": v for k, v in bonds.items()})
    if reference is not None:
        ref_atoms, ref_bonds = atom_type_distribution(reference), bond_type_distribution(reference)
        out["atom_type_tv"] = total_variation(atoms, ref_atoms)
        out["atom_type_js"] = js_distance(atoms, ref_atoms)
        out["bond_type_tv"] = total_variation(bonds, ref_bonds)
        out["bond_type_js"] = js_distance(bonds, ref_bonds)
    return out
