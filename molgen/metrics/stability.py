"""EDM's molecule metrics, re-implemented: atom/molecule stability, validity, uniqueness, novelty.

These follow Hoogeboom et al. 2022 (EDM, ``qm9/bond_analyze.py``, ``qm9/analyze.py`` and
``qm9/rdkit_functions.py`` of ``ehoogeboom/e3_diffusion_for_molecules``) so numbers compare with
published tables. They are deliberately separate from molgen's own bond perception
(``molgen.chem``): EDM's rule is a distance look-up, nothing more.

- **Bond order** of an atom pair at distance ``d`` (pm): 0 unless ``d < bonds1 + 10``; then 1,
  or 2 if the pair has a double-bond length and ``d < bonds2 + 5``, or 3 if it also has a
  triple-bond length and ``d < bonds3 + 3`` (strict ``<``, distances in float32 as EDM computed
  them from float32 positions). Element pairs without a single-bond length never bond (EDM's
  ``check_exists``; for H/C/N/O/F every pair has one). The tables are symmetric; EDM's own
  ``bonds2`` lists C=S (160 pm) under C only, so EDM's answer for a C-S pair depended on atom
  order: here it applies both ways. For QM9's H/C/N/O/F the rule is EDM's exactly.
- **Atom stable**: the sum of its bond orders is an allowed valence (``ALLOWED_VALENCES``).
  **Molecule stable**: all its atoms are stable. Atom stability is pooled over all atoms.
- **Validity**: the molecule built from those bond orders (plain atoms, no charges, implicit Hs
  allowed) passes ``Chem.SanitizeMol``; its SMILES is the one of the largest fragment.
- **Uniqueness**: distinct SMILES among the valid ones / number valid.
- **Novelty**: unique SMILES absent from the training SMILES / number unique. The training SMILES
  are those of the training molecules built the same way (whole molecule, sanitised ones only:
  :func:`edm_reference_smiles`). SMILES keep the explicit hydrogens, as in EDM.

Inputs are ``(pos [N,3] Angstrom, elements)`` pairs; numpy, torch (CPU or GPU) and lists work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Geometry import Point3D
from rdkit.rdBase import BlockLogs

__all__ = [
    "ALLOWED_VALENCES",
    "BONDS1",
    "BONDS2",
    "BONDS3",
    "MARGINS",
    "EDMCheck",
    "EDMMetrics",
    "build_edm_mol",
    "check_molecule",
    "check_stability",
    "compute_edm_metrics",
    "edm_bond_orders",
    "edm_reference_smiles",
    "edm_smiles",
    "score_generated",
    "summarize_edm_checks",
]

# Typical bond lengths in pm (EDM's tables, from wiredchemist.com and chemistry-reference.com),
# given once per unordered pair: the look-up is symmetric.
_SINGLE: dict[tuple[str, str], int] = {
    ("H", "H"): 74, ("H", "C"): 109, ("H", "N"): 101, ("H", "O"): 96, ("H", "F"): 92,
    ("H", "B"): 119, ("H", "Si"): 148, ("H", "P"): 144, ("H", "As"): 152, ("H", "S"): 134,
    ("H", "Cl"): 127, ("H", "Br"): 141, ("H", "I"): 161,
    ("C", "C"): 154, ("C", "N"): 147, ("C", "O"): 143, ("C", "F"): 135, ("C", "Si"): 185,
    ("C", "P"): 184, ("C", "S"): 182, ("C", "Cl"): 177, ("C", "Br"): 194, ("C", "I"): 214,
    ("N", "N"): 145, ("N", "O"): 140, ("N", "F"): 136, ("N", "Cl"): 175, ("N", "Br"): 214,
    ("N", "S"): 168, ("N", "I"): 222, ("N", "P"): 177,
    ("O", "O"): 148, ("O", "F"): 142, ("O", "Br"): 172, ("O", "S"): 151, ("O", "P"): 163,
    ("O", "Si"): 163, ("O", "Cl"): 164, ("O", "I"): 194,
    ("F", "F"): 142, ("F", "S"): 158, ("F", "Si"): 160, ("F", "Cl"): 166, ("F", "Br"): 178,
    ("F", "P"): 156, ("F", "I"): 187,
    ("B", "Cl"): 175,
    ("Si", "Si"): 233, ("Si", "S"): 200, ("Si", "Cl"): 202, ("Si", "Br"): 215, ("Si", "I"): 243,
    ("Cl", "Cl"): 199, ("Cl", "P"): 203, ("Cl", "S"): 207, ("Cl", "Br"): 214,
    ("S", "S"): 204, ("S", "Br"): 225, ("S", "P"): 210, ("S", "I"): 234,
    ("Br", "Br"): 228, ("Br", "P"): 222, ("P", "P"): 221,
    ("I", "I"): 266,
}  # fmt: skip
_DOUBLE: dict[tuple[str, str], int] = {
    ("C", "C"): 134, ("C", "N"): 129, ("C", "O"): 120, ("C", "S"): 160,
    ("N", "N"): 125, ("N", "O"): 121, ("O", "O"): 121, ("O", "P"): 150, ("P", "S"): 186,
}  # fmt: skip
_TRIPLE: dict[tuple[str, str], int] = {("C", "C"): 120, ("C", "N"): 116, ("C", "O"): 113, ("N", "N"): 110}


def _symmetric(pairs: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for (a, b), length in pairs.items():
        table.setdefault(a, {})[b] = length
        table.setdefault(b, {})[a] = length
    return table


BONDS1: Mapping[str, Mapping[str, int]] = _symmetric(_SINGLE)
"""Single-bond lengths in pm, ``BONDS1["C"]["O"] == 143``."""
BONDS2: Mapping[str, Mapping[str, int]] = _symmetric(_DOUBLE)
"""Double-bond lengths in pm."""
BONDS3: Mapping[str, Mapping[str, int]] = _symmetric(_TRIPLE)
"""Triple-bond lengths in pm."""
MARGINS: tuple[int, int, int] = (10, 5, 3)
"""EDM's ``margin1, margin2, margin3`` in pm, tuned by EDM on QM9."""
ALLOWED_VALENCES: Mapping[str, tuple[int, ...]] = {
    "H": (1,), "C": (4,), "N": (3,), "O": (2,), "F": (1,), "B": (3,), "Al": (3,), "Si": (4,),
    "P": (3, 5), "S": (4,), "Cl": (1,), "As": (3,), "Br": (1,), "I": (1,), "Hg": (1, 2),
    "Bi": (3, 5),
}  # fmt: skip
"""Sum of bond orders that makes an atom stable (EDM's ``allowed_bonds``; S only 4)."""

