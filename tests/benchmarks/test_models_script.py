"""benchmarks/models.py: its pure helpers, its settings, and the timed loss on a tiny EGNN."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from molgen.benchmarking import benchmark_config
from molgen.config import CONFIG_DIR, compose

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench(benchmark_script) -> dict:
    return vars(benchmark_script("models"))


def test_count_parameters_skips_frozen(bench):
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    assert bench["count_parameters"](net) == 8 + 3
    net[1].requires_grad_(False)
    assert bench["count_parameters"](net) == 8


def test_max_time_is_lightning_format(bench):
    assert bench["max_time"](30) == "00:00:00:30"
    assert bench["max_time"](600) == "00:00:10:00"
    assert bench["max_time"](90061) == "01:01:01:01"


def test_format_table_rows_and_missing_values(bench):
    full = {"model": "egnn_small", "params": 214164, "fwd_ms": 1.234, "fwd_bwd_ms": 2.5, "peak_rss_mb": 614.4,
            "step_mb": 84.8, "train_steps": 1234, "atom_stable": 91.23, "mol_stable": 40.0, "valid": 77.77}
    lines = bench["format_table"]([full, {"model": "tfn (failed)"}]).splitlines()
    n_cols = len(bench["COLUMNS"])
    assert lines[0].startswith("| model | params |") and lines[1] == "|" + "---|" * n_cols
    assert lines[2] == "| egnn_small | 214,164 | 1.23 | 2.50 | 614 | 85 | 1,234 | 91.2 | 40.0 | 77.8 |"
    assert lines[3] == "| tfn (failed) |" + " - |" * (n_cols - 1)


@pytest.mark.parametrize("quick", [False, True])
def test_settings_name_existing_models_and_data(bench, quick):
    cfg = benchmark_config("models", quick=quick)
    families = [m.split("_")[0] for m in cfg.models]
    assert families.count("egnn") >= 2 and families.count("tfn") >= 2  # each family at two sizes
    assert all((CONFIG_DIR / "model" / f"{m}.yaml").is_file() for m in cfg.models)
    assert (CONFIG_DIR / "data" / f"{cfg.data}.yaml").is_file()
    train = compose("train", bench["train_overrides"](cfg, "tfn_small") + ["hydra.run.dir=/tmp"])
    assert train.model._target_ == "molgen.nn.tfn.TFN" and train.task.name == "molecule"
    assert train.data.batch_size == cfg.batch_size
    assert train.trainer.max_time == bench["max_time"](cfg.train_seconds)


def test_time_loss_on_a_tiny_egnn(bench):
    from hydra.utils import instantiate
    from torch_geometric.data import Data

    cfg = compose("train", ["task=molecule", "model=egnn_small", "model.hidden=8", "model.n_layers=1",
                            "hydra.run.dir=/tmp"])
    task = instantiate(cfg.task.module)
    mols = [Data(pos=torch.randn(n, 3), atom_types=torch.randint(0, 4, (n,))) for n in (3, 5)]
    graphs = task.unpack(bench["qm9_batch"](mols, 2, seed=0))
    assert graphs.n_graphs == 2 and graphs.pos.shape == (8, 3)
    fwd, fwd_bwd = bench["time_loss"](task, graphs, repeats=1)
    assert 0 < fwd and 0 < fwd_bwd
    assert all(p.grad is None for p in task.net.parameters())
    assert bench["count_parameters"](task.net) == sum(p.numel() for p in task.net.parameters())
