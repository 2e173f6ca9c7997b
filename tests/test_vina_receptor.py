"""Vina receptor preparation with pdb2pqr (TargetDiff's protocol): AutoDock typing, errors, and
agreement with TargetDiff's published scores where the meeko preparation disagrees."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from molgen.chem.docking import prepare_receptor_pdbqt, receptor_pdbqt_from_protonated_pdb, vina_scores
from molgen.errors import MolgenInputError

HAS_PDB2PQR = importlib.util.find_spec("pdb2pqr") is not None
needs_pdb2pqr = pytest.mark.skipif(not HAS_PDB2PQR,
                                   reason="pdb2pqr is not installed (pip install pdb2pqr==3.6.1)")

# pdb2pqr 3.6.1 output (AMBER) for 3pdh (NPD_THEMA): His 80 protonated on ND1 only, Ser 13, the
# Zn pdb2pqr has no parameters for, and a water
PROTONATED = """\
ATOM   1119  N   HIS A  80       0.378  13.199   1.773  1.00 11.14      A    N
ATOM   1120  CA  HIS A  80      -0.967  13.428   2.381  1.00  9.90      A    C
ATOM   1121  C   HIS A  80      -1.996  12.512   1.745  1.00 10.83      A    C
ATOM   1122  O   HIS A  80      -2.828  11.887   2.441  1.00 11.31      A    O
ATOM   1123  CB  HIS A  80      -1.463  14.858   2.202  1.00 10.79      A    C
ATOM   1124  CG  HIS A  80      -0.569  15.934   2.751  1.00  9.17      A    C
ATOM   1125  ND1 HIS A  80      -0.491  16.210   4.109  1.00 10.99      A    N
ATOM   1126  CD2 HIS A  80       0.293  16.788   2.142  1.00 10.21      A    C
ATOM   1127  CE1 HIS A  80       0.372  17.187   4.308  1.00 12.37      A    C
ATOM   1128  NE2 HIS A  80       0.836  17.578   3.130  1.00  9.00      A    N
ATOM   1129  H   HIS A  80       0.919  13.926   1.311  1.00  0.00      A    H
ATOM   1130  HA  HIS A  80      -0.897  13.213   3.357  1.00  0.00      A    H
ATOM   1131  HB2 HIS A  80      -1.597  15.040   1.212  1.00  0.00      A    H
ATOM   1132  HB3 HIS A  80      -2.370  14.951   2.648  1.00  0.00      A    H
ATOM   1133  HD1 HIS A  80      -1.011  15.737   4.818  1.00  0.00      A    H
ATOM   1134  HD2 HIS A  80       0.493  16.836   1.171  1.00  0.00      A    H
ATOM   1135  HE1 HIS A  80       0.633  17.569   5.189  1.00  0.00      A    H
ATOM    214  N   SER A  13      -0.063  -4.864  11.218  1.00 20.58      A    N
ATOM    215  CA  SER A  13      -0.467  -4.102  12.395  1.00 19.56      A    C
ATOM    216  C   SER A  13      -1.987  -4.119  12.610  1.00 20.74      A    C
ATOM    217  O   SER A  13      -2.765  -3.889  11.688  1.00 21.34      A    O
ATOM    218  CB  SER A  13       0.011  -2.654  12.263  1.00 19.11      A    C
ATOM    219  OG  SER A  13      -0.527  -1.867  13.303  1.00 16.13      A    O
ATOM    220  H   SER A  13       0.217  -4.421  10.320  1.00  0.00      A    H
ATOM    221  HA  SER A  13      -0.040  -4.527  13.207  1.00  0.00      A    H
ATOM    222  HB2 SER A  13       1.002  -2.639  12.319  1.00  0.00      A    H
ATOM    223  HB3 SER A  13      -0.296  -2.296  11.389  1.00  0.00      A    H
ATOM    224  HG  SER A  13      -0.544  -2.397  14.151  1.00  0.00      A    H
HETATM 3751  ZN  ZN  A1001     -15.675  39.809  20.979  1.00 20.72      A   ZN
HETATM 3752  O   HOH A1002      10.000  10.000  10.000  1.00 20.00      A    O
"""


def _types(pdbqt: str) -> dict[tuple[str, str], str]:
    return {(line[17:20].strip(), line[12:16].strip()): line[77:79].strip()
            for line in pdbqt.splitlines() if line.startswith(("ATOM", "HETATM"))}


def test_ad4_typing_of_a_protonated_receptor() -> None:
    types = _types(receptor_pdbqt_from_protonated_pdb(PROTONATED))
    his = {name: t for (res, name), t in types.items() if res == "HIS"}
    ser = {name: t for (res, name), t in types.items() if res == "SER"}
    # histidine: the protonated ring N is a donor (N + HD), the other an acceptor (NA)
    assert his["ND1"] == "N" and his["HD1"] == "HD" and his["NE2"] == "NA"
    assert {his[n] for n in ("CG", "CD2", "CE1")} == {"A"} and {his[n] for n in ("CA", "CB", "C")} == {"C"}
    assert his["O"] == "OA" and his["H"] == "HD"
    # non-polar hydrogens are merged away, polar ones kept
    assert not {"HA", "HB2", "HB3", "HD2", "HE1"} & set(his) and not {"HA", "HB2", "HB3"} & set(ser)
    assert ser["OG"] == "OA" and ser["HG"] == "HD"
    # waters always dropped, ions only kept on request (with Vina's type name)
    assert ("HOH", "O") not in types and ("ZN", "ZN") not in types
    assert _types(receptor_pdbqt_from_protonated_pdb(PROTONATED, keep_ions=True))[("ZN", "ZN")] == "Zn"


def test_pdbqt_lines_are_what_vina_reads() -> None:
    pdbqt = receptor_pdbqt_from_protonated_pdb(PROTONATED)
    line = next(x for x in pdbqt.splitlines() if x[12:16].strip() == "NE2")
    assert line[:54] == PROTONATED.splitlines()[9][:54]  # coordinates untouched
    assert line[77:79] == "NA" and float(line[70:76]) == 0.0


def test_unknown_protocol_is_rejected(tmp_path: Path) -> None:
    pdb = tmp_path / "rec.pdb"
    pdb.write_text(PROTONATED)
    with pytest.raises(MolgenInputError, match="receptor_prep='obabel'"):
        prepare_receptor_pdbqt(pdb, cache_dir=tmp_path, protocol="obabel")


def test_missing_pdb2pqr_names_the_receptor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdb = tmp_path / "my_receptor.pdb"
    pdb.write_text(PROTONATED)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pdb2pqr" else real(name, *a))
    with pytest.raises(MolgenInputError, match=r"my_receptor\.pdb: .*pdb2pqr"):
        prepare_receptor_pdbqt(pdb, cache_dir=tmp_path, protocol="pdb2pqr")


@pytest.mark.parametrize("key", ["receptor_prep", "ligand_prep"])
def test_evaluate_rejects_an_unknown_vina_preparation(key: str) -> None:
    from rdkit.Chem import AllChem

    from molgen.evaluate import evaluate

    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    with pytest.raises(MolgenInputError, match=f"{key}='obabel'"):
        evaluate(mol, progress=False, **{key: "obabel"})


def _complex(shared_data: Path, ligand: str) -> tuple[Chem.Mol, Path, pd.Series]:
    folder, name = ligand.split("/")
    table = pd.read_csv(shared_data / "reference" / "crossdocked_test_reference.csv")
    mol = Chem.MolFromMolFile(str(shared_data / "crossdocked_test" / ligand))
    return mol, shared_data / "crossdocked_test" / folder / f"{name[:10]}.pdb", table.set_index(
        "ligand_filename").loc[ligand]


@needs_pdb2pqr
@pytest.mark.parametrize(
    ("ligand", "tolerance"),
    [
        # published +7.25 / -4.535; meeko: -7.916 / -7.887 (pdb2pqr rebuilds truncated side
        # chains into the ligand's place); pdb2pqr measured +7.250 / -4.535
        ("NPD_THEMA_1_246_0/3pdh_A_rec_4buz_ocz_lig_tt_min_0.sdf", 0.05),
        # published -2.222 / -8.384; meeko: -7.711 / -7.691; pdb2pqr measured -2.222 / -8.384
        ("UPPS_ECOLI_1_253_0/4h3c_A_rec_5cqj_53q_lig_tt_docked_2.sdf", 0.05),
        # fumaric acid, published -3.237 / -3.325: the legacy ligand preparation (acid OH oxygen
        # not an acceptor) gives -3.237 / -3.325; meeko 0.8's -4.653 (score)
        ("PYRD_TRYCC_2_314_catalytic_0/2e6d_A_rec_2e6d_fum_lig_tt_min_0.sdf", 0.05),
        # urea-guanidine, published -4.115 / -4.274: legacy rotatable bonds (4 torsions) give
        # -4.115 (score); meeko 0.8 freezes all four (-5.078)
        ("CHIB1_ASPFM_39_433_0/3chc_B_rec_3ch9_xrg_lig_tt_min_0.sdf", 0.05),
        # p-nitrophenyl glycoside, published -5.326 / -5.290: meeko 0.1 typed only the first nitro O
        # as O (-5.326 / -5.290); both O as O gave -5.130
        ("CONA_CANCT_1_237_0/1jn2_P_rec_1val_png_lig_tt_docked_11.sdf", 0.05),
    ],
)
def test_targetdiff_protocol_reproduces_published_vina(
    shared_data: Path, tmp_path: Path, ligand: str, tolerance: float
) -> None:
    mol, receptor, ref = _complex(shared_data, ligand)
    pdbqt = prepare_receptor_pdbqt(receptor, cache_dir=tmp_path, protocol="pdb2pqr")
    assert "pdb2pqr" in pdbqt.name
    got = vina_scores(mol, pdbqt, modes=("score_only", "minimize"))
    assert got["vina_score"] == pytest.approx(ref["vina_score"], abs=tolerance)
    assert got["vina_minimize"] == pytest.approx(ref["vina_min"], abs=tolerance)
