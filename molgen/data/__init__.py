"""Featurize -> transform -> batch: records from :mod:`molgen.io` become torch_geometric graphs.

- :mod:`molgen.data.vocab`: element and residue vocabularies;
- :mod:`molgen.data.featurize`: :class:`ComplexData`, ligand / pocket features, unbatching;
- :mod:`molgen.data.transforms`: :class:`CenterOnPocket`;
- :mod:`molgen.data.datasets`: on-disk layouts (CrossDocked, PoseBusters), cached;
- :mod:`molgen.data.datamodule`: :class:`ComplexDataModule` (Lightning);
- :mod:`molgen.data.ligand_size`: p(number of ligand atoms | pocket size).
"""

from molgen.data.datamodule import ComplexDataModule, split_by_group
from molgen.data.datasets.complexes import ComplexDataset, ComplexSource
from molgen.data.featurize import (
    FOLLOW_BATCH,
    POCKET_MODES,
    ComplexData,
    LigandTensors,
    featurize_ligand,
    featurize_pocket,
    make_complex,
    make_pocket_complex,
    pocket_feature_dim,
    unbatch_ligands,
)
from molgen.data.ligand_size import LigandSizeModel, complex_size_pairs, fit_ligand_size_model
from molgen.data.transforms import CenterOnPocket
from molgen.data.vocab import AMINO_ACIDS, DEFAULT_LIGAND_ELEMENTS, POCKET_ELEMENTS, ElementVocab

__all__ = [
    "AMINO_ACIDS",
    "DEFAULT_LIGAND_ELEMENTS",
    "FOLLOW_BATCH",
    "POCKET_ELEMENTS",
    "POCKET_MODES",
    "CenterOnPocket",
    "ComplexData",
    "ComplexDataModule",
    "ComplexDataset",
    "ComplexSource",
    "ElementVocab",
    "LigandSizeModel",
    "LigandTensors",
    "complex_size_pairs",
    "featurize_ligand",
    "featurize_pocket",
    "fit_ligand_size_model",
    "make_complex",
    "make_pocket_complex",
    "pocket_feature_dim",
    "split_by_group",
    "unbatch_ligands",
]
