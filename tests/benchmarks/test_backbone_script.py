"""benchmarks/backbone.py: the denoiser-geometry check on natural chains."""

from __future__ import annotations

import numpy as np
import pytest

from molgen.config import REPO_ROOT

RECEPTOR = REPO_ROOT / "data" / "demo" / "SIR3_HUMAN_117_398_0" / "5d7n_D_rec.pdb"


def test_x0_geometry_of_the_bundled_checkpoint(benchmark_script):
    from molgen.checkpoint import load_task
    from molgen.io.chains import clean_chains, read_chains
    from molgen.metrics.backbone import ca_ca_distances

    script = benchmark_script("backbone")
    chain = clean_chains(read_chains(RECEPTOR), min_length=60)[0].backbone[:60]
    rows = script.x0_geometry(load_task(REPO_ROOT / "data" / "checkpoints" / "backbone.pt"), [chain, chain[:40]],
                              [0.001, 0.5])
    assert [r["t"] for r in rows] == [0.001, 0.5]
    natural = np.concatenate([ca_ca_distances(chain), ca_ca_distances(chain[:40])]).mean()
    # almost no noise: the clean estimate keeps the natural chain's geometry
    assert abs(rows[0]["ca_ca"] - natural) < 0.1 and abs(rows[0]["c_n"] - 1.33) < 0.1
    assert np.isfinite(rows[1]["ca_ca"]) and rows[1]["ca_ca"] > 0


def _frame_task():
    from hydra.utils import instantiate

    from molgen.config import compose

    cfg = compose("train", ["experiment=backbone_frames_cpu", "model.hidden=16", "model.n_layers=2",
                            "model.knn=4", "hydra.run.dir=/tmp"])
    return instantiate(cfg.task.module).eval()


def test_x0_geometry_of_a_frame_model(benchmark_script):
    from molgen.io.chains import clean_chains, read_chains

    script = benchmark_script("backbone")
    chain = clean_chains(read_chains(RECEPTOR), min_length=60)[0].backbone[:60]
    rows = script.x0_geometry(_frame_task(), [chain, chain[:40]], [0.001, 0.5])
    assert all(np.isfinite(r["ca_ca"]) and np.isfinite(r["c_n"]) for r in rows)


def test_motif_problems_are_four_helices_and_four_strands(benchmark_script):
    script = benchmark_script("backbone")
    if not script.TS50.is_file():
        pytest.skip(f"{script.TS50} is absent")
    problems = script.motif_problems(script.TS50)
    assert [name.split()[1] for name, _, _ in problems] == ["H"] * 4 + ["E"] * 4
    for _, mask, motif in problems:
        assert 10 <= mask.sum() <= 19 and motif.shape == (mask.sum(), 4, 3) and not mask[:15].any()
