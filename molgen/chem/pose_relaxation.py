"""Force-field clean-up of a generated pose, kept where the model put it.

A generated ligand's bonds and atoms are the model's; its local geometry (bond lengths, angles,
planarity of double bonds) is only as good as the network's coordinates, and PoseBusters fails a
pose on a single bond 0.25 A too long or a twisted double bond. :class:`PoseRelaxation` minimises
the molecule in MMFF94 (UFF where MMFF94 has no parameters) with hydrogens added at their ideal
places, every heavy atom held by a flat-bottomed restraint: free within ``max_displacement`` of
its generated position, pulled back with ``force_constant`` beyond. Bonds, charges and atom order
do not change; stereo is read again from the relaxed coordinates.

Given the pocket (:meth:`PoseRelaxation.in_pocket`), each pocket heavy atom within the summed van
der Waals radii + 1 A of a ligand heavy atom is a wall for it: the atom ends no closer to it than
it was, and at least ``pocket_clearance`` x the summed radii away (PoseBusters fails a pose at
0.75 x); the wall is ten times stiffer than the restraint, so a clash is resolved even where that
takes an atom beyond ``max_displacement``. Without walls, the minimisation (which lengthens the
generated molecules' short bonds) pushed poses into the protein: on 16 CrossDocked test pockets x 4
PoseBusters' distance-to-protein failures went 5 -> 20 and Vina scores rose by about 1 kcal/mol; a
wall at the clearance alone still drew atoms into contact (Vina score -3.48 -> -2.28 kcal/mol,
PoseCheck clashes 1.4 -> 3.2 per pose); with the walls as they are, neither worsens
(docs/benchmarks.md).

DiffSBDD offers the same clean-up (UFF, no restraint) as an option of its sampler; published
pocket-model benchmarks score raw poses, so ours state which they score.

:func:`force_field` is the force-field choice shared with :func:`molgen.metrics.pocket.strain_energy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem

from molgen.chem.vdw import vdw_radii

__all__ = ["PoseRelaxation", "force_field"]


def force_field(mol: Chem.Mol) -> tuple[Any, str] | None:
    """``(force field, "mmff" | "uff")`` of ``mol`` (hydrogens explicit, one conformer): MMFF94
    where it has parameters for every atom, else UFF; ``None`` when neither has."""
    if AllChem.MMFFHasAllMoleculeParams(mol):
        props = AllChem.MMFFGetMoleculeProperties(mol)
        ff = AllChem.MMFFGetMoleculeForceField(mol, props) if props is not None else None
        return (ff, "mmff") if ff is not None else None
    if AllChem.UFFHasAllMoleculeParams(mol):
        ff = AllChem.UFFGetMoleculeForceField(mol)
        return (ff, "uff") if ff is not None else None
    return None


@dataclass(frozen=True)
class PoseRelaxation:
    """Restrained minimisation of a heavy-atom pose (see the module docstring).

    Args:
        max_displacement: Angstrom each heavy atom may move freely.
        force_constant: kcal/mol/A^2 of the restraint beyond ``max_displacement``.
        max_iters: minimiser iterations.
        fixed_atoms: indices of atoms that do not move at all (a fragment the user fixed).
        pocket_clearance: how far out a ligand atom closer than that is pushed from a pocket atom,
            a fraction of the pair's summed van der Waals radii (RDKit's periodic table); farther
            atoms are held where they are (module docstring).
    """

    max_displacement: float = 0.3
    force_constant: float = 100.0
    max_iters: int = 500
    fixed_atoms: tuple[int, ...] = ()
    pocket_clearance: float = 0.85
    pocket_pos: np.ndarray | None = field(default=None, compare=False, repr=False)
    pocket_radii: np.ndarray | None = field(default=None, compare=False, repr=False)

    def in_pocket(self, pos: np.ndarray, elements: Sequence[str]) -> PoseRelaxation:
        """This relaxation with the pocket's heavy atoms (``pos`` [M, 3], ``elements`` [M]) as walls."""
        pos = np.asarray(pos, dtype=np.float64).reshape(-1, 3)
        if len(elements) != len(pos):
            raise ValueError(f"{len(pos)} pocket positions but {len(elements)} elements")
        try:
            radii = vdw_radii(elements)
        except ValueError as err:
            raise ValueError(f"pocket {err}") from None
        return replace(self, pocket_pos=pos, pocket_radii=radii)

    def __post_init__(self) -> None:
        if not self.max_displacement >= 0 or not self.force_constant > 0 or int(self.max_iters) < 1:
            raise ValueError(f"PoseRelaxation needs max_displacement >= 0, force_constant > 0 and "
                             f"max_iters >= 1, got {self.max_displacement}, {self.force_constant}, "
                             f"{self.max_iters}")

    def __call__(self, mol: Chem.Mol) -> tuple[Chem.Mol, dict[str, Any]]:
        """``(relaxed molecule, columns)``: a new heavy-atom molecule with the relaxed conformer
        and ``relax_force_field`` ("mmff", "uff", or "none": the input comes back unchanged) and
        ``relax_rmsd`` (Angstrom the heavy atoms moved, root mean square)."""
        fixed = {int(k) for k in self.fixed_atoms}
        if fixed and max(fixed) >= mol.GetNumAtoms():
            raise ValueError(f"fixed atom {max(fixed)} of a molecule with {mol.GetNumAtoms()} atoms")
        molh = Chem.AddHs(Chem.Mol(mol), addCoords=True)
        picked = force_field(molh)
        if picked is None:
            return Chem.Mol(mol), {"relax_force_field": "none", "relax_rmsd": 0.0}
        ff, name = picked
        restrain = ff.MMFFAddPositionConstraint if name == "mmff" else ff.UFFAddPositionConstraint
        for atom in molh.GetAtoms():
            if atom.GetIdx() in fixed:
                ff.AddFixedPoint(atom.GetIdx())
            elif atom.GetAtomicNum() > 1:
                restrain(atom.GetIdx(), float(self.max_displacement), float(self.force_constant))
        self._add_pocket_walls(ff, molh, name)
        ff.Minimize(maxIts=int(self.max_iters))
        before = mol.GetConformer().GetPositions()
        after = molh.GetConformer().GetPositions()[: mol.GetNumAtoms()]  # AddHs appends the H
        out = Chem.Mol(mol)
        conf = out.GetConformer()
        for k, xyz in enumerate(after):
            conf.SetAtomPosition(k, xyz.tolist())
        Chem.AssignStereochemistryFrom3D(out)
        rmsd = float(np.sqrt(((after - before) ** 2).sum(1).mean())) if len(before) else 0.0
        return out, {"relax_force_field": name, "relax_rmsd": rmsd}

    def _add_pocket_walls(self, ff, molh: Chem.Mol, name: str) -> None:
        """Pocket heavy atoms near the ligand as fixed extra points; each ligand heavy atom within
        the summed van der Waals radii + 1 A of one is held at least as far from it as it was, and
        at least the clearance."""
        if self.pocket_pos is None or not len(self.pocket_pos):
            return
        heavy = [a.GetIdx() for a in molh.GetAtoms() if a.GetAtomicNum() > 1]
        lig = molh.GetConformer().GetPositions()[heavy]
        r_lig = vdw_radii([molh.GetAtomWithIdx(i).GetSymbol() for i in heavy])
        touch = r_lig[:, None] + self.pocket_radii[None, :]
        d = np.linalg.norm(lig[:, None, :] - self.pocket_pos[None, :, :], axis=-1)
        wall = np.maximum(self.pocket_clearance * touch, d)
        add = ff.MMFFAddDistanceConstraint if name == "mmff" else ff.UFFAddDistanceConstraint
        points: dict[int, int] = {}
        for a, p in zip(*np.nonzero(d < touch + 1.0)):
            if int(p) not in points:
                x, y, z = self.pocket_pos[p].tolist()
                points[int(p)] = ff.AddExtraPoint(x, y, z, fixed=True) - 1
            add(heavy[a], points[int(p)], False, float(wall[a, p]), 1.0e4, 10.0 * float(self.force_constant))
        if points:
            ff.Initialize()
