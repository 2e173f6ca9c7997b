"""PoseRelaxation: restrained force-field clean-up of generated poses, and the decoder that applies it."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem
from scipy.spatial.transform import Rotation

from molgen.chem.bond_graph import BondGraph, graph_from_mol
from molgen.chem.decode import LigandDecoder
from molgen.chem.pose_relaxation import PoseRelaxation, force_field
from molgen.metrics.pocket import strain_energy

SMILES = "CC(=O)Nc1ccc(/C=C/C(=O)O)cc1"


def _distorted(embed, noise: float = 0.15, seed: int = 0) -> Chem.Mol:
    """An MMFF conformer with every heavy atom displaced by Gaussian noise: a generated pose's
    stretched bonds and twisted double bonds."""
    mol = embed(SMILES)
    shake = np.random.default_rng(seed).normal(0, noise, (mol.GetNumAtoms(), 3))
    pos = mol.GetConformer().GetPositions() + shake
    conf = mol.GetConformer()
    for k, xyz in enumerate(pos):
        conf.SetAtomPosition(k, xyz.tolist())
    return mol


def _energy(mol: Chem.Mol) -> float:
    """Force-field energy of the heavy-atom pose (hydrogens relaxed, heavy atoms fixed)."""
    return strain_energy(mol)["pose_energy"]


def _bond_lengths(mol: Chem.Mol) -> np.ndarray:
    pos = mol.GetConformer().GetPositions()
    ends = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()])
    return np.linalg.norm(pos[ends[:, 0]] - pos[ends[:, 1]], axis=1)


def test_relaxation_lowers_the_energy_and_stays_near_the_pose(embed):
    mol = _distorted(embed)
    relaxed, cols = PoseRelaxation(max_displacement=0.3)(mol)
    assert cols["relax_force_field"] == "mmff"
    assert _energy(relaxed) < _energy(mol) - 20.0
    moved = np.linalg.norm(relaxed.GetConformer().GetPositions() - mol.GetConformer().GetPositions(), axis=1)
    assert moved.max() < 0.3 + 0.15  # the flat bottom, plus what the stiff wall lets through
    assert cols["relax_rmsd"] == pytest.approx(float(np.sqrt((moved ** 2).mean())), abs=1e-6)
    ideal = _bond_lengths(embed(SMILES))
    assert np.abs(_bond_lengths(relaxed) - ideal).max() < np.abs(_bond_lengths(mol) - ideal).max() / 2


def test_relaxation_keeps_the_graph(embed):
    mol = _distorted(embed)
    relaxed, _ = PoseRelaxation()(mol)
    assert relaxed.GetNumAtoms() == mol.GetNumAtoms()
    assert [a.GetSymbol() for a in relaxed.GetAtoms()] == [a.GetSymbol() for a in mol.GetAtoms()]
    g0, g1 = graph_from_mol(mol), graph_from_mol(relaxed)
    assert np.array_equal(g0.bonds, g1.bonds) and np.array_equal(g0.charges, g1.charges)
    assert Chem.MolToSmiles(relaxed) == Chem.MolToSmiles(Chem.MolFromSmiles(SMILES))  # E double bond kept


def test_a_wider_restraint_moves_the_atoms_further(embed):
    mol = _distorted(embed, noise=0.3)
    tight = PoseRelaxation(max_displacement=0.0)(mol)[1]["relax_rmsd"]
    loose = PoseRelaxation(max_displacement=1.0)(mol)[1]["relax_rmsd"]
    assert 0.0 < tight < loose


def test_relaxation_commutes_with_rotation_and_translation(embed):
    """The force field and the restraints are E(3)-invariant: relaxing a moved pose gives the moved
    relaxed pose."""
    mol = _distorted(embed)
    rot = Rotation.random(random_state=3).as_matrix()
    shift = np.array([4.0, -2.0, 7.5])
    moved = Chem.Mol(mol)
    conf = moved.GetConformer()
    for k, xyz in enumerate(mol.GetConformer().GetPositions() @ rot.T + shift):
        conf.SetAtomPosition(k, xyz.tolist())
    relax = PoseRelaxation(max_iters=2000)
    a = relax(mol)[0].GetConformer().GetPositions() @ rot.T + shift
    b = relax(moved)[0].GetConformer().GetPositions()
    assert np.abs(a - b).max() < 0.05  # the minimiser stops within its tolerance, not at one point


def test_molecule_without_force_field_comes_back_unchanged():
    mol = Chem.MolFromSmiles("[Xe]")
    AllChem.Compute2DCoords(mol)
    if force_field(Chem.AddHs(mol)) is not None:
        pytest.skip("this RDKit parameterises xenon")
    out, cols = PoseRelaxation()(mol)
    assert cols == {"relax_force_field": "none", "relax_rmsd": 0.0}
    assert np.array_equal(out.GetConformer().GetPositions(), mol.GetConformer().GetPositions())


@pytest.mark.parametrize("kwargs", [{"max_displacement": -0.1}, {"force_constant": 0.0}, {"max_iters": 0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="PoseRelaxation needs"):
        PoseRelaxation(**kwargs)


def test_decoder_relaxes_valid_molecules_and_reports_it(embed):
    g = graph_from_mol(_distorted(embed))
    plain, extra = LigandDecoder("repaired")(g.pos, g.elements, g)
    rec, cols = LigandDecoder("repaired", relax=PoseRelaxation())(g.pos, g.elements, g)
    assert rec.valid and cols["relax_force_field"] == "mmff" and cols["relax_rmsd"] > 0
    assert {k: cols[k] for k in extra} == extra
    assert rec.smiles == plain.smiles
    assert not np.allclose(rec.mol.GetConformer().GetPositions(), g.pos, atol=1e-3)
    ring_atom = int(np.flatnonzero(np.bincount(g.bonds[:, :2].ravel()) == 3)[0])
    bad = BondGraph([("F" if k == ring_atom else e) for k, e in enumerate(g.elements)], g.charges, g.bonds,
                    g.pos, g.implicit_hs)  # a three-bonded fluorine
    broken = LigandDecoder("predicted", relax=PoseRelaxation())(bad.pos, bad.elements, bad)
    assert not broken[0].valid and broken[1] == {}  # nothing to relax


def test_fixed_atoms_do_not_move(embed):
    mol = _distorted(embed)
    relaxed, _ = PoseRelaxation(fixed_atoms=(0, 1, 2, 3))(mol)
    before, after = mol.GetConformer().GetPositions(), relaxed.GetConformer().GetPositions()
    assert np.array_equal(before[:4], after[:4])
    assert np.abs(before[4:] - after[4:]).max() > 0.01
    with pytest.raises(ValueError, match="fixed atom 99 of a molecule with"):
        PoseRelaxation(fixed_atoms=(99,))(mol)


def test_pocket_atoms_are_walls(embed):
    """Pocket carbons placed 2.3 A out from each terminal ligand atom (PoseBusters' clash limit for
    C...C is 2.55 A): relaxed in the pocket, every ligand atom ends clear of them (the wall is at
    0.85 x the summed van der Waals radii; the restraint pulls back a little); relaxed alone, the
    clashes stay."""
    mol = embed(SMILES)
    pos = mol.GetConformer().GetPositions()
    centre = pos.mean(0)
    ends = [a.GetIdx() for a in mol.GetAtoms() if a.GetDegree() == 1]
    pocket = np.stack([pos[k] + 2.3 * (pos[k] - centre) / np.linalg.norm(pos[k] - centre) for k in ends])
    elements = ["C"] * len(ends)
    relax = PoseRelaxation(max_displacement=0.3)
    inside, _ = relax.in_pocket(pocket, elements)(mol)
    alone, _ = relax(mol)
    table = Chem.GetPeriodicTable()

    def closest(m):  # smallest distance / summed van der Waals radii
        p = m.GetConformer().GetPositions()
        r = np.array([table.GetRvdw(a.GetAtomicNum()) for a in m.GetAtoms()])
        d = np.linalg.norm(p[:, None] - pocket[None], axis=-1)
        return (d / (r[:, None] + table.GetRvdw("C"))).min()

    assert closest(alone) < 0.75 < 0.8 < closest(inside)
    # a pocket atom 3.6 A out (no clash) is a wall too: the relaxation does not draw the atom in
    near = np.stack([pos[k] + 3.6 * (pos[k] - centre) / np.linalg.norm(pos[k] - centre) for k in ends])
    held, _ = relax.in_pocket(near, elements)(_distorted(embed))
    start = np.linalg.norm(_distorted(embed).GetConformer().GetPositions()[ends] - near, axis=1)
    end = np.linalg.norm(held.GetConformer().GetPositions()[ends] - near, axis=1)
    assert (end > start - 0.02).all()
    free = np.linalg.norm(relax(_distorted(embed))[0].GetConformer().GetPositions()[ends] - near, axis=1)
    assert (free < start - 0.05).any()  # without the walls some of them do move in
    with pytest.raises(ValueError, match="4 pocket positions but 2 elements"):
        relax.in_pocket(pocket, elements[:2])
    with pytest.raises(ValueError, match=r"pocket elements \['Qq'\]: not element symbols"):
        relax.in_pocket(pocket, ["Qq"] * len(ends))


def test_a_failing_relaxation_keeps_the_generated_pose_and_says_why(embed):
    class Broken(PoseRelaxation):
        def __call__(self, mol):
            raise RuntimeError("no parameters today")

    g = graph_from_mol(_distorted(embed))
    rec, cols = LigandDecoder("predicted", relax=Broken())(g.pos, g.elements, g)
    assert rec.valid and np.allclose(rec.mol.GetConformer().GetPositions(), g.pos, atol=1e-5)
    assert cols == {"relax_force_field": "failed", "relax_rmsd": 0.0,
                    "relax_error": "RuntimeError: no parameters today"}


def test_van_der_waals_radii_read_any_case_and_refuse_or_default_unknown_symbols():
    from molgen.chem.vdw import vdw_radii

    np.testing.assert_allclose(vdw_radii(["C", "CL", "cl"]), [1.7, 1.8, 1.8])  # RDKit: C 1.7, Cl 1.8
    with pytest.raises(ValueError, match=r"\['Qq'\]: not element symbols"):
        vdw_radii(["C", "Qq"])
    np.testing.assert_allclose(vdw_radii(["Qq"], unknown=1.7), [1.7])
