"""Nothing lost: atomic writers, a killed ``molgen sample`` resumed, writes confined to outdir, and
an evaluation tool crashing on one molecule recorded for that molecule only."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "SIR3_HUMAN_117_398_0"
RECEPTOR = DEMO / "5d7n_D_rec.pdb"
LIGAND = DEMO / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"
BATCH_FILE = re.compile(r"^batch_\d{4}\.(sdf|csv)$")


def _mol(smiles: str = "CCO") -> Chem.Mol:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    return Chem.RemoveHs(mol)


def _writers(tmp: Path):
    from molgen.checkpoint import save_checkpoint
    from molgen.io.sdf import write_sdf
    from molgen.io.xyz import XYZMolecule, write_xyz
    from molgen.protein.structure import write_mmcif, write_pdb
    from molgen.io.atomic import write_atomic
    from molgen.io.tables import write_csv_atomic

    class _Task(torch.nn.Module):
        export_config = {"task": {}, "task_name": "x"}

        def checkpoint_extras(self) -> dict:
            return {}

    backbone = np.cumsum(np.full((3, 4, 3), 0.9, dtype=np.float32).reshape(-1, 3), axis=0).reshape(3, 4, 3)
    xyz = XYZMolecule("w", np.array(["O", "H"]), np.zeros((2, 3), dtype=np.float32))
    return {
        "write_sdf": (tmp / "a.sdf", lambda p: write_sdf([_mol()], p)),
        "write_pdb": (tmp / "a.pdb", lambda p: write_pdb(backbone, p)),
        "write_mmcif": (tmp / "a.cif", lambda p: write_mmcif(backbone, p)),
        "write_xyz": (tmp / "a.xyz", lambda p: write_xyz([xyz], p)),
        "samples_csv": (tmp / "samples.csv", lambda p: write_csv_atomic(pd.DataFrame({"a": [1]}), p)),
        "save_checkpoint": (tmp / "model.pt", lambda p: save_checkpoint(_Task(), p)),
        "write_atomic": (tmp / "summary.md", lambda p: write_atomic(p, "| a |\n")),
    }


WRITERS = ["write_sdf", "write_pdb", "write_mmcif", "write_xyz", "samples_csv", "save_checkpoint", "write_atomic"]


@pytest.mark.parametrize("writer", WRITERS)
def test_writer_failing_at_the_end_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch,
                                                                writer: str) -> None:
    path, write = _writers(tmp_path)[writer]
    path.write_bytes(b"previous results\n")

    def boom(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        write(path)
    assert path.read_bytes() == b"previous results\n", "the old file is untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "no temporary file left behind"
    monkeypatch.undo()
    write(path)
    assert path.read_bytes() != b"previous results\n"


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
@pytest.mark.parametrize("writer", WRITERS)
def test_written_file_gets_the_mode_the_umask_gives(tmp_path: Path, writer: str, umask: int) -> None:
    """Not mkstemp's 0600: a colleague in a shared folder can read the results (0644 under 022)."""
    path, write = _writers(tmp_path)[writer]
    old = os.umask(umask)
    try:
        write(path)
        path.chmod(0o600)  # an existing file is replaced by a new one: the umask decides again
        write(path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def _batch_files(batches: Path) -> list[Path]:
    return sorted(batches.iterdir()) if batches.is_dir() else []


def _assert_only_complete_batches(batches: Path) -> set[int]:
    """Every result-looking file is a complete batch file; temporary files are hidden ``.tmp``."""
    done = set()
    for f in _batch_files(batches):
        if f.name.startswith("."):
            assert f.name.endswith(".tmp"), f"unexpected hidden file {f.name}"
            continue
        assert BATCH_FILE.match(f.name), f"unexpected file {f.name}"
        if f.suffix == ".sdf":
            text = f.read_text()
            n_records = text.count("$$$$")
            assert n_records == 0 or text.rstrip().endswith("$$$$"), f"{f.name} is cut short"
            assert all(m is not None for m in Chem.SDMolSupplier(str(f), sanitize=False))
        else:
            table = pd.read_csv(f)
            assert len(table) >= 1 and (batches / f.name.replace(".csv", ".sdf")).exists()
            done.add(int(f.stem.split("_")[1]))
    return done


def test_crash_mid_run_keeps_finished_batches_and_resume_completes(make_tiny_task, demo_pocket, tmp_path,
                                                                    monkeypatch) -> None:
    """In-process analogue of the SIGKILL test below (which is slow): a crash in batch 2."""
    from molgen.sampling import SamplingJob, run_ligand_sampling

    task = make_tiny_task()
    generate, calls = task.generate, []

    def crashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("out of memory (simulated)")
        return generate(*args, **kwargs)

    monkeypatch.setattr(task, "generate", crashing)
    job = dict(outdir=tmp_path, n_samples=8, batch_size=2, n_atoms=(5, 6), steps=2, seed=3)
    with pytest.raises(RuntimeError, match="simulated"):
        run_ligand_sampling(task, demo_pocket, SamplingJob(**job))
    batches = tmp_path / "batches"
    assert _assert_only_complete_batches(batches) == {0, 1}
    before = {b: (batches / f"batch_{b:04d}.sdf").read_bytes() for b in (0, 1)}
    (batches / ".batch_0002.sdf.x1.tmp").write_text("half a batch")  # what a SIGKILL mid-write leaves
    monkeypatch.setattr(task, "generate", generate)
    table = run_ligand_sampling(task, demo_pocket, SamplingJob(**job, resume=True))
    assert sorted(table["sample"]) == list(range(8))
    assert {b: (batches / f"batch_{b:04d}.sdf").read_bytes() for b in (0, 1)} == before
    assert not list(batches.glob(".*.tmp"))
    supplier = Chem.SDMolSupplier(str(tmp_path / "ligands.sdf"), sanitize=False)
    ids = [int(m.GetProp("sample")) for m in supplier]
    assert len(ids) == len(set(ids)) == int(table["valid"].sum())


@pytest.mark.slow
def test_killed_sample_run_resumes_to_exactly_n_samples(molgen_popen, tiny_checkpoint,
                                                         tmp_path: Path) -> None:
    """SIGKILL ``molgen sample`` after its first batch; only complete batch files remain; ``resume=true``
    skips them and ends with exactly ``n_samples`` rows, no duplicate ids. A relative outdir lands
    under the working folder and nothing is written anywhere else."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    n = 24
    args = ("sample", f"ckpt={tiny_checkpoint}", f"n_samples={n}", "batch_size=1", "steps=40", "n_atoms=6",
            "outdir=run/out", "threads=1", "device=cpu")
    proc = molgen_popen(*args, cwd=cwd)
    batches = cwd / "run" / "out" / "batches"
    deadline = time.monotonic() + 300
    while not (batches / "batch_0000.csv").exists():
        assert proc.poll() is None, f"molgen sample ended early:\n{proc.communicate()[1][-3000:]}"
        assert time.monotonic() < deadline, "no batch written in 300 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done = _assert_only_complete_batches(batches)
    assert 1 <= len(done) < n, f"kill came too late to test resuming ({len(done)} batches done)"
    assert not (cwd / "run" / "out" / "samples.csv").exists()
    before = {b: (batches / f"batch_{b:04d}.csv").read_bytes() for b in done}

    proc = molgen_popen(*args, "resume=true", cwd=cwd)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    assert {b: (batches / f"batch_{b:04d}.csv").read_bytes() for b in done} == before, "finished batches kept"
    assert not [f.name for f in _batch_files(batches) if f.name.endswith(".tmp")], "stale temp files removed"
    table = pd.read_csv(cwd / "run" / "out" / "samples.csv")
    assert len(table) == n and sorted(table["sample"]) == list(range(n))
    ids = [int(m.GetProp("sample")) for m in Chem.SDMolSupplier(str(cwd / "run" / "out" / "ligands.sdf"),
                                                                   sanitize=False)]
    assert len(ids) == len(set(ids)) == int(table["valid"].sum())
    assert sorted(p.name for p in cwd.iterdir()) == ["run"], "nothing written outside outdir"
    assert {p.name for p in (cwd / "run" / "out").iterdir()} <= {
        ".hydra", "sample.log", "batches", "ligands.sdf", "samples.csv", "summary.md"}
    assert sorted(p.name for p in tiny_checkpoint.parent.iterdir()) == [tiny_checkpoint.name]


def test_evaluation_tool_crash_is_recorded_for_that_molecule(monkeypatch) -> None:
    import molgen.chem.properties as properties
    import molgen.metrics.pocket as pocket
    from molgen.evaluate import evaluate

    mols = [Chem.MolFromMolFile(str(LIGAND)), _mol("CCO"), _mol("c1ccncc1")]
    real_clashes, real_props = pocket.count_clashes, properties.compute_properties

    def clashes(pos, elements, *args, **kw):
        if len(elements) == 3:
            raise RuntimeError("clash tool crashed (simulated)")
        return real_clashes(pos, elements, *args, **kw)

    def props(mol):
        if mol.GetNumAtoms() == 6:
            raise ValueError("property tool crashed (simulated)")
        return real_props(mol)

    monkeypatch.setattr(pocket, "count_clashes", clashes)
    monkeypatch.setattr(properties, "compute_properties", props)
    df = evaluate(mols, RECEPTOR, n_jobs=1, vina=False, posebusters=False, strain=False, progress=False)
    assert len(df) == 3 and df["valid"].astype(bool).all()
    errors = df["error"].fillna("").tolist()
    assert errors[0] == ""
    assert errors[1] == "clashes: RuntimeError: clash tool crashed (simulated)"
    assert errors[2] == "properties: ValueError: property tool crashed (simulated)"
    assert df.loc[0, "qed"] > 0 and df.loc[2, "clashes"] >= 0 and df.loc[1, "qed"] > 0


def test_batch_without_any_valid_molecule_merges(make_tiny_task, demo_pocket, tmp_path, monkeypatch) -> None:
    """A batch whose samples all fail to decode writes an empty SD file; the merge keeps its rows."""
    import molgen.sampling as sampling
    from molgen.sampling import SamplingJob, run_ligand_sampling

    decode = sampling._decode_batch

    def nothing_valid(generated, start, *args, **kwargs):
        mols, rows = decode(generated, start, *args, **kwargs)
        return ([], [{**r, "valid": False} for r in rows]) if start == 0 else (mols, rows)

    monkeypatch.setattr(sampling, "_decode_batch", nothing_valid)
    table = run_ligand_sampling(make_tiny_task(), demo_pocket,
                                SamplingJob(outdir=tmp_path, n_samples=4, batch_size=2, n_atoms=(5, 6), steps=2, seed=3))
    assert (tmp_path / "batches" / "batch_0000.sdf").stat().st_size == 0
    assert sorted(table["sample"]) == [0, 1, 2, 3] and not table["valid"].iloc[:2].any()
