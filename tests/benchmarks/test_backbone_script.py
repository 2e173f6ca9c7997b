"""benchmarks/backbone.py: the denoiser-geometry check on natural chains."""

from __future__ import annotations

import numpy as np

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