_BOND_TYPES = (None, Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE)


@dataclass(frozen=True)
class _Tables:
    """Per-element-pair thresholds in pm (``-inf``: that order is impossible) and valences."""

    index: dict[str, int]
    thresholds: np.ndarray  # [3, E, E] float32: bonds1+m1, bonds2+m2, bonds3+m3
    valence: np.ndarray  # [E, 4] int: allowed valences, padded with -1


def _build_tables() -> _Tables:
    elements = sorted(set(BONDS1) | set(ALLOWED_VALENCES))
    index = {e: i for i, e in enumerate(elements)}
    thr = np.full((3, len(elements), len(elements)), -np.inf, dtype=np.float32)
    for k, (table, margin) in enumerate(zip((BONDS1, BONDS2, BONDS3), MARGINS)):
        for a, row in table.items():
            for b, length in row.items():
                thr[k, index[a], index[b]] = length + margin
    valence = np.full((len(elements), 4), -1, dtype=np.int64)
    for e, allowed in ALLOWED_VALENCES.items():
        valence[index[e], : len(allowed)] = allowed
    return _Tables(index, thr, valence)


_TABLES = _build_tables()  # constant derived from the tables above, never mutated


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, any device
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _element_indices(elements: Any) -> tuple[np.ndarray, list[str]]:
    symbols = [str(e) for e in _as_numpy(elements).reshape(-1)]
    try:
        return np.array([_TABLES.index[s] for s in symbols], dtype=np.int64), symbols
    except KeyError as exc:
        raise ValueError(
            f"element {exc.args[0]!r} has no EDM bond table or valence (known: {', '.join(_TABLES.index)})"
        ) from None


def _orders(pos: Any, idx: np.ndarray) -> np.ndarray:
    p = _as_numpy(pos).astype(np.float32).reshape(-1, 3)
    if p.shape[0] != idx.shape[0]:
        raise ValueError(f"{p.shape[0]} positions but {idx.shape[0]} elements")
    diff = p[:, None, :] - p[None, :, :]
    dist = np.sqrt((diff * diff).sum(-1)) * np.float32(100.0)  # Angstrom -> pm, float32
    np.fill_diagonal(dist, np.inf)
    t1, t2, t3 = (_TABLES.thresholds[k][idx[:, None], idx[None, :]] for k in range(3))
    order = np.where(dist < t1, np.where(dist < t2, np.where(dist < t3, 3, 2), 1), 0)
    return order.astype(np.int8)


