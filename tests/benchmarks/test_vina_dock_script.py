"""benchmarks/vina_dock_reference.py: resumable docking of reference ligands, the agreement table."""

from __future__ import annotations

import os
import shutil

import pandas as pd

from molgen.config import REPO_ROOT

DEMO = REPO_ROOT / "data" / "demo"


def _demo_layout(data) -> str:
    """The demo complex laid out like ../shared/data under ``data``; returns its ligand filename."""
    shutil.copytree(DEMO / "SIR3_HUMAN_117_398_0", data / "crossdocked_test" / "SIR3_HUMAN_117_398_0")
    shutil.copy(DEMO / "ligand_filenames.txt", data / "crossdocked_test" / "ligand_filenames.txt")
    name = (DEMO / "ligand_filenames.txt").read_text().split()[0]
    (data / "reference").mkdir()
    pd.DataFrame({"ligand_filename": [name], "smiles": ["C"], "vina_score": [-7.0], "vina_min": [-7.2],
                  "vina_dock": [-8.0], "qed": [0.5], "sa": [0.7]}).to_csv(
        data / "reference" / "crossdocked_test_reference.csv", index=False)
    return name


def test_agreement_rows(benchmark_script):
    script = benchmark_script("vina_dock_reference")
    done = pd.DataFrame({"ligand_filename": ["a", "b", "c"], "vina_dock": [-8.0, -6.0, float("nan")],
                         "vina_score": [-7.0, -5.0, -4.0], "vina_minimize": [-7.5, -5.5, -4.5]})
    published = pd.DataFrame({"ligand_filename": ["a", "b", "c", "d"], "vina_dock": [-8.2, -7.0, -5.0, -9.0],
                              "vina_score": [-7.0, -5.0, -4.0, -3.0], "vina_min": [-7.5, -5.5, -3.9, -3.0]})
    rows = script.agreement(done.set_index("ligand_filename"), published.set_index("ligand_filename"))
    assert rows[2] == "| vina_dock | 2 | -7.000 / -7.000 | -7.600 / -7.600 | 0.600 | 1 / 2 |"
    assert rows[3] == "| vina_score | 3 | -5.333 / -5.000 | -5.333 / -5.000 | 0.000 | 3 / 3 |"
    assert rows[4] == "| vina_minimize | 3 | -5.833 / -5.500 | -5.633 / -5.500 | 0.000 | 2 / 3 |"


def test_docks_appends_and_resumes(benchmark_script, tmp_path, capsys):
    """One demo complex laid out like ../shared/data: docked once, kept, not redone on a rerun."""
    script = benchmark_script("vina_dock_reference")
    data = tmp_path / "data"
    name = _demo_layout(data)
    args = ["--data", str(data), "--out", str(tmp_path / "out"), "--exhaustiveness", "1"]
    script.main(args)
    first = pd.read_csv(tmp_path / "out" / "dock.csv")
    assert list(first["ligand_filename"]) == [name] and first["vina_dock"].iloc[0] < 0
    assert "| vina_dock | 1 |" in capsys.readouterr().out
    script.main(args)  # resumes: nothing left to dock, the row is the same one
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "dock.csv"), first)


def test_docks_in_worker_processes(tmp_path):
    """``--jobs 2``: ligands docked in a process pool, rows written as they finish."""
    import subprocess
    import sys

    data = tmp_path / "data"
    _demo_layout(data)
    out = tmp_path / "out"
    script = REPO_ROOT / "benchmarks" / "vina_dock_reference.py"
    subprocess.run([sys.executable, str(script), "--data", str(data), "--out", str(out),
                    "--exhaustiveness", "1", "--jobs", "2"], check=True, cwd=tmp_path,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    table = pd.read_csv(out / "dock.csv")
    assert len(table) == 1 and table["vina_dock"].iloc[0] < 0


def test_skip_leaves_out_the_start_of_the_order(benchmark_script, tmp_path, capsys):
    """``--skip K`` docks from the (K+1)-th ligand of the order: the demo's only one is left out."""
    script = benchmark_script("vina_dock_reference")
    data = tmp_path / "data"
    _demo_layout(data)
    script.main(["--data", str(data), "--out", str(tmp_path / "out"), "--skip", "1"])
    assert capsys.readouterr().out.strip() == "nothing docked"
    assert not (tmp_path / "out" / "dock.csv").exists()
