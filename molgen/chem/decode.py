"""Generated ligands with predicted bonds -> the same result type as distance-based reconstruction.

A bond-aware model predicts atoms, formal charges and bonds; :func:`decode_graph` builds and
sanitizes the RDKit molecule from them (:func:`molgen.chem.bond_graph.mol_from_graph`) and reports
it as a :class:`~molgen.chem.reconstruct.ReconstructedMol` (``method="predicted"``), so everything
downstream of :func:`~molgen.chem.reconstruct.reconstruct_mol` (SDF, properties, scoring) reads both.

:class:`LigandDecoder` is how a sampling run turns what the model generated into molecules, one of
:data:`BOND_SOURCES`: the bonds as predicted, the predicted bonds after
:func:`~molgen.chem.valence_repair.repair_valence` (``method="repaired"``; the row keeps the
verdict on the bonds as predicted beside it), or bonds perceived from the coordinates alone
(:func:`~molgen.chem.reconstruct.reconstruct_mol`, as for an atoms-only model). With a ``relax``
(:class:`~molgen.chem.pose_relaxation.PoseRelaxation`) every valid molecule's pose is then cleaned
up in a force field near where the model put it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molgen.chem.bond_graph import BondGraph, mol_from_graph
from molgen.chem.pose_relaxation import PoseRelaxation
from molgen.chem.reconstruct import ReconstructedMol, reconstruct_mol

__all__ = ["BOND_SOURCES", "LigandDecoder", "decode_graph"]

#: Where a sampled ligand's bonds come from (``molgen sample bonds=...``).
BOND_SOURCES: tuple[str, ...] = ("predicted", "repaired", "distances")


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


@dataclass(frozen=True)
class LigandDecoder:
    """Generated atoms (and predicted bonds, if any) -> ``(ReconstructedMol, extra row columns)``.

    ``bonds``: one of :data:`BOND_SOURCES`. A generated ligand without predicted bonds (an
    atoms-only model) is always read from its coordinates. With ``"repaired"`` the extra columns
    are ``valid_predicted`` / ``connected_predicted`` (the verdict on the bonds as predicted) and
    ``bond_edits`` (bond orders lowered + bonds removed + bonds added by the repair). With
    ``relax`` a valid molecule's pose is relaxed and its row gets ``relax_force_field`` and
    ``relax_rmsd``; SMILES (stereo) are read from the relaxed pose. A relaxation that raises keeps
    the generated pose (``relax_force_field="failed"``, the reason in ``relax_error``).
    """

    bonds: str = "predicted"
    largest_fragment: bool = False
    relax: PoseRelaxation | None = None

    def __post_init__(self) -> None:
        if self.bonds not in BOND_SOURCES:
            raise ValueError(f"bonds={self.bonds!r}: allowed values are {', '.join(BOND_SOURCES)}")

    def __call__(self, pos, elements, graph: BondGraph | None) -> tuple[ReconstructedMol, dict]:
        rec, extra = self._decode(pos, elements, graph)
        if self.relax is not None and rec.valid:
            try:
                with BlockLogs():
                    mol, columns = self.relax(rec.mol)
                    rec.mol, rec.smiles = mol, Chem.MolToSmiles(mol)
            except Exception as exc:  # noqa: BLE001 -- a force-field failure keeps the generated pose
                columns = {"relax_force_field": "failed", "relax_rmsd": 0.0,
                           "relax_error": f"{type(exc).__name__}: {exc}"}
            extra.update(columns)
        return rec, extra

    def _decode(self, pos, elements, graph: BondGraph | None) -> tuple[ReconstructedMol, dict]:
        if graph is None or self.bonds == "distances":
            return reconstruct_mol(pos, elements, largest_fragment=self.largest_fragment), {}
        if self.bonds == "predicted":
            return decode_graph(graph, largest_fragment=self.largest_fragment), {}
        from molgen.chem.valence_repair import repair_valence

        raw = decode_graph(graph)
        fixed, log = repair_valence(graph)
        rec = decode_graph(fixed, largest_fragment=self.largest_fragment)
        rec.method = "repaired"
        return rec, {"valid_predicted": raw.valid, "connected_predicted": raw.connected, "bond_edits": log.n_edits}