def edm_bond_orders(pos: Any, elements: Any) -> np.ndarray:
    """EDM's bond orders of every atom pair: ``int8 [N, N]``, symmetric, zero diagonal.

    Args:
        pos: ``[N, 3]`` coordinates in Angstrom.
        elements: ``[N]`` element symbols (``"C"``, ``"Cl"``).
    """
    idx, _ = _element_indices(elements)
    return _orders(pos, idx)


def check_stability(pos: Any, elements: Any) -> tuple[bool, int, int]:
    """EDM's ``check_stability``: ``(molecule_stable, n_stable_atoms, n_atoms)``."""
    idx, _ = _element_indices(elements)
    valence = _orders(pos, idx).sum(axis=1, dtype=np.int64)
    stable = (_TABLES.valence[idx] == valence[:, None]).any(axis=1)
    n_stable = int(stable.sum())
    return n_stable == len(idx), n_stable, len(idx)


def _mol_from_orders(symbols: Sequence[str], orders: np.ndarray) -> Chem.RWMol:
    mol = Chem.RWMol()
    for s in symbols:
        mol.AddAtom(Chem.Atom(s))
    rows, cols = np.nonzero(np.tril(orders))  # i > j, as EDM adds them
    for i, j in zip(rows.tolist(), cols.tolist()):
        mol.AddBond(i, j, _BOND_TYPES[int(orders[i, j])])
    return mol


def build_edm_mol(pos: Any, elements: Any, *, sanitize: bool = False) -> Chem.Mol:
    """An RDKit molecule with EDM's bond orders and a 3D conformer (for writing SDF files).

    Atoms are plain (no formal charges); hydrogens are explicit atoms where given. With
    ``sanitize=False`` (default) the molecule is returned as built, with its property cache
    updated leniently so it can be written even when chemically wrong; with ``sanitize=True``
    ``Chem.SanitizeMol`` runs and may raise.
    """
    idx, symbols = _element_indices(elements)
    p = _as_numpy(pos).astype(np.float64).reshape(-1, 3)
    mol = _mol_from_orders(symbols, _orders(p, idx))
    conf = Chem.Conformer(len(symbols))
    for k, (x, y, z) in enumerate(p.tolist()):
        conf.SetAtomPosition(k, Point3D(x, y, z))
    conf.Set3D(True)
    mol.AddConformer(conf, assignId=True)
    out = mol.GetMol()
    if sanitize:
        Chem.SanitizeMol(out)
    else:
        out.UpdatePropertyCache(strict=False)
    return out


def _sanitized_smiles(mol: Chem.Mol) -> str | None:
    """EDM's ``mol2smiles``: sanitise in place, ``None`` if RDKit refuses."""
    try:
        Chem.SanitizeMol(mol)
    except ValueError:
        return None
    return Chem.MolToSmiles(mol)


def _valid_smiles(symbols: Sequence[str], orders: np.ndarray) -> tuple[bool, str | None]:
    """EDM's validity test: whole molecule sanitises; SMILES of its largest fragment."""
    mol = _mol_from_orders(symbols, orders)
    smiles = _sanitized_smiles(mol)
    if smiles is None:
        return False, None
    if len(Chem.GetMolFrags(mol)) == 1:  # the largest fragment is the molecule: same SMILES
        return True, smiles
    frags = Chem.GetMolFrags(mol, asMols=True)
    largest = max(frags, default=mol, key=lambda m: m.GetNumAtoms())
    return True, _sanitized_smiles(largest)


def edm_smiles(pos: Any, elements: Any) -> str | None:
    """SMILES of the largest fragment of EDM's molecule, or ``None`` if it is not valid."""
    idx, symbols = _element_indices(elements)
    with BlockLogs():
        return _valid_smiles(symbols, _orders(pos, idx))[1]


def edm_reference_smiles(molecules: Iterable[tuple[Any, Any]]) -> list[str | None]:
    """EDM's training-set SMILES (for novelty): whole-molecule SMILES, ``None`` if unsanitisable.

    EDM computes these without taking the largest fragment; so does this.
    """
    out: list[str | None] = []
    with BlockLogs():  # RDKit's sanitisation complaints are expected here, not news
        for pos, elements in molecules:
            idx, symbols = _element_indices(elements)
            out.append(_sanitized_smiles(_mol_from_orders(symbols, _orders(pos, idx))))
    return out


