"""molgen.evaluate: per-molecule table, bad molecules kept with their error, summary, report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from molgen.errors import MolgenInputError
from molgen.evaluate import evaluate, summarize, write_report

GSTP1 = "crossdocked_test/GSTP1_HUMAN_2_210_0"
LIGAND = "14gs_A_rec_20gs_cbd_lig_tt_min_0.sdf"


def _bad_molblock(embed) -> str:
    mol = Chem.RWMol(embed("CC(C)(C)C"))  # neopentane, then one bond too many on the centre
    mol.AddAtom(Chem.Atom(6))
    conf = mol.GetConformer()
    conf.SetAtomPosition(mol.GetNumAtoms() - 1, [0.0, 0.0, 3.0])
    mol.AddBond(1, mol.GetNumAtoms() - 1, Chem.BondType.SINGLE)
    return Chem.MolToMolBlock(mol, kekulize=False)


def test_properties_only_for_mols_without_receptor(embed) -> None:
    df = evaluate([embed("c1ccccc1"), embed("CCO")], n_jobs=1, progress=False)
    assert list(df["valid"]) == [True, True]
    assert df.loc[0, "qed"] == pytest.approx(0.4426, abs=1e-3) and df.loc[0, "sa"] == 1.0
    assert "vina_score" not in df and df["error"].isna().all()
    summary = summarize(df)
    assert summary.loc[0, "validity"] == 1.0 and summary.loc[0, "uniqueness"] == 1.0


def test_missing_input_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(MolgenInputError, match="absent.sdf"):
        evaluate(tmp_path / "absent.sdf", progress=False)


def test_pocket_run_in_parallel_with_a_broken_molecule(
    shared_data: Path, receptor_cache: Path, tmp_path: Path, embed
) -> None:
    good = Chem.MolToMolBlock(Chem.MolFromMolFile(str(shared_data / GSTP1 / LIGAND))) + "$$$$\n"
    sdf = tmp_path / "generated.sdf"
    sdf.write_text(good + _bad_molblock(embed) + "\n$$$$\n" + "garbage\n\n\nM  END\n$$$$\n" + good)
    df = evaluate(sdf, shared_data / GSTP1 / "14gs_A_rec.pdb", n_jobs=2, chunk_size=2,
                  vina_dock=False, cache_dir=receptor_cache, outdir=tmp_path / "eval",
                  progress=False)
    assert len(df) == 4 and list(df["index"]) == [0, 1, 2, 3]
    assert list(df["valid"]) == [True, False, False, True]
    assert "sanitize" in df.loc[1, "error"] and "parse" in df.loc[2, "error"]
    # published for this reference pose: Vina score -5.947, min -5.965, QED 0.432, SA 0.82
    assert df.loc[0, "vina_score"] == pytest.approx(-5.947, abs=0.05)
    assert df.loc[3, "vina_minimize"] == pytest.approx(-5.965, abs=0.05)
    assert df.loc[0, "qed"] == pytest.approx(0.4317, abs=1e-3) and df.loc[0, "sa"] == 0.82
    assert df.loc[0, "clashes"] == 0 and df.loc[0, "pb_valid"]
    assert df.loc[[0, 3], "error"].isna().all()
    summary = summarize(df, reference=df.iloc[[0]])
    assert summary.loc[0, "validity"] == 0.5 and summary.loc[0, "uniqueness"] == 0.5
    assert summary.loc[0, "pb_valid_rate"] == 1.0
    for name in ("molecules.csv", "summary.csv", "summary.md", "properties.png", "posebusters.png"):
        assert (tmp_path / "eval" / name).is_file()
    assert len(pd.read_csv(tmp_path / "eval" / "molecules.csv")) == 4


def test_high_affinity_against_reference_per_receptor(tmp_path: Path) -> None:
    df = pd.DataFrame({"receptor": ["a", "a", "b", "b"], "vina_dock": [-9.0, -6.0, -5.0, None],
                       "valid": True, "smiles": ["CCO", "CCN", "CCC", "CCCl"], "error": None})
    ref = pd.DataFrame({"receptor": ["a", "b"], "vina_dock": [-8.0, -4.0], "smiles": ["CCO", "C"]})
    summary = summarize(df, reference=ref)
    assert summary.loc[0, "high_affinity"] == pytest.approx(2 / 3)
    assert summary.loc[0, "vina_dock_mean"] == pytest.approx(-20 / 3)
    paths = write_report(df, tmp_path, reference=ref)
    assert "| high_affinity | 0.667 |" in paths["markdown"].read_text()
