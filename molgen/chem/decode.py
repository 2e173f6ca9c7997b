"""Generated ligands with predicted bonds -> the same result type as distance-based reconstruction.

A bond-aware model predicts atoms, formal charges and bonds; :func:`decode_graph` builds and
sanitizes the RDKit molecule from them (:func:`molgen.chem.bond_graph.mol_from_graph`) and reports
it as a :class:`~molgen.chem.reconstruct.ReconstructedMol` (``method="predicted"``), so everything
downstream of :func:`~molgen.chem.reconstruct.reconstruct_mol` (SDF, properties, scoring) reads both.
"""

from __future__ import annotations

from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molgen.chem.bond_graph import BondGraph, mol_from_graph
from molgen.chem.reconstruct import ReconstructedMol

__all__ = ["decode_graph"]


def decode_graph(graph: BondGraph, *, largest_fragment: bool = False) -> ReconstructedMol:
    """The molecule of a predicted bond graph; never raises. ``connected`` / ``n_fragments``
    describe the whole graph, also when ``largest_fragment`` keeps only the largest piece."""
    try:
        with BlockLogs():
            mol, err = mol_from_graph(graph)
            n_frags = len(Chem.GetMolFrags(mol, sanitizeFrags=False)) if mol.GetNumAtoms() else 0
            connected = n_frags == 1
            if err is not None:
                return ReconstructedMol(mol, False, connected, n_frags, error=err, method="predicted")
            Chem.AssignStereochemistryFrom3D(mol)
            if largest_fragment and not connected:
                mol = max(Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True), key=lambda m: m.GetNumAtoms())
            return ReconstructedMol(mol, True, connected, n_frags, smiles=Chem.MolToSmiles(mol), method="predicted")
    except Exception as exc:  # noqa: BLE001 -- the contract is: never raise
        return ReconstructedMol(None, False, False, 0, error=f"{type(exc).__name__}: {exc}", method="predicted")
