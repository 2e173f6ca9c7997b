"""Parsing and writing: files in, plain numpy records out (and back). No torch in this package.

- :mod:`molgen.io.records`: :class:`ProteinRecord`, :class:`PocketRecord`, :class:`LigandRecord`;
- :mod:`molgen.io.structure`: receptors from PDB / mmCIF (plain or ``.gz``);
- :mod:`molgen.io.sdf`: ligands from / to SD files (atomic writes);
- :mod:`molgen.io.pocket`: pocket selection by reference ligand, residue list or box.
"""

from molgen.io.pocket import DEFAULT_POCKET_CUTOFF, parse_residue_spec, read_pocket, select_pocket
from molgen.io.records import BACKBONE_ATOM_NAMES, LigandRecord, PocketRecord, ProteinRecord, residue_key
from molgen.io.sdf import ligand_record, read_ligand_records, read_ligands, write_sdf
from molgen.io.structure import (
    STANDARD_AMINO_ACIDS,
    read_hetero_ligands,
    read_protein,
    read_structure_records,
    structure_format,
)

__all__ = [
    "BACKBONE_ATOM_NAMES",
    "DEFAULT_POCKET_CUTOFF",
    "STANDARD_AMINO_ACIDS",
    "LigandRecord",
    "PocketRecord",
    "ProteinRecord",
    "ligand_record",
    "parse_residue_spec",
    "read_hetero_ligands",
    "read_ligand_records",
    "read_ligands",
    "read_pocket",
    "read_protein",
    "read_structure_records",
    "residue_key",
    "select_pocket",
    "structure_format",
    "write_sdf",
]
