"""Protein backbones: geometry (frames, ideal atoms, dihedrals), secondary structure (PyDSSP),
motif-scaffolding contigs and export to Biopython structures / PDB / mmCIF.

Coordinates are Angstrom; a backbone is ``[L, 4, 3]`` with atoms N, CA, C, O.
"""

from molgen.protein.contig import ContigLayout, ContigSegment, motif_rmsd, parse_contig, sample_contig
from molgen.protein.dssp import assign_secondary_structure, hbond_matrix
from molgen.protein.geometry import (
    IDEAL_BOND_ANGLES_DEG,
    IDEAL_BOND_LENGTHS,
    IDEAL_LOCAL_COORDS,
    backbone_dihedrals,
    backbone_from_frames,
    dihedral,
    frames_from_backbone,
    frames_from_points,
    ideal_cb,
    kabsch,
    place_atom,
    superpose_rmsd,
)
from molgen.protein.structure import (
    MOTIF_BFACTOR,
    SCAFFOLD_BFACTOR,
    backbone_to_structure,
    write_mmcif,
    write_pdb,
)

__all__ = [
    "IDEAL_BOND_ANGLES_DEG",
    "IDEAL_BOND_LENGTHS",
    "IDEAL_LOCAL_COORDS",
    "MOTIF_BFACTOR",
    "SCAFFOLD_BFACTOR",
    "ContigLayout",
    "ContigSegment",
    "assign_secondary_structure",
    "backbone_dihedrals",
    "backbone_from_frames",
    "backbone_to_structure",
    "dihedral",
    "frames_from_backbone",
    "frames_from_points",
    "hbond_matrix",
    "ideal_cb",
    "kabsch",
    "motif_rmsd",
    "parse_contig",
    "place_atom",
    "sample_contig",
    "superpose_rmsd",
    "write_mmcif",
    "write_pdb",
]
