"""One 3D conformer per SMILES: RDKit ETKDGv3 embedding, MMFF94 optimisation, heavy atoms out.

The recipe of ``../shared/data/moses3d`` (it reproduces those coordinates to the 4 decimals of the
SD file): hydrogens added, one ETKDGv3 conformer with ``randomSeed = seed``, MMFF94 minimised for
up to ``max_iters`` (2000) iterations with hydrogens, then hydrogens removed. The molecule that
comes back keeps its bond orders (aromatic flags cleared: Kekulé form, as SD files store it) and
the stereocentres as embedded (a SMILES without stereo gets one of its stereoisomers).

Failures raise :class:`ConformerError` with a short reason, which the caller lists.
"""

from __future__ import annotations

from rdkit import Chem, rdBase
from rdkit.Chem import AllChem

__all__ = ["DEFAULT_SEED", "ConformerError", "embed_conformer"]

DEFAULT_SEED = 0xC0FFEE
"""Base seed: molecule ``i`` of a SMILES file is embedded with ``DEFAULT_SEED + i``."""


class ConformerError(ValueError):
    """A SMILES that gave no conformer; the message is the reason (``"invalid SMILES"``, ...)."""


def embed_conformer(
    smiles: str, seed: int, *, max_iters: int = 2000, timeout: float | None = None
) -> Chem.Mol:
    """Heavy-atom molecule with one MMFF94-optimised ETKDGv3 conformer (Angstrom).

    Args:
        smiles: the molecule.
        seed: RDKit's embedding seed (the same seed and SMILES give the same coordinates).
        max_iters: MMFF94 iterations; not converged by then is a failure.
        timeout: seconds for the embedding (RDKit's ``EmbedParameters.timeout``); ``None``: no limit.

    Raises:
        ConformerError: invalid SMILES, embedding failed, no MMFF94 parameters, no convergence.
    """
    with rdBase.BlockLogs():  # the reason goes into the exception, not onto the terminal
        mol = Chem.MolFromSmiles(smiles, sanitize=False) if smiles else None
        if mol is None:
            raise ConformerError("invalid SMILES (cannot parse)")
        try:
            Chem.SanitizeMol(mol)
        except Exception as exc:  # RDKit's MolSanitizeException and kin
            raise ConformerError(f"invalid SMILES ({str(exc).strip().splitlines()[0]})") from None
    if mol.GetNumAtoms() == 0:
        raise ConformerError("no atoms")
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    if timeout:
        params.timeout = int(max(1, round(timeout)))
    if AllChem.EmbedMolecule(mol, params) < 0:
        raise ConformerError("ETKDGv3 embedding failed")
    if not AllChem.MMFFHasAllMoleculeParams(mol):
        raise ConformerError("no MMFF94 parameters")
    status = AllChem.MMFFOptimizeMolecule(mol, maxIters=int(max_iters))
    if status < 0:
        raise ConformerError("MMFF94 setup failed")
    if status > 0:
        raise ConformerError(f"MMFF94 not converged in {max_iters} iterations")
    mol = Chem.RemoveHs(mol)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    return mol
