"""benchmarks/steps.py: the QM9 part end to end on tiny settings, the table and the plot."""

from __future__ import annotations

import pandas as pd


def test_steps_tiny_qm9_table_and_plot(benchmark_script, tmp_path, capsys):
    steps = benchmark_script("steps")
    png = tmp_path / "steps.png"
    assert steps.main(["--quick", "steps=[2,3]", "samplers=[ddim,ode]", "qm9.n=3", "qm9.batch_size=3",
                       "crossdocked.enabled=false", f"outdir={tmp_path}", f"plot={png}"]) == 0
    table = pd.read_csv(tmp_path / "steps.csv")
    assert list(zip(table["sampler"], table["steps"], table["nfe"])) == [
        ("ddim", 2, 2), ("ddim", 3, 3), ("ode", 2, 3), ("ode", 3, 5)]
    assert table[["atom_stable", "mol_stable", "valid"]].apply(lambda c: c.between(0, 1)).all().all()
    out = capsys.readouterr().out
    assert "**QM9**" in out and "| ode | 3 | 5 |" in out
    assert png.stat().st_size > 1000


def test_markdown_formats_both_benchmarks(benchmark_script):
    steps = benchmark_script("steps")
    df = pd.DataFrame([
        {"benchmark": "QM9", "sampler": "ddpm", "steps": 10, "nfe": 10, "atom_stable": 0.5, "mol_stable": 0.1,
         "valid": 0.25, "s_per_sample": 0.01},
        {"benchmark": "CrossDocked", "sampler": "ode", "steps": 10, "nfe": 19, "valid": 1.0, "connected": 0.5,
         "vina_score": -5.25, "vina_min": -6.0, "s_per_sample": 0.2}])
    md = steps.markdown(df)
    assert "| ddpm | 10 | 10 | 50.0 % | 10.0 % | 25.0 % | 0.010 |" in md
    assert "| ode | 10 | 19 | 100.0 % | 50.0 % | -5.25 | -6.00 | 0.200 |" in md
