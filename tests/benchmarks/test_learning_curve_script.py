"""benchmarks/learning_curve.py joins runs, adds their hours and plots."""

from __future__ import annotations

import pandas as pd
import pytest


def _metrics(path, hours, steps, stable):
    rows = []
    for h, s, m in zip(hours, steps, stable):
        rows.append({"step": s, "train/loss": 1.0})
        rows.append({"step": s, "val/hours": h, "val/loss": 2.0 - m, "val/mol_stable": m, "val/loss_pos": 0.1})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_curve_of_a_run_and_its_resume(benchmark_script, tmp_path, capsys):
    a = _metrics(tmp_path / "a.csv", [0.5, 1.0], [500, 1000], [0.1, 0.3])
    b = _metrics(tmp_path / "b.csv", [0.5], [500], [0.5])
    mod = benchmark_script("learning_curve")
    curve = mod.read_curve([a, b])
    assert curve["hours"].tolist() == [0.5, 1.0, 1.5] and curve["step"].tolist() == [500, 1000, 1500]
    assert list(curve.columns) == ["hours", "step", "val/loss", "val/mol_stable"]
    mod.main([str(a), str(b), "--png", str(tmp_path / "c.png"), "--csv", str(tmp_path / "c.csv")])
    assert (tmp_path / "c.png").stat().st_size > 0 and len(pd.read_csv(tmp_path / "c.csv")) == 3
    assert "val/mol_stable" in capsys.readouterr().out


def test_a_run_without_the_clock_is_refused(benchmark_script, tmp_path):
    path = tmp_path / "m.csv"
    pd.DataFrame([{"step": 1, "val/loss": 1.0}]).to_csv(path, index=False)
    with pytest.raises(SystemExit, match="val/hours"):
        benchmark_script("learning_curve").read_curve([path])