@dataclass(frozen=True)
class EDMCheck:
    """EDM's verdict on one molecule (a row of a per-sample CSV)."""

    molecule_stable: bool
    n_stable_atoms: int
    n_atoms: int
    valid: bool
    smiles: str | None  # largest fragment's SMILES when valid


@dataclass(frozen=True)
class EDMMetrics:
    """EDM's table: fractions in [0, 1]; ``novelty`` is ``None`` without reference SMILES."""

    n_molecules: int
    atom_stability: float
    molecule_stability: float
    validity: float
    uniqueness: float
    novelty: float | None
    n_valid: int
    n_unique: int

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain dict, e.g. for a CSV row or a logger."""
        return asdict(self)


def check_molecule(pos: Any, elements: Any) -> EDMCheck:
    """Stability and validity of one molecule by EDM's rules (RDKit's own logging left on)."""
    idx, symbols = _element_indices(elements)
    orders = _orders(pos, idx)
    valence = orders.sum(axis=1, dtype=np.int64)
    n_stable = int((_TABLES.valence[idx] == valence[:, None]).any(axis=1).sum())
    valid, smiles = _valid_smiles(symbols, orders)
    return EDMCheck(n_stable == len(idx), n_stable, len(idx), valid, smiles)


def summarize_edm_checks(
    checks: Sequence[EDMCheck], *, reference_smiles: Iterable[str | None] | None = None
) -> EDMMetrics:
    """Pool per-molecule checks into EDM's table (see :func:`compute_edm_metrics`)."""
    if not checks:
        raise ValueError("no molecules to summarise")
    n_atoms = sum(c.n_atoms for c in checks)
    valid = [c.smiles for c in checks if c.valid]
    unique = set(valid)
    novelty = None
    if reference_smiles is not None:
        ref = reference_smiles if isinstance(reference_smiles, (set, frozenset)) else set(reference_smiles)
        novelty = sum(s not in ref for s in unique) / len(unique) if unique else 0.0
    return EDMMetrics(
        n_molecules=len(checks),
        atom_stability=sum(c.n_stable_atoms for c in checks) / max(n_atoms, 1),
        molecule_stability=sum(c.molecule_stable for c in checks) / len(checks),
        validity=len(valid) / len(checks),
        uniqueness=len(unique) / len(valid) if valid else 0.0,
        novelty=novelty,
        n_valid=len(valid),
        n_unique=len(unique),
    )


def compute_edm_metrics(
    molecules: Iterable[tuple[Any, Any]],
    *,
    atom_decoder: Sequence[str] | None = None,
    reference_smiles: Iterable[str | None] | None = None,
) -> EDMMetrics:
    """EDM's atom/molecule stability, validity, uniqueness and novelty over a set of molecules.

    Args:
        molecules: ``(pos [N,3] Angstrom, elements [N])`` pairs; with ``atom_decoder`` the second
            item holds integer atom types, decoded as ``atom_decoder[type]``.
        atom_decoder: element symbol of each atom type index (e.g. ``("H", "C", "N", "O")``).
        reference_smiles: training SMILES (``QM9Dataset(..., split="train").smiles_set()`` or
            :func:`edm_reference_smiles`); ``None`` leaves novelty ``None``.
    """
    decoder = np.array(list(atom_decoder), dtype="<U2") if atom_decoder is not None else None
    decoded = ((pos, decoder[_as_numpy(types).astype(np.int64)] if decoder is not None else types, True)
               for pos, types in molecules)
    return score_generated(decoded, reference_smiles=reference_smiles)


def score_generated(
    samples: Iterable[tuple[Any, Any, bool]], *, reference_smiles: Iterable[str | None] | None = None
) -> EDMMetrics:
    """:func:`compute_edm_metrics` of generated samples, counting failed ones.

    Args:
        samples: ``(pos, elements, finite)`` as ``MoleculeTask.generate`` returns them; a sample
            whose trajectory went non-finite counts as a molecule with no stable atom, unstable
            and invalid (it stays in every denominator).
        reference_smiles: see :func:`compute_edm_metrics`.
    """
    checks: list[EDMCheck] = []
    with BlockLogs():  # RDKit would log every unsanitisable sample
        for pos, elements, finite in samples:
            failed = EDMCheck(False, 0, len(elements), False, None)
            checks.append(check_molecule(pos, elements) if finite else failed)
    return summarize_edm_checks(checks, reference_smiles=reference_smiles)
