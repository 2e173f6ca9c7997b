"""Stability and validity of molecules from their *predicted* bonds (MiDi's / SemlaFlow's definition).

An atom is stable when the sum of its bond orders (aromatic 1.5) is a valence its element allows at
its formal charge (with implicit hydrogens, heavy-atom graphs: at most such a valence); a molecule is
stable when all its atoms are. Validity is RDKit sanitization of the
molecule built from the predicted atoms, charges and bonds; connected means one fragment.
EDM's distance-based check (:mod:`molgen.metrics.stability`) runs beside it as the cross-check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molgen.chem.bond_graph import BOND_ORDERS, BondGraph, allowed_valences, mol_from_graph

__all__ = ["BondCheck", "allowed_valences", "check_graph", "heavy_atom_smiles", "summarize_bond_checks"]

@dataclass(frozen=True)
class BondCheck:
    """One molecule's verdict from its predicted bonds."""

    molecule_stable: bool
    n_stable_atoms: int
    n_atoms: int
    valid: bool
    connected: bool
    smiles: str | None  # canonical SMILES (hydrogens implicit) when valid
    error: str | None


def check_graph(graph: BondGraph) -> tuple[BondCheck, Chem.Mol]:
    """``(check, mol)``: stability, validity and the RDKit molecule of a predicted bond graph."""
    n = len(graph.elements)
    valence = np.zeros(n)
    if graph.bonds.size:
        orders = np.asarray(BOND_ORDERS)[graph.bonds[:, 2]]
        np.add.at(valence, graph.bonds[:, 0], orders)
        np.add.at(valence, graph.bonds[:, 1], orders)
    def ok(k: int, allowed: tuple[int, ...]) -> bool:  # implicit hydrogens fill up to a valence
        if graph.implicit_hs:
            return any(valence[k] <= v + 1e-6 for v in allowed)
        return any(abs(valence[k] - v) < 1e-6 for v in allowed)

    stable = [ok(k, allowed_valences(el, int(q))) for k, (el, q) in enumerate(zip(graph.elements, graph.charges.tolist()))]
    with BlockLogs():
        mol, err = mol_from_graph(graph)
        smiles, connected = None, False
        if err is None:
            connected = len(Chem.GetMolFrags(mol)) == 1
            try:
                smiles = Chem.MolToSmiles(Chem.RemoveHs(mol))
            except Exception as exc:  # RemoveHs can still refuse an odd valence state
                err = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BondCheck(all(stable), int(sum(stable)), n, err is None, connected, smiles, err), mol


def heavy_atom_smiles(smiles: Iterable[str]) -> set[str]:
    """Reference SMILES in :class:`BondCheck`'s form (canonical, hydrogens implicit): EDM's reference
    SMILES of QM9 (:meth:`QM9Dataset.smiles_set`) write every hydrogen as an atom, so a novelty
    test against them would call every molecule new. Unparseable entries are skipped."""
    out = set()
    with BlockLogs():
        for s in smiles:
            mol = Chem.MolFromSmiles(s) if s else None
            if mol is not None:
                out.add(Chem.MolToSmiles(Chem.RemoveHs(mol)))
    return out


def summarize_bond_checks(checks: Sequence[BondCheck], reference_smiles: Iterable[str] | None = None) -> dict:
    """Fractions in [0, 1]: ``atom_stable``, ``mol_stable``, ``valid``, ``connected``,
    ``unique`` (of valid), ``valid_unique`` (valid x unique), ``novel`` (share of
    the unique valid SMILES not in ``reference_smiles``, which must be in the same form: see
    :func:`heavy_atom_smiles`)."""
    if not checks:
        raise ValueError("no molecules to summarise")
    n = len(checks)
    valid = [c.smiles for c in checks if c.valid and c.smiles]
    unique = set(valid)
    out = {
        "n_molecules": n,
        "atom_stable": sum(c.n_stable_atoms for c in checks) / max(sum(c.n_atoms for c in checks), 1),
        "mol_stable": sum(c.molecule_stable for c in checks) / n,
        "valid": sum(c.valid for c in checks) / n,
        "connected": sum(c.valid and c.connected for c in checks) / n,
        "unique": len(unique) / len(valid) if valid else 0.0,
        "valid_unique": len(unique) / n,
        "novel": None,
    }
    if reference_smiles is not None:
        ref = set(reference_smiles)
        out["novel"] = sum(s not in ref for s in unique) / len(unique) if unique else 0.0
    return out
