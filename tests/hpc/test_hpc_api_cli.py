"""The Python API and the CLI give the same ligands for the same checkpoint, pocket and seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rdkit import Chem

import molgen


def test_sample_ligands_matches_molgen_sample(molgen_cli, tiny_checkpoint, demo_pocket_files, tmp_path):
    receptor, ref_ligand = demo_pocket_files
    settings = {"n_samples": 3, "steps": 3, "n_atoms": 5, "seed": 3, "batch_size": 2, "cutoff": 6.0}
    molgen_cli("sample", f"ckpt={tiny_checkpoint}", f"receptor={receptor}", f"ref_ligand={ref_ligand}",
               *(f"{k}={v}" for k, v in settings.items()), f"outdir={tmp_path / 'cli'}", "threads=1", cwd=tmp_path)
    cli_table = pd.read_csv(tmp_path / "cli" / "samples.csv", keep_default_na=False)
    cli_mols = [m for m in Chem.SDMolSupplier(str(tmp_path / "cli" / "ligands.sdf")) if m is not None]

    model = molgen.load_model(tiny_checkpoint)
    mols, table = molgen.sample_ligands(model, receptor=receptor, ref_ligand=ref_ligand, return_table=True,
                                        outdir=tmp_path / "api", **settings)
    assert len(table) == len(cli_table) == 3
    assert list(table["smiles"].fillna("")) == list(cli_table["smiles"])
    assert list(table["valid"].astype(bool)) == list(cli_table["valid"].astype(bool))
    assert [Chem.MolToSmiles(m) for m in mols] == [Chem.MolToSmiles(m) for m in cli_mols]
    for api_mol, cli_mol in zip(mols, cli_mols):
        np.testing.assert_allclose(api_mol.GetConformer().GetPositions(), cli_mol.GetConformer().GetPositions(),
                                   atol=1e-4)


def test_sample_ligands_with_no_valid_sample_returns_no_molecules(tiny_checkpoint, demo_pocket_files, tmp_path,
                                                                   monkeypatch):
    """Every sample failing to decode leaves an empty ligands.sdf: the API returns [] and the table."""
    import molgen.sampling as sampling

    decode = sampling._decode_batch
    monkeypatch.setattr(sampling, "_decode_batch",
                        lambda *a, **k: ([], [{**r, "valid": False} for r in decode(*a, **k)[1]]))
    receptor, ref_ligand = demo_pocket_files
    mols, table = molgen.sample_ligands(molgen.load_model(tiny_checkpoint), receptor=receptor, ref_ligand=ref_ligand,
                                        n_samples=2, steps=2, n_atoms=5, return_table=True, outdir=tmp_path)
    assert mols == [] and len(table) == 2 and (tmp_path / "ligands.sdf").stat().st_size == 0
