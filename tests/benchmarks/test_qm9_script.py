"""benchmarks/qm9.py on a tiny untrained checkpoint: both stability definitions, every step count."""

from __future__ import annotations

import torch

from molgen.testing import write_untrained_checkpoint

SMALL = ["model.hidden=16", "model.n_layers=1"]


def _with_sizes(path):
    blob = torch.load(path, weights_only=True)
    blob["extras"]["atom_counts"] = {"n": [6, 8], "count": [1, 1]}
    torch.save(blob, path)
    return path


def test_bond_aware_checkpoint_reports_predicted_bonds_and_distances(benchmark_script, tmp_path, capsys):
    ckpt = _with_sizes(write_untrained_checkpoint(
        tmp_path / "b.pt", ["experiment=molecule_bonds_cpu", "model.edge_dim=8", *SMALL]))
    benchmark_script("qm9").main(["--ckpt", str(ckpt), "--n", "4", "--steps", "2", "3", "--threads", "1",
                                  "--source", str(tmp_path / "absent.xyz")])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| **molgen**")]
    assert len(rows) == 4  # (predicted bonds, distances) x (2, 3 steps)
    assert sum("predicted bonds" in r for r in rows) == 2 and sum("distances (EDM)" in r for r in rows) == 2
    assert "| SemlaFlow (Irwin 2024) | bonds |" in out


def test_atoms_only_checkpoint_reports_distances_only(benchmark_script, tmp_path, capsys):
    ckpt = _with_sizes(write_untrained_checkpoint(tmp_path / "a.pt", ["task=molecule", "model=egnn_small", *SMALL]))
    benchmark_script("qm9").main(["--ckpt", str(ckpt), "--n", "3", "--steps", "2", "--threads", "1",
                                  "--sampler", "ddpm", "--source", str(tmp_path / "absent.xyz")])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| **molgen**")]
    assert len(rows) == 1 and "distances (EDM)" in rows[0]
