"""Score and rank sampled ligands (``molgen sample ... score=vina``): order, SD properties, top_k,
one ligand's failure recorded, a resumed run that does not score again, config checks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Geometry import Point3D

from molgen.errors import MolgenInputError
from molgen.io.sdf import read_ligands, write_sdf
from molgen.io.tables import write_csv_atomic
from molgen.scoring import ScoreSettings, check_scoring_tools, rank_ligands, score_and_rank, top_table

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "SIR3_HUMAN_117_398_0"
RECEPTOR = DEMO / "5d7n_D_rec.pdb"
LIGAND = DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"


def _shifted(mol: Chem.Mol, dx: float) -> Chem.Mol:
    out = Chem.Mol(mol)
    conf = out.GetConformer()
    for i in range(out.GetNumAtoms()):
        p = conf.GetAtomPosition(i)
        conf.SetAtomPosition(i, Point3D(p.x + dx, p.y, p.z))
    return out


def _sampled_run(outdir: Path) -> None:
    """A finished sampling run of 4 samples in one batch: 0 the reference ligand, 1 the same moved
    1.5 A (a worse pose), 2 valid but two fragments, 3 invalid (no molecule written)."""
    ref = read_ligands(LIGAND)[0]
    two = Chem.CombineMols(ref, _shifted(Chem.MolFromMolBlock(Chem.MolToMolBlock(ref)), 30.0))
    mols = [ref, _shifted(ref, 1.5), two]
    rows = [{"sample": k, "n_atoms": m.GetNumAtoms(), "finite": True, "valid": True, "connected": k != 2,
             "smiles": Chem.MolToSmiles(m), "qed": 0.5 + 0.1 * k, "sa": 0.7, "error": ""}
            for k, m in enumerate(mols)]
    rows.append({"sample": 3, "n_atoms": 9, "finite": True, "valid": False, "connected": False, "smiles": "",
                 "qed": np.nan, "sa": np.nan, "error": "sanitize: kekulize"})
    props = [{k: r[k] for k in ("sample", "valid", "connected", "smiles", "qed", "sa")} for r in rows[:3]]
    write_sdf(mols, outdir / "batches" / "batch_0000.sdf", props=props)
    write_csv_atomic(pd.DataFrame(rows), outdir / "batches" / "batch_0000.csv")
    write_sdf(mols, outdir / "ligands.sdf", props=props)
    write_csv_atomic(pd.DataFrame(rows), outdir / "samples.csv")


@pytest.fixture
def fake_evaluate(monkeypatch):
    """Stand-in for molgen.evaluate.evaluate: Vina minimize = -x of the first atom, an error for the
    molecule whose sample is in ``fail``; records the samples it was asked to score."""
    calls: list[list[int]] = []
    fail: set[int] = set()

    def evaluate(mols, receptor, **kwargs):
        samples = [int(m.GetProp("sample")) for m in mols]
        calls.append(samples)
        rows = []
        for s, m in zip(samples, mols):
            x = m.GetConformer().GetAtomPosition(0).x
            rows.append({"vina_score": np.nan if s in fail else -x / 10, "vina_minimize": np.nan if s in fail
                         else -x / 10 - 1, "pb_valid": s not in fail,
                         "error": "vina: RuntimeError: boom" if s in fail else None})
        return pd.DataFrame(rows)

    monkeypatch.setattr("molgen.evaluate.evaluate", evaluate)
    return calls, fail


def test_ranked_best_first_with_scores_as_sd_properties(tmp_path, fake_evaluate):
    calls, _ = fake_evaluate
    _sampled_run(tmp_path)
    table, _, n_new = score_and_rank(tmp_path, 1, ScoreSettings(receptor=RECEPTOR), progress=False)
    assert n_new == 2
    assert calls == [[0, 1]]  # valid and connected only
    assert list(table["sample"]) == [1, 0, 2, 3] and list(table["rank"][:2]) == [1, 2]
    assert table["rank"][2:].isna().all() and list(table["scored"]) == [True, True, False, False]
    mols = Chem.SDMolSupplier(str(tmp_path / "ligands.sdf"))
    assert [int(m.GetProp("sample")) for m in mols] == [1, 0, 2]  # unscored ligands last
    first = next(iter(Chem.SDMolSupplier(str(tmp_path / "ligands.sdf"))))
    assert {"rank", "vina_score", "vina_minimize", "pb_valid", "qed", "sa", "smiles"} <= set(first.GetPropNames())
    assert first.GetProp("rank") == "1" and first.GetProp("pb_valid") == "True"
    saved = pd.read_csv(tmp_path / "samples.csv")
    assert list(saved["sample"]) == [1, 0, 2, 3] and "vina_minimize" in saved
    by_qed = rank_ligands(tmp_path, 1, ScoreSettings(receptor=RECEPTOR, rank_by="qed"))
    assert list(by_qed["sample"][:2]) == [1, 0]  # higher QED first
    assert "| 1 | 1 |" in top_table(by_qed)


def test_one_failure_is_recorded_and_resume_does_not_score_again(tmp_path, fake_evaluate):
    calls, fail = fake_evaluate
    fail.add(0)
    _sampled_run(tmp_path)
    settings = ScoreSettings(receptor=RECEPTOR, top_k=1)
    table, _, _ = score_and_rank(tmp_path, 1, settings, progress=False)
    row = table.set_index("sample").loc[0]
    assert row["score_error"] == "vina: RuntimeError: boom" and pd.isna(row["rank"])
    assert table.set_index("sample").loc[1, "rank"] == 1
    assert [int(m.GetProp("sample")) for m in Chem.SDMolSupplier(str(tmp_path / "ligands.sdf"))] == [1]
    assert len(pd.read_csv(tmp_path / "samples.csv")) == 4  # top_k trims ligands.sdf only
    assert score_and_rank(tmp_path, 1, settings, progress=False)[2] == 0
    assert len(calls) == 1  # resumed: the batch's scores are kept
    sdf = tmp_path / "batches" / "batch_0000.sdf"
    later = (tmp_path / "batches" / "scores_0000.csv").stat().st_mtime_ns + 10**9
    os.utime(sdf, ns=(later, later))  # the batch was sampled again after it was scored
    score_and_rank(tmp_path, 1, settings, progress=False)
    assert len(calls) == 2


def test_settings_and_tools_are_checked_before_sampling():
    with pytest.raises(MolgenInputError, match="rank_by"):
        ScoreSettings(receptor=RECEPTOR, rank_by="vina_dock")
    with pytest.raises(MolgenInputError, match="top_k"):
        ScoreSettings(receptor=RECEPTOR, top_k=0)
    with pytest.raises(MolgenInputError, match="score=gnina"):
        check_scoring_tools("gnina")


def test_sample_config_checks_the_ranking_keys():
    from molgen.commands.validate import validate_sample_config
    from molgen.config import compose

    with pytest.raises(MolgenInputError) as exc:
        validate_sample_config(compose("sample", ["score=gnina", "rank_by=size", "top_k=0", "n_jobs=0"]))
    for key in ("score=gnina", "rank_by=size", "top_k=0", "n_jobs=0"):
        assert key in str(exc.value)
    with pytest.raises(MolgenInputError, match="task=ligand_pocket"):
        validate_sample_config(compose("sample", ["task=backbone", "score=vina"]))


def test_real_vina_and_posebusters_rank_the_reference_pose_first(tmp_path):
    pytest.importorskip("vina")
    check_scoring_tools("vina")
    _sampled_run(tmp_path)
    settings = ScoreSettings(receptor=RECEPTOR, n_jobs=1, cache_dir=tmp_path / "receptors")
    table, seconds, _ = score_and_rank(tmp_path, 1, settings, progress=False)
    ranked = table[table["rank"].notna()]
    assert list(ranked["sample"]) == [0, 1]  # the crystal-like pose beats the one moved 1.5 A
    assert (ranked["vina_minimize"] < 0).all() and (ranked["score_error"] == "").all()
    assert ranked["pb_valid"].notna().all() and seconds > 0


def test_molgen_sample_score_ranks_and_summarises(tmp_path, fake_evaluate):
    from molgen.cli import main
    from molgen.testing import write_untrained_checkpoint

    ckpt = write_untrained_checkpoint(tmp_path / "tiny.pt", ["model=egnn_small", "model.hidden=16",
                                                            "model.n_layers=2", "task.module.ema_decay=0"])
    out = tmp_path / "out"
    main(["sample", f"ckpt={ckpt}", "n_samples=6", "steps=3", "n_atoms=4", "largest_fragment=true", "threads=1",
          "score=vina", "top_k=2", f"outdir={out}"])
    table = pd.read_csv(out / "samples.csv")
    assert len(table) == 6 and {"rank", "vina_minimize", "pb_valid", "score_error", "scored"} <= set(table)
    summary = (out / "summary.md").read_text()
    assert "scored (valid, one fragment)" in summary and "Best five by vina_minimize" in summary
    ranked = table[table["rank"].notna()]
    assert list(ranked["rank"]) == list(range(1, len(ranked) + 1))
    assert list(ranked["vina_minimize"]) == sorted(ranked["vina_minimize"])
    n_sdf = len(Chem.SDMolSupplier(str(out / "ligands.sdf"))) if (out / "ligands.sdf").stat().st_size else 0
    assert n_sdf == min(2, len(ranked))


def test_python_api_returns_the_same_ranked_table(tmp_path, fake_evaluate):
    import molgen
    from molgen.testing import write_untrained_checkpoint

    ckpt = write_untrained_checkpoint(tmp_path / "tiny.pt", ["model=egnn_small", "model.hidden=16",
                                                            "model.n_layers=2", "task.module.ema_decay=0"])
    mols, table = molgen.sample_ligands(molgen.load_model(ckpt), n_samples=5, steps=3, n_atoms=4,
                                        largest_fragment=True, score="vina", top_k=2, return_table=True,
                                        outdir=tmp_path / "out")
    saved = pd.read_csv(tmp_path / "out" / "samples.csv")
    assert list(table["sample"]) == list(saved["sample"]) and "rank" in table
    ranked = table[table["rank"].notna()]
    assert [int(m.GetProp("sample")) for m in mols] == list(ranked["sample"][:2])
