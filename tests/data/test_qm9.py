"""QM9Dataset: sources (xyz.gz, folder of QM9 files, SDF), splits, cache, histogram, SMILES."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

import molgen.data.datasets.qm9 as qm9_module
from molgen.data.datasets.qm9 import QM9Dataset, cache_qm9, qm9_split_indices
from molgen.errors import MolgenInputError

QM9_FILE_1 = (
    "5\ngdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t0.044749"
    "\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t\n"
    "C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689\n"
    "H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921\n"
    "H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922\n"
    "H\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923\n"
    "H\t-0.5238136345\t 1.4379326443\t 0.9063972942\t 0.133923\n"
    "1341.307\t1341.3284\t1341.365\t1562.6731\t1562.7453\t3038.3205\t3151.6034\t3151.6788\t3151.7078\n"
    "C\tC\t\nInChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4\n"
)
QM9_FILE_3 = (
    "3\ngdb 3\t799.58812\t437.90386\t282.94545\t1.8511\t6.31\t-0.2928\t0.0687\t0.3615\t19.0002\t0.021375"
    "\t-76.404702\t-76.401867\t-76.400922\t-76.422349\t6.002\t\n"
    "O\t-0.0343604951\t 0.9775395708\t 0.0076015923\t-0.589706\n"
    "H\t 0.0647664923\t 0.0205721989\t 0.0015346341\t 0.294853\n"
    "H\t 0.8717903737\t 1.3007924048\t 0.0006931336\t 0.294853\n"
    "1590.9452\t3838.6873\t3931.9064\nO\tO\t\nInChI=1S/H2O/h1H2\tInChI=1S/H2O/h1H2\n"
)


@pytest.fixture(scope="module")
def qm9_gz(shared_data: Path) -> Path:
    path = shared_data / "qm9" / "qm9_hcno.xyz.gz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def test_split_indices_sizes_disjoint_deterministic():
    s = qm9_split_indices(128_744)
    assert [len(s[k]) for k in ("train", "val", "test")] == [100_000, 8_000, 20_744]
    allidx = np.concatenate(list(s.values()))
    assert len(np.unique(allidx)) == 128_744
    assert all(np.all(np.diff(v) > 0) for v in s.values())  # sorted, source order
    perm = np.random.RandomState(0).permutation(128_744)
    np.testing.assert_array_equal(s["val"], np.sort(perm[100_000:108_000]))
    with pytest.raises(MolgenInputError, match="split_sizes"):
        qm9_split_indices(1_000)


def test_shared_file_items_splits_and_cache(qm9_gz: Path, tmp_path: Path, monkeypatch):
    kw = {"max_molecules": 3000, "split_sizes": (2000, 300), "cache_dir": tmp_path}
    t0 = time.perf_counter()
    train = QM9Dataset(qm9_gz, "train", **kw)
    first = time.perf_counter() - t0
    assert len(train) == 2000
    item = train[0]
    assert item.pos.dtype == torch.float32 and item.pos.shape[1] == 3
    assert item.atom_types.dtype == torch.long and item.atom_types.shape == (item.pos.shape[0],)
    assert item.name.startswith("dsgdb9nsd_")
    assert train.elements == ("H", "C", "N", "O")

    # second load: from the cache file only, no parsing
    def no_parse(*args, **kwargs):
        raise AssertionError("source parsed again")

    monkeypatch.setattr(qm9_module, "_read_source", no_parse)
    t0 = time.perf_counter()
    val = QM9Dataset(qm9_gz, "val", **kw)
    test = QM9Dataset(qm9_gz, "test", **kw)
    second = (time.perf_counter() - t0) / 2
    assert second < first / 2, (first, second)
    assert (len(val), len(test)) == (300, 700)
    names = [set(d.names) for d in (train, val, test)]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    assert len(list(tmp_path.glob("qm9_*.pt"))) == 1

    hist = train.atom_count_histogram()
    assert sum(hist.values()) == 2000 and list(hist) == sorted(hist) and min(hist) >= 3


def test_molecule_matches_source_and_smiles(qm9_gz: Path, tmp_path: Path):
    ds = QM9Dataset(qm9_gz, "all", max_molecules=20, cache_dir=tmp_path)
    pos, el = ds.molecule(0)
    assert ds[0].name == "dsgdb9nsd_000001" and el.tolist() == ["C", "H", "H", "H", "H"]
    assert pos[0, 1] == pytest.approx(1.085804)
    smiles = ds.smiles_set()
    assert "[H]C([H])([H])[H]" in smiles and len(smiles) <= 20
    assert ds.cache_path.with_suffix(".smiles.txt").is_file()
    assert ds.smiles_set() == smiles  # read back from disk


def test_folder_of_original_qm9_files(tmp_path: Path):
    folder = tmp_path / "xyz"
    folder.mkdir()
    (folder / "dsgdb9nsd_000003.xyz").write_text(QM9_FILE_3)
    (folder / "dsgdb9nsd_000001.xyz").write_text(QM9_FILE_1)
    ds = QM9Dataset(folder, "all", cache_dir=tmp_path / "cache")
    assert [ds[i].name for i in range(len(ds))] == ["dsgdb9nsd_000001", "dsgdb9nsd_000003"]
    assert ds[1].atom_types.tolist() == [3, 0, 0]  # O H H in (H, C, N, O)
    assert ds.atom_count_histogram() == {3: 1, 5: 1}
    # a changed file in the folder is a new cache entry
    before = set((tmp_path / "cache").glob("qm9_*.pt"))
    (folder / "dsgdb9nsd_000003.xyz").write_text(QM9_FILE_3.replace("-0.0343604951", "-0.0343604000"))
    os.utime(folder / "dsgdb9nsd_000003.xyz", ns=(1, 1))
    QM9Dataset(folder, "all", cache_dir=tmp_path / "cache")
    assert len(set((tmp_path / "cache").glob("qm9_*.pt")) - before) == 1


def _write_sdf(path: Path, smiles: list[str]) -> None:
    writer = Chem.SDWriter(str(path))
    for k, smi in enumerate(smiles):
        mol = Chem.AddHs(Chem.MolFromSmiles(smi))
        AllChem.EmbedMolecule(mol, randomSeed=k)
        mol.SetProp("_Name", f"gdb_{k + 1}")
        writer.write(mol)
    writer.close()


def test_sdf_source_keeps_hydrogens_and_checks_vocabulary(tmp_path: Path):
    sdf = tmp_path / "gdb9_small.sdf"
    _write_sdf(sdf, ["C", "N", "O", "CO", "CF"])
    with pytest.raises(MolgenInputError, match=r"gdb9_small\.sdf: molecule gdb_5 has element\(s\) F"):
        QM9Dataset(sdf, "all", cache_dir=tmp_path)
    ds = QM9Dataset(sdf, "all", cache_dir=tmp_path, skip_unknown_elements=True)
    assert len(ds) == 4 and ds[0].name == "gdb_1" and ds[0].pos.shape == (5, 3)
    assert ds[3].atom_types.tolist().count(0) == 4  # CH3OH: four explicit hydrogens
    ds_f = QM9Dataset(sdf, "all", cache_dir=tmp_path, elements=("H", "C", "N", "O", "F"))
    assert len(ds_f) == 5 and 4 in ds_f[4].atom_types.tolist()


def test_bad_inputs(tmp_path: Path):
    with pytest.raises(MolgenInputError, match="no such file"):
        QM9Dataset(tmp_path / "absent.xyz.gz", cache_dir=tmp_path)
    bad = tmp_path / "bad.xyz"
    bad.write_text("2\nmol\nC 0 0 0\n")
    with pytest.raises(MolgenInputError, match="bad.xyz"):
        cache_qm9(bad, cache_dir=tmp_path)
    good = tmp_path / "good.xyz"
    good.write_text("1\nm\nC 0 0 0\n")
    with pytest.raises(MolgenInputError, match="split="):
        QM9Dataset(good, "training", cache_dir=tmp_path)
    with pytest.raises(MolgenInputError, match="split_sizes"):
        QM9Dataset(good, "train", cache_dir=tmp_path)


@pytest.mark.slow
def test_full_shared_file_default_split(qm9_gz: Path, tmp_path: Path):
    t0 = time.perf_counter()
    train = QM9Dataset(qm9_gz, "train", cache_dir=tmp_path)
    processed = time.perf_counter() - t0
    t0 = time.perf_counter()
    val = QM9Dataset(qm9_gz, "val", cache_dir=tmp_path)
    test = QM9Dataset(qm9_gz, "test", cache_dir=tmp_path)
    loaded = (time.perf_counter() - t0) / 2
    print(f"process+cache {processed:.1f} s, load from cache {loaded:.2f} s")
    assert (len(train), len(val), len(test)) == (100_000, 8_000, 20_744)
    hist = train.atom_count_histogram()
    assert min(hist) == 3 and max(hist) == 29 and sum(hist.values()) == 100_000
    assert loaded < 5.0
