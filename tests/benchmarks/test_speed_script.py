"""benchmarks/speed.py runs end to end on tiny settings and prints every table it promises."""

from __future__ import annotations



def test_speed_quick_tiny(benchmark_script, capsys):
    speed = benchmark_script("speed")
    speed.main(["--quick", "threads=1", "batches=[1,2]", "joint_max_batch=2", "train_batch=1",
                "pocket_sizes=[200]", "ligand_sizes=[10]", "flops_batch=2", "bf16=true", "end_to_end.n=2", "bond_aware.batches=[2]",
                "end_to_end.steps=2"])
    out = capsys.readouterr().out
    for heading in ("Denoising step", "Training step", "Bond-aware denoiser", "Scaling", "Hardware use", "End to end"):
        assert heading in out
    rows = [line for line in out.splitlines() if line.startswith("| default")]
    assert len(rows) == 2 + 2 + 1 + 2  # two step rows, fp32 and bf16 training rows, one bf16 step row,
    # one bond-aware step row and one bond-aware training row
    assert "GFLOP/s" in out and "peak RSS" in out
