"""CrossDocked benchmark: the table from hand-made rows, and the whole path on one tiny pocket."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgen.bench import crossdocked
from molgen.bench.crossdocked import PUBLISHED, benchmark_table, table_markdown
from molgen.benchmarking import benchmark_config
from molgen.errors import MolgenInputError

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo" / "SIR3_HUMAN_117_398_0"
LIGAND = "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"


def test_table_from_hand_made_rows() -> None:
    molecules = pd.DataFrame({
        "pocket": ["a", "a", "a", "b", "b"],
        "valid": [True, True, False, True, True],
        "connected": [True, False, False, True, True],
        "smiles": ["CCO", "c1ccccc1", None, "CCN", "CCN"],
        "vina_score": [-5.0, -7.0, np.nan, -6.0, -4.0],
        "vina_minimize": [-5.5, -7.5, np.nan, -6.5, -4.5],
        "vina_dock": [-8.0, -6.0, np.nan, -9.0, -7.0],
        "qed": [0.4, 0.5, np.nan, 0.6, 0.6], "sa": [0.7, 0.8, np.nan, 0.9, 0.9],
        "pb_valid": [True, False, None, True, True],
        "sample_seconds": [1.0, 1.0, 1.0, 2.0, 2.0],
    })
    reference = pd.DataFrame({"ligand_filename": ["a", "b", "c"], "vina_score": [-6.0, -7.0, -100.0],
                              "vina_min": [-6.5, -7.5, -100.0], "vina_dock": [-7.0, -8.0, -100.0],
                              "qed": [0.5, 0.3, 0.0], "sa": [0.8, 0.6, 0.0]})
    table = benchmark_table(molecules, reference)
    ours, ref = table.iloc[0], table.iloc[1]
    assert ours["vina_score_mean"] == pytest.approx(-5.5) and ours["vina_score_median"] == -5.5
    assert ours["vina_min_mean"] == pytest.approx(-6.0) and ours["vina_dock_median"] == pytest.approx(-7.5)
    assert ours["high_affinity_mean"] == pytest.approx(0.5)  # a: 1 of 2 <= -7; b: 1 of 2 <= -8
    assert ours["diversity_mean"] == pytest.approx(ours["diversity_median"])  # b: one SMILES twice
    assert ours["validity"] == pytest.approx(0.8) and ours["connectivity"] == pytest.approx(0.6)
    assert ours["pb_valid"] == pytest.approx(0.6) and ours["seconds_per_pocket"] == pytest.approx(3.5)
    # pocket c has no generated molecules: its reference ligand stays out of the Reference row
    assert ref["vina_dock_mean"] == pytest.approx(-7.5) and ref["qed_median"] == pytest.approx(0.4)
    assert np.isnan(ref["high_affinity_mean"]) and len(table) == 2 + len(PUBLISHED)
    text = table_markdown(table)
    assert "| -5.50 / -5.50 |" in text and "| 50.0% / 50.0% |" in text and "80.0%" in text
    assert "| DiffSBDD (Schneuing et al. 2024) | - / - |" in text


def test_reference_row_matches_targetdiff_published_reference(shared_data: Path) -> None:
    """The CSV's 100 ligands give TargetDiff's Reference row (its notebook's printed output)."""
    reference = pd.read_csv(shared_data / "reference" / "crossdocked_test_reference.csv")
    molecules = pd.DataFrame({"pocket": reference["ligand_filename"], "valid": False, "connected": False})
    ref = benchmark_table(molecules, reference).iloc[1]
    expected = {"vina_score": (-6.36, -6.46), "vina_min": (-6.71, -6.49), "vina_dock": (-7.4501, -7.2630),
                "qed": (0.4760, 0.4676), "sa": (0.7277, 0.7400)}
    for key, (mean, median) in expected.items():
        assert ref[f"{key}_mean"] == pytest.approx(mean, abs=0.006), key
        assert ref[f"{key}_median"] == pytest.approx(median, abs=0.006), key


@pytest.fixture
def tiny_crossdocked(tmp_path: Path) -> tuple[Path, Path]:
    """The demo complex in the CrossDocked layout, and a reference CSV for it."""
    root = tmp_path / "crossdocked_test"
    (root / "SIR3").mkdir(parents=True)
    for name in (LIGAND, "5d7n_D_rec.pdb", LIGAND.replace(".sdf", "_pocket10.pdb")):
        shutil.copy(DEMO / name, root / "SIR3" / name)
    (root / "ligand_filenames.txt").write_text(f"SIR3/{LIGAND}\n")
    ref = tmp_path / "reference.csv"
    ref.write_text("ligand_filename,smiles,vina_score,vina_min,vina_dock,qed,sa\n"
                   f"SIR3/{LIGAND},C,-6.0,-6.5,-7.0,0.5,0.7\n")
    return root, ref


def test_one_tiny_pocket_end_to_end_and_resume(tiny_crossdocked, tmp_path: Path, monkeypatch) -> None:
    root, ref = tiny_crossdocked
    overrides = [f"root={root}", f"reference={ref}", f"outdir={tmp_path / 'out'}", "n_pockets=1",
                 "n_samples=2", "batch_size=2", "steps=5", "eval.vina_dock=false", "eval.posebusters=false",
                 "eval.strain=false"]
    cfg = benchmark_config("crossdocked", quick=True, overrides=overrides)
    result = crossdocked.run(cfg)
    mols = result.molecules
    assert len(mols) == 2 and set(mols["pocket"]) == {f"SIR3/{LIGAND}"}
    assert {"valid", "connected", "sample_seconds"} <= set(mols.columns)
    if mols["valid"].any():
        assert mols.loc[mols["valid"], "vina_score"].notna().all()
    for name in ("molecules.csv", "summary.csv", "summary.md", "settings.yaml"):
        assert (result.outdir / name).is_file()
    assert "molgen (this run, 1 pockets)" in result.markdown and "Reference ligands (1," in result.markdown
    # resumed: the finished pocket is read back, nothing is sampled again
    monkeypatch.setattr(crossdocked, "_run_pocket", lambda *a, **k: pytest.fail("pocket redone"))
    again = crossdocked.run(cfg)
    assert again.markdown.splitlines()[2:] == result.markdown.splitlines()[2:]
    crossdocked.run(benchmark_config("crossdocked", quick=True, overrides=overrides + ["eval.n_jobs=2"]))
    # docking added by a later run: the finished pocket is docked, not sampled again
    docked = crossdocked.run(benchmark_config("crossdocked", quick=True,
                                              overrides=overrides + ["eval.vina_dock=true"])).molecules
    assert "docked" in docked and docked["docked"].sum() == min(5, int(docked["valid"].sum()))
    assert docked.loc[docked["docked"].astype(bool), "vina_dock"].lt(0).all()
    kept = pd.read_csv(result.outdir / "pockets" / "000_SIR3" / "molecules.csv")
    assert kept["docked"].sum() == docked["docked"].sum()  # written back: a further run docks nothing
    with pytest.raises(MolgenInputError, match="other settings"):
        crossdocked.run(benchmark_config("crossdocked", quick=True, overrides=overrides + ["n_samples=3"]))


def test_script_skips_without_data(benchmark_script, tmp_path: Path, capsys) -> None:
    script = benchmark_script("crossdocked")
    assert script.main(["--quick", f"root={tmp_path / 'absent'}"]) == 0
    assert "skipped" in capsys.readouterr().out


@pytest.fixture
def tiny_manifest(tmp_path: Path) -> Path:
    """A leakage manifest of four one-pose FEP-style complexes, each the demo receptor and ligand."""
    from molgen.data.leakage import MANIFEST_COLUMNS

    shutil.copy(DEMO / "5d7n_D_rec.pdb", tmp_path / "rec.pdb")
    shutil.copy(DEMO / LIGAND, tmp_path / "lig.sdf")
    rows = [{"source": "fep", "complex": f"set/sys{k}", "pose": f"p{k}", "protein": "rec.pdb",
             "ligand": "lig.sdf", "ligand_ref": "0", "max_identity": "0.1", "query_chain": "A",
             "test_chain": "X", "pb_failed": "", "kept": "True", "reason": ""} for k in range(4)]
    path = tmp_path / "manifest.csv"
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(path, index=False)
    return path


def test_training_complexes_come_from_the_training_split(tiny_manifest: Path, tmp_path: Path) -> None:
    from rdkit import Chem

    from molgen.data.datamodule import split_by_group

    got = crossdocked.training_complexes(tiny_manifest, tmp_path, tmp_path / "work", n=2, val_fraction=0.25)
    groups = [f"set/sys{k}" for k in range(4)]
    _, val, _ = split_by_group(groups, 0.25, 0.0, 0)
    held_out = {groups[i] for i in val}
    assert len(got) == 2 and [c.index for c in got] == [0, 1]
    assert not {c.key.split(":")[0] for c in got} & held_out
    for cx in got:
        lines = cx.receptor.read_text().splitlines()
        assert lines[-1] == "END" and all(ln.startswith("ATOM") for ln in lines[:-1])
        mol = Chem.MolFromMolFile(str(cx.ligand))
        assert mol is not None and mol.GetNumAtoms() == Chem.MolFromMolFile(str(DEMO / LIGAND)).GetNumAtoms()
    again = crossdocked.training_complexes(tiny_manifest, tmp_path, tmp_path / "work", n=2, val_fraction=0.25)
    assert [c.key for c in again] == [c.key for c in got]
    with pytest.raises(MolgenInputError, match="fewer than n=4"):
        crossdocked.training_complexes(tiny_manifest, tmp_path, tmp_path / "w2", n=4, val_fraction=0.25)


def test_training_complexes_run_without_published_rows(tiny_manifest: Path, tmp_path: Path) -> None:
    overrides = [f"training.manifest={tiny_manifest}", f"training.root={tmp_path}", "training.val_fraction=0.25",
                 "complexes=training", f"outdir={tmp_path / 'out'}", "n_pockets=1", "n_samples=2",
                 "batch_size=2", "steps=3", "eval.vina=false", "eval.posebusters=false", "eval.strain=false"]
    result = crossdocked.run(benchmark_config("crossdocked", quick=True, overrides=overrides))
    assert result.markdown.startswith("Training complexes") and len(result.molecules) == 2
    assert "TargetDiff" not in result.markdown and "Reference ligands" not in result.markdown
    with pytest.raises(MolgenInputError, match="complexes=other"):
        crossdocked.run(benchmark_config("crossdocked", quick=True,
                                         overrides=[*overrides, "complexes=other", f"outdir={tmp_path / 'o2'}"]))


def test_shards_split_the_pockets_and_a_last_run_gathers_them(tiny_manifest: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    """shard=1/2 runs the second of two complexes only; the run without shard keeps it and does the
    first; a malformed shard is refused."""
    overrides = [f"training.manifest={tiny_manifest}", f"training.root={tmp_path}", "training.val_fraction=0.25",
                 "complexes=training", f"outdir={tmp_path / 'out'}", "n_pockets=2", "n_samples=1",
                 "batch_size=1", "steps=2", "eval.vina=false", "eval.posebusters=false", "eval.strain=false"]
    done = []
    run_pocket = crossdocked._run_pocket
    monkeypatch.setattr(crossdocked, "_run_pocket", lambda task, s, cx, *a: done.append(cx.index) or
                        run_pocket(task, s, cx, *a))
    part = crossdocked.run(benchmark_config("crossdocked", quick=True, overrides=[*overrides, "shard=1/2"]))
    assert done == [1] and part.molecules["pocket"].nunique() == 1
    whole = crossdocked.run(benchmark_config("crossdocked", quick=True, overrides=overrides))
    assert done == [1, 0] and whole.molecules["pocket"].nunique() == 2
    with pytest.raises(MolgenInputError, match="shard=2/2: need 0 <= i < n"):
        crossdocked.run(benchmark_config("crossdocked", quick=True, overrides=[*overrides, "shard=2/2"]))
    with pytest.raises(MolgenInputError, match="write it as i/n"):
        crossdocked.run(benchmark_config("crossdocked", quick=True, overrides=[*overrides, "shard=half"]))


def test_vina_dock_goes_to_a_seeded_few_valid_ligands_per_pocket(tmp_path: Path) -> None:
    """eval.vina_dock_per_pocket=1 of two valid samples docks one, the same one on every run, and
    never an invalid sample; a larger number docks every valid one."""
    from omegaconf import OmegaConf
    from rdkit import Chem

    mol = Chem.MolFromMolFile(str(DEMO / LIGAND))
    sdf = tmp_path / "ligands.sdf"
    with Chem.SDWriter(str(sdf)) as w:
        for sample in (0, 2):
            mol.SetProp("sample", str(sample))
            w.write(mol)
    table = pd.DataFrame({"sample": [0, 1, 2], "valid": [True, False, True], "eval_error": [None] * 3})
    cx = crossdocked.Complex(index=7, key=f"SIR3/{LIGAND}", target="SIR3", receptor=DEMO / "5d7n_D_rec.pdb",
                             ligand=DEMO / LIGAND, pocket10=DEMO / LIGAND)
    cfg = OmegaConf.create({"seed": 0, "eval": {"vina_dock_per_pocket": 1, "exhaustiveness": 1, "n_jobs": 1,
                                                "receptor_prep": "pdb2pqr", "ligand_prep": "legacy"}})
    one = crossdocked._dock_some(table, sdf, cx, cfg)
    assert one["docked"].sum() == 1 and not one.loc[1, "docked"]
    assert one.loc[one["docked"], "vina_dock"].lt(0).all() and one.loc[~one["docked"], "vina_dock"].isna().all()
    again = crossdocked._dock_some(table, sdf, cx, cfg)
    assert again["docked"].tolist() == one["docked"].tolist()
    cfg.eval.vina_dock_per_pocket = 5
    every = crossdocked._dock_some(table, sdf, cx, cfg)
    assert every["docked"].tolist() == [True, False, True] and every.loc[[0, 2], "vina_dock"].notna().all()
